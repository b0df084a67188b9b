//! Evaluating conditions and intrinsic functions.
//!
//! An [`Evaluator`] holds what is fixed for one deployment — parameter values, pseudo parameters,
//! the outcome of each condition — and turns a template value into plain JSON. What changes as
//! the stack is created, the physical ids and attributes of resources, comes from the
//! provisioner through a [`Context`] at each call.
//!
//! Functions are evaluated inside out, as CloudFormation does: the arguments first, then the
//! function. `Fn::If` evaluates only the branch its condition selects, so the other branch may
//! name resources that do not exist. `Ref AWS::NoValue` (usually from an `Fn::If`) removes the
//! property or list item that holds it.
//!
//! Conditions are evaluated when first needed and remembered; a condition that (through
//! others) depends on itself is an error, not an endless loop.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::{TemplateError, bracket_list};
use super::{Output, Resource, Template, params, sub};

/// What the provisioner knows about the resources it has created.
pub trait Context {
    /// What `Ref` returns for the resource (its physical id, name or ARN), once it exists.
    fn resource_ref(&self, logical_id: &str) -> Option<Value>;
    /// The value of `Fn::GetAtt [logical_id, attr]`, once the resource exists.
    fn resource_attr(&self, logical_id: &str, attr: &str) -> Option<Value>;
}

/// The context of the `Conditions` section, where resources cannot be named.
struct NoResources;

impl Context for NoResources {
    fn resource_ref(&self, _: &str) -> Option<Value> {
        None
    }

    fn resource_attr(&self, _: &str, _: &str) -> Option<Value> {
        None
    }
}

/// The values of the pseudo parameters (`AWS::Region`, …) for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pseudo {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    /// `aws` (or `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// `amazonaws.com` (or `amazonaws.com.cn`).
    pub url_suffix: String,
}

impl Pseudo {
    /// The pseudo parameters of stack `stack_name`, with the partition and URL suffix of `region`.
    pub fn new(region: &str, account_id: &str, stack_name: &str) -> Self {
        let (partition, url_suffix) = if region.starts_with("cn-") {
            ("aws-cn", "amazonaws.com.cn")
        } else if region.starts_with("us-gov-") {
            ("aws-us-gov", "amazonaws.com")
        } else {
            ("aws", "amazonaws.com")
        };
        Pseudo {
            region: region.into(),
            account_id: account_id.into(),
            stack_name: stack_name.into(),
            partition: partition.into(),
            url_suffix: url_suffix.into(),
        }
    }

    /// `AWS::StackId`: the stack's ARN, whose final UUID is derived from the account, region and
    /// name so that the same stack gets the same id on every run.
    pub fn stack_id(&self) -> String {
        let digest = Sha256::digest(format!("{}:{}:{}", self.account_id, self.region, self.stack_name));
        let h = hex::encode(&digest[..16]);
        format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/{}-{}-{}-{}-{}",
            self.partition,
            self.region,
            self.account_id,
            self.stack_name,
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    fn value(&self, name: &str) -> Option<Value> {
        Some(match name {
            "AWS::Region" => Value::String(self.region.clone()),
            "AWS::AccountId" => Value::String(self.account_id.clone()),
            "AWS::StackName" => Value::String(self.stack_name.clone()),
            "AWS::StackId" => Value::String(self.stack_id()),
            "AWS::Partition" => Value::String(self.partition.clone()),
            "AWS::URLSuffix" => Value::String(self.url_suffix.clone()),
            "AWS::NotificationARNs" => Value::Array(Vec::new()),
            _ => return None,
        })
    }
}

/// Evaluates a template's conditions and intrinsic functions for one deployment.
#[derive(Debug)]
pub struct Evaluator<'t> {
    template: &'t Template,
    parameters: BTreeMap<String, Value>,
    pseudo: Pseudo,
    /// Conditions evaluated so far.
    conditions: Mutex<BTreeMap<String, bool>>,
}

/// The conditions being evaluated, outermost first, to detect cycles.
type Stack = Vec<String>;

impl<'t> Evaluator<'t> {
    /// Fixes the parameter values (`overrides`, else defaults; see [`Parameter`](super::Parameter))
    /// and the pseudo parameters.
    pub fn new(
        template: &'t Template,
        overrides: &BTreeMap<String, String>,
        pseudo: Pseudo,
    ) -> Result<Self, TemplateError> {
        let parameters = params::resolve(&template.parameters, overrides)?;
        Ok(Evaluator { template, parameters, pseudo, conditions: Mutex::new(BTreeMap::new()) })
    }

    pub fn template(&self) -> &'t Template {
        self.template
    }

    pub fn pseudo(&self) -> &Pseudo {
        &self.pseudo
    }

    /// The value `Ref` gives for a parameter: a string, or an array for list types.
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters.get(name)
    }

    /// The value of the named condition.
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        self.condition_in(name, &mut Stack::new())
    }

    /// Whether the resource is part of the stack (its `Condition`, if any, is true).
    pub fn include(&self, resource: &Resource) -> Result<bool, TemplateError> {
        resource.condition.as_deref().map_or(Ok(true), |c| self.condition(c))
    }

    /// Whether the output is part of the stack (its `Condition`, if any, is true).
    pub fn include_output(&self, output: &Output) -> Result<bool, TemplateError> {
        output.condition.as_deref().map_or(Ok(true), |c| self.condition(c))
    }

    /// Evaluates every intrinsic function in `value`. A value that is entirely
    /// `Ref AWS::NoValue` evaluates to `null`.
    pub fn eval(&self, value: &Value, ctx: &dyn Context) -> Result<Value, TemplateError> {
        Ok(self.eval_in(value, ctx, &mut Stack::new())?.unwrap_or(Value::Null))
    }

    fn condition_in(&self, name: &str, stack: &mut Stack) -> Result<bool, TemplateError> {
        if let Some(&known) = self.memo().get(name) {
            return Ok(known);
        }
        if let Some(start) = stack.iter().position(|n| n == name) {
            return Err(TemplateError::format(format!(
                "Circular dependency between conditions: {}",
                bracket_list(&stack[start..])
            )));
        }
        let Some(expression) = self.template.conditions.get(name) else {
            return Err(TemplateError::format(format!("Unresolved condition dependencies [{name}]")));
        };
        stack.push(name.to_string());
        let result = self.condition_expr(expression, stack);
        stack.pop();
        let result = result?;
        self.memo().insert(name.to_string(), result);
        Ok(result)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        // The map is only ever complete entries; a panic elsewhere cannot leave it inconsistent.
        self.conditions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A condition expression: `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Condition`.
    fn condition_expr(&self, expression: &Value, stack: &mut Stack) -> Result<bool, TemplateError> {
        if let Some((function, arg)) = single_entry(expression) {
            match function {
                "Fn::Equals" => {
                    let [a, b] = args::<2>(arg, "Fn::Equals")?;
                    let a = self.eval_in(a, &NoResources, stack)?;
                    let b = self.eval_in(b, &NoResources, stack)?;
                    return Ok(a.as_ref().map(loose) == b.as_ref().map(loose));
                }
                "Fn::And" | "Fn::Or" => {
                    let items = match arg {
                        Value::Array(items) if (1..=10).contains(&items.len()) => items,
                        _ => {
                            return Err(TemplateError::format(format!(
                                "{function} requires a list of 2 to 10 conditions"
                            )));
                        }
                    };
                    let values = items.iter().map(|c| self.condition_expr(c, stack)).collect::<Result<Vec<_>, _>>()?;
                    return Ok(if function == "Fn::And" {
                        values.into_iter().all(|v| v)
                    } else {
                        values.into_iter().any(|v| v)
                    });
                }
                "Fn::Not" => {
                    let [inner] = args::<1>(arg, "Fn::Not")?;
                    return Ok(!self.condition_expr(inner, stack)?);
                }
                "Condition" => {
                    let Value::String(name) = arg else {
                        return Err(TemplateError::format("Every Condition member must be a string."));
                    };
                    return self.condition_in(name, stack);
                }
                _ => {}
            }
        }
        // Anything else (`true`, `Ref` of a "true"/"false" parameter, an `Fn::If`) must give a boolean.
        match self.eval_in(expression, &NoResources, stack)? {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(TemplateError::format(
                "Conditions can only be boolean operations on parameters and other conditions",
            )),
        }
    }

    /// Evaluates `value`; `None` is `AWS::NoValue`.
    fn eval_in(&self, value: &Value, ctx: &dyn Context, stack: &mut Stack) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.eval_in(item, ctx, stack)?);
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(object) => {
                if let Some((key, arg)) = single_entry(value).filter(|(k, _)| *k == "Ref" || k.starts_with("Fn::")) {
                    return self.function(key, arg, ctx, stack);
                }
                let mut out = Map::new();
                for (key, item) in object {
                    if let Some(item) = self.eval_in(item, ctx, stack)? {
                        out.insert(key.clone(), item);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    /// Evaluates a function argument, which may not be `AWS::NoValue`.
    fn operand(
        &self,
        value: &Value,
        ctx: &dyn Context,
        stack: &mut Stack,
        function: &str,
    ) -> Result<Value, TemplateError> {
        self.eval_in(value, ctx, stack)?
            .ok_or_else(|| TemplateError::eval(format!("AWS::NoValue cannot be an argument of {function}")))
    }

    /// An argument that must evaluate to a string (numbers and booleans are taken as text).
    fn string_operand(
        &self,
        value: &Value,
        ctx: &dyn Context,
        stack: &mut Stack,
        function: &str,
    ) -> Result<String, TemplateError> {
        let value = self.operand(value, ctx, stack, function)?;
        text(&value).ok_or_else(|| TemplateError::eval(format!("{function}: expected a string, found {value}")))
    }

    fn function(
        &self,
        name: &str,
        arg: &Value,
        ctx: &dyn Context,
        stack: &mut Stack,
    ) -> Result<Option<Value>, TemplateError> {
        match name {
            // The target is a literal name, so that dependencies can be known before evaluation.
            "Ref" => match arg {
                Value::String(target) => self.reference(target, ctx),
                _ => Err(TemplateError::eval("every Ref object must have a single String value.")),
            },
            "Fn::GetAtt" => {
                let (resource, attr) = match arg {
                    Value::String(dotted) => match dotted.split_once('.') {
                        Some((r, a)) => (r.to_string(), a.to_string()),
                        None => {
                            return Err(TemplateError::eval(format!(
                                "Fn::GetAtt {dotted}: expected Resource.Attribute"
                            )));
                        }
                    },
                    _ => {
                        let [resource, attr] = args::<2>(arg, "Fn::GetAtt")?;
                        let Value::String(resource) = resource else {
                            return Err(TemplateError::eval("Fn::GetAtt requires a literal resource name"));
                        };
                        (resource.clone(), self.string_operand(attr, ctx, stack, name)?)
                    }
                };
                self.attribute(&resource, &attr, ctx).map(Some)
            }
            "Fn::Sub" => self.sub(arg, ctx, stack).map(|s| Some(Value::String(s))),
            "Fn::Join" => {
                let [delimiter, list] = args::<2>(arg, name)?;
                let delimiter = self.string_operand(delimiter, ctx, stack, name)?;
                let items = self.list_operand(list, ctx, stack, name)?;
                let items = items
                    .iter()
                    .map(|i| text(i).ok_or_else(|| TemplateError::eval(format!("Fn::Join: cannot join {i}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::String(items.join(&delimiter))))
            }
            "Fn::If" => {
                let [condition, then, otherwise] = args::<3>(arg, name)?;
                let Value::String(condition) = condition else {
                    return Err(TemplateError::format("Fn::If requires a condition name as its first argument"));
                };
                let branch = if self.condition_in(condition, stack)? { then } else { otherwise };
                self.eval_in(branch, ctx, stack)
            }
            "Fn::Select" => {
                let [index, list] = args::<2>(arg, name)?;
                let index = self.string_operand(index, ctx, stack, name)?;
                let items = self.list_operand(list, ctx, stack, name)?;
                let Ok(i) = index.trim().parse::<usize>() else {
                    return Err(TemplateError::eval(format!(
                        "Fn::Select: index {index} is not a non-negative integer"
                    )));
                };
                match items.into_iter().nth(i) {
                    Some(item) => Ok(Some(item)),
                    None => {
                        Err(TemplateError::eval(format!("Fn::Select cannot select nonexistent value at index {i}")))
                    }
                }
            }
            "Fn::Split" => {
                let [delimiter, source] = args::<2>(arg, name)?;
                let delimiter = self.string_operand(delimiter, ctx, stack, name)?;
                let source = self.string_operand(source, ctx, stack, name)?;
                if delimiter.is_empty() {
                    return Err(TemplateError::eval("Fn::Split: the delimiter cannot be empty"));
                }
                Ok(Some(Value::Array(source.split(&delimiter).map(|s| Value::String(s.into())).collect())))
            }
            "Fn::FindInMap" => self.find_in_map(arg, ctx, stack).map(Some),
            "Fn::Base64" => {
                let plain = self.string_operand(arg, ctx, stack, name)?;
                Ok(Some(Value::String(base64::engine::general_purpose::STANDARD.encode(plain))))
            }
            "Fn::GetAZs" => {
                let region = self.string_operand(arg, ctx, stack, name)?;
                let region = if region.is_empty() { self.pseudo.region.clone() } else { region };
                Ok(Some(Value::Array(["a", "b", "c"].iter().map(|z| Value::String(format!("{region}{z}"))).collect())))
            }
            "Fn::Cidr" => {
                let [block, count, bits] = args::<3>(arg, name)?;
                let block = self.string_operand(block, ctx, stack, name)?;
                let count = self.string_operand(count, ctx, stack, name)?;
                let bits = self.string_operand(bits, ctx, stack, name)?;
                cidr(&block, &count, &bits).map(|subnets| Some(subnets.into_iter().map(Value::String).collect()))
            }
            "Fn::ImportValue" => {
                let export = self.string_operand(arg, ctx, stack, name)?;
                Err(TemplateError::eval(format!(
                    "No export named {export} found. Fn::ImportValue needs another stack's exports, which the emulator does not keep"
                )))
            }
            "Fn::Length" => Ok(Some(Value::from(self.list_operand(arg, ctx, stack, name)?.len()))),
            "Fn::ToJsonString" => {
                let value = self.operand(arg, ctx, stack, name)?;
                let json =
                    serde_json::to_string(&value).map_err(|e| TemplateError::eval(format!("Fn::ToJsonString: {e}")))?;
                Ok(Some(Value::String(json)))
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => Err(TemplateError::format(format!(
                "{name} can only be used in the Conditions section or as the condition of Fn::If"
            ))),
            "Fn::Transform" | "Fn::ForEach" => Err(TemplateError::unsupported(name)),
            _ => Err(TemplateError::format(format!("Encountered unsupported function: {name}"))),
        }
    }

    /// An argument that must evaluate to a list.
    fn list_operand(
        &self,
        value: &Value,
        ctx: &dyn Context,
        stack: &mut Stack,
        function: &str,
    ) -> Result<Vec<Value>, TemplateError> {
        match self.operand(value, ctx, stack, function)? {
            Value::Array(items) => Ok(items),
            other => Err(TemplateError::eval(format!("{function}: expected a list, found {other}"))),
        }
    }

    /// `Ref name`: a pseudo parameter, a parameter, or a resource the context knows.
    fn reference(&self, name: &str, ctx: &dyn Context) -> Result<Option<Value>, TemplateError> {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.pseudo.value(name) {
            return Ok(Some(value));
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        if self.template.resource(name).is_some() {
            return match ctx.resource_ref(name) {
                Some(value) => Ok(Some(value)),
                None => {
                    Err(TemplateError::eval(format!("Unable to resolve Ref {name}: the resource has not been created")))
                }
            };
        }
        Err(TemplateError::format(format!(
            "Unresolved resource dependencies [{name}] in the Resources block of the template"
        )))
    }

    /// `Fn::GetAtt [resource, attr]`.
    fn attribute(&self, resource: &str, attr: &str, ctx: &dyn Context) -> Result<Value, TemplateError> {
        if self.template.resource(resource).is_none() {
            return Err(TemplateError::eval(format!(
                "instance of Fn::GetAtt references undefined resource {resource}"
            )));
        }
        ctx.resource_attr(resource, attr).ok_or_else(|| {
            TemplateError::eval(format!(
                "Unable to resolve Fn::GetAtt {resource}.{attr}: the resource has not been created or has no such attribute"
            ))
        })
    }

    /// `Fn::Sub "…"` or `Fn::Sub ["…", {var: value}]`.
    fn sub(&self, arg: &Value, ctx: &dyn Context, stack: &mut Stack) -> Result<String, TemplateError> {
        let (template, variables) = match arg {
            Value::String(template) => (template.clone(), BTreeMap::new()),
            Value::Array(items) if items.len() == 2 => {
                let template = self.string_operand(&items[0], ctx, stack, "Fn::Sub")?;
                let Value::Object(vars) = &items[1] else {
                    return Err(TemplateError::eval("Fn::Sub: the second argument must be a mapping of variables"));
                };
                let mut variables = BTreeMap::new();
                for (var, value) in vars {
                    variables.insert(var.clone(), self.operand(value, ctx, stack, "Fn::Sub")?);
                }
                (template, variables)
            }
            _ => return Err(TemplateError::eval("Fn::Sub requires a string or a [string, {variables}] list")),
        };
        let mut out = String::with_capacity(template.len());
        for part in sub::parse(&template) {
            let var = match part {
                sub::Part::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                sub::Part::Var(var) => var,
            };
            let value = match variables.get(var) {
                Some(value) => value.clone(),
                None => match var.split_once('.') {
                    Some((resource, attr)) => self.attribute(resource, attr, ctx)?,
                    None => self.reference(var, ctx)?.ok_or_else(|| {
                        TemplateError::eval(format!(
                            "variable {var} in Fn::Sub expression does not resolve to a string"
                        ))
                    })?,
                },
            };
            match text(&value) {
                Some(t) => out.push_str(&t),
                None => {
                    return Err(TemplateError::eval(format!(
                        "variable {var} in Fn::Sub expression does not resolve to a string"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// `Fn::FindInMap [Map, TopKey, SecondKey, {DefaultValue: …}?]`.
    fn find_in_map(&self, arg: &Value, ctx: &dyn Context, stack: &mut Stack) -> Result<Value, TemplateError> {
        let items = match arg {
            Value::Array(items) if items.len() == 3 || items.len() == 4 => items,
            _ => return Err(TemplateError::eval("Fn::FindInMap requires [MapName, TopLevelKey, SecondLevelKey]")),
        };
        let map = self.string_operand(&items[0], ctx, stack, "Fn::FindInMap")?;
        let top = self.string_operand(&items[1], ctx, stack, "Fn::FindInMap")?;
        let second = self.string_operand(&items[2], ctx, stack, "Fn::FindInMap")?;
        let found = self.template.mappings.get(&map).and_then(|m| m.get(&top)).and_then(|t| t.get(&second));
        if let Some(value) = found {
            // Mapping values are literals, but evaluating them costs nothing and is harmless.
            return self.operand(value, ctx, stack, "Fn::FindInMap");
        }
        match items.get(3).and_then(|d| d.get("DefaultValue")) {
            Some(default) => self.operand(default, ctx, stack, "Fn::FindInMap"),
            None => Err(TemplateError::eval(format!("Unable to get mapping for {map}::{top}::{second}"))),
        }
    }
}

/// `{"Key": arg}` → `("Key", arg)`.
fn single_entry(value: &Value) -> Option<(&str, &Value)> {
    match value {
        Value::Object(object) if object.len() == 1 => object.iter().next().map(|(k, v)| (k.as_str(), v)),
        _ => None,
    }
}

/// The `N` arguments of a function that takes exactly `N`.
fn args<'v, const N: usize>(arg: &'v Value, function: &str) -> Result<&'v [Value; N], TemplateError> {
    match arg {
        Value::Array(items) => items.as_slice().try_into().ok(),
        _ => None,
    }
    .ok_or_else(|| TemplateError::eval(format!("{function} requires a list of {N} arguments, found {arg}")))
}

/// A scalar as text; `None` for lists, objects and null.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Fn::Equals` compares text: `!Equals [!Ref Count, 1]` holds when the parameter is "1".
fn loose(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(loose).collect()),
        other => text(other).map(Value::String).unwrap_or_else(|| other.clone()),
    }
}

/// `Fn::Cidr [block, count, bits]`: the first `count` subnets of `block` with `bits` host bits.
fn cidr(block: &str, count: &str, bits: &str) -> Result<Vec<String>, TemplateError> {
    let bad = |why: &str| TemplateError::eval(format!("Fn::Cidr [{block}, {count}, {bits}]: {why}"));
    let (address, prefix) = block.split_once('/').ok_or_else(|| bad("the block must be an address/prefix"))?;
    let address: IpAddr = address.parse().map_err(|_| bad("invalid IP address"))?;
    let (value, width) = match address {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= width).ok_or_else(|| bad("invalid prefix length"))?;
    let count: u32 =
        count.trim().parse().ok().filter(|c| (1..=256).contains(c)).ok_or_else(|| bad("count must be 1 to 256"))?;
    let bits: u32 =
        bits.trim().parse().ok().filter(|b| *b <= width - prefix).ok_or_else(|| bad("too many subnet bits"))?;
    let subnet_prefix = width - bits;
    let room = subnet_prefix - prefix;
    if room < 9 && (1u32 << room) < count {
        return Err(bad("the block is too small for that many subnets"));
    }
    let low = |k: u32| if k >= 128 { u128::MAX } else { (1u128 << k) - 1 };
    let base = value & !low(width - prefix);
    Ok((0..count)
        .map(|i| {
            let subnet = base | u128::from(i).checked_shl(bits).unwrap_or(0);
            let address = match address {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(subnet as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(subnet)),
            };
            format!("{address}/{subnet_prefix}")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parse;
    use super::*;

    /// Resources the fake provisioner has created: `Ref` gives `<id>-physical`, attributes are
    /// `<id>.<attr>`; `Missing` exists in the template but not yet in the stack.
    struct Fake;

    impl Context for Fake {
        fn resource_ref(&self, id: &str) -> Option<Value> {
            (id != "Missing").then(|| json!(format!("{id}-physical")))
        }

        fn resource_attr(&self, id: &str, attr: &str) -> Option<Value> {
            (id != "Missing").then(|| json!(format!("{id}.{attr}")))
        }
    }

    const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
  Size: {Type: Number, Default: 3}
Mappings:
  Sizes:
    dev: {Memory: 128}
    prod: {Memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  SizeIsThree: !Equals [!Ref Size, 3]
  Both: !And [!Condition IsDev, !Condition SizeIsThree]
  Either: !Or [!Condition IsProd, !Equals [!Select [0, !Ref Zones], a]]
  LoopA: !Condition LoopB
  LoopB: !Not [!Condition LoopA]
  FromIf: !If [IsProd, true, false]
Resources:
  Bucket: {Type: AWS::S3::Bucket}
  Missing: {Type: AWS::S3::Bucket}
  ProdOnly: {Type: AWS::S3::Bucket, Condition: IsProd}
"#;

    fn evaluator<'t>(template: &'t Template, overrides: &[(&str, &str)]) -> Evaluator<'t> {
        let overrides = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Evaluator::new(template, &overrides, Pseudo::new("eu-west-1", "123456789012", "chat")).unwrap()
    }

    fn eval_yaml(e: &Evaluator<'_>, yaml: &str) -> Result<Value, TemplateError> {
        let raw = super::super::yaml::to_json(serde_yaml_ng::from_str(yaml).expect(yaml), "").unwrap();
        e.eval(&raw, &Fake)
    }

    #[test]
    fn conditions() {
        let t = parse(TEMPLATE).unwrap();
        let dev = evaluator(&t, &[]);
        assert!(!dev.condition("IsProd").unwrap());
        assert!(dev.condition("IsDev").unwrap());
        assert!(dev.condition("SizeIsThree").unwrap(), "a number parameter equals a YAML number");
        assert!(dev.condition("Both").unwrap());
        assert!(dev.condition("Either").unwrap());
        assert!(!dev.condition("FromIf").unwrap());
        let prod = evaluator(&t, &[("Stage", "prod"), ("Zones", "x,y")]);
        assert!(prod.condition("IsProd").unwrap());
        assert!(!prod.condition("Both").unwrap());
        assert!(prod.condition("Either").unwrap());
        assert!(prod.condition("FromIf").unwrap());
        // Memoised: the same answer again.
        assert!(prod.condition("IsProd").unwrap());
    }

    #[test]
    fn condition_cycles_and_unknown_conditions_are_errors() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        let err = e.condition("LoopA").unwrap_err();
        assert_eq!(err.to_string(), "Template format error: Circular dependency between conditions: [LoopA, LoopB]");
        assert!(matches!(e.condition("Nope"), Err(TemplateError::Format(m)) if m.contains("[Nope]")));
    }

    #[test]
    fn false_conditions_exclude_resources() {
        let t = parse(TEMPLATE).unwrap();
        let included = |e: &Evaluator<'_>| {
            t.resources.iter().filter(|r| e.include(r).unwrap()).map(|r| r.logical_id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(included(&evaluator(&t, &[])), ["Bucket", "Missing"]);
        assert_eq!(included(&evaluator(&t, &[("Stage", "prod")])), ["Bucket", "Missing", "ProdOnly"]);
    }

    #[test]
    fn refs_parameters_pseudo_parameters_and_resources() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        assert_eq!(
            eval_yaml(
                &e,
                "[!Ref Stage, !Ref Zones, !Ref Size, !Ref Bucket, !Ref 'AWS::Region', !Ref 'AWS::AccountId',
                  !Ref 'AWS::StackName', !Ref 'AWS::Partition', !Ref 'AWS::URLSuffix', !Ref 'AWS::NotificationARNs']"
            )
            .unwrap(),
            json!([
                "dev",
                ["a", "b", "c"],
                "3",
                "Bucket-physical",
                "eu-west-1",
                "123456789012",
                "chat",
                "aws",
                "amazonaws.com",
                []
            ])
        );
        let stack_id = eval_yaml(&e, "!Ref AWS::StackId").unwrap();
        let stack_id = stack_id.as_str().unwrap();
        assert!(stack_id.starts_with("arn:aws:cloudformation:eu-west-1:123456789012:stack/chat/"), "{stack_id}");
        assert_eq!(stack_id.rsplit('/').next().unwrap().len(), 36);
        assert_eq!(stack_id, Pseudo::new("eu-west-1", "123456789012", "chat").stack_id(), "stable");
        assert_ne!(stack_id, Pseudo::new("eu-west-1", "123456789012", "other").stack_id());
    }

    #[test]
    fn resources_the_context_does_not_know_are_errors() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        assert!(matches!(eval_yaml(&e, "!Ref Missing"), Err(TemplateError::Eval(m)) if m.contains("Missing")));
        assert!(matches!(eval_yaml(&e, "!GetAtt Missing.Arn"), Err(TemplateError::Eval(m)) if m.contains("Missing")));
        assert!(matches!(eval_yaml(&e, "!Sub '${Missing}'"), Err(TemplateError::Eval(_))));
        assert!(matches!(eval_yaml(&e, "!Ref Ghost"), Err(TemplateError::Format(m)) if m.contains("[Ghost]")));
        assert!(
            matches!(eval_yaml(&e, "!GetAtt Ghost.Arn"), Err(TemplateError::Eval(m)) if m.contains("undefined resource Ghost"))
        );
    }

    #[test]
    fn get_att_forms() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        assert_eq!(eval_yaml(&e, "!GetAtt Bucket.Arn").unwrap(), json!("Bucket.Arn"));
        assert_eq!(eval_yaml(&e, "{'Fn::GetAtt': 'Bucket.Domain.Name'}").unwrap(), json!("Bucket.Domain.Name"));
        assert_eq!(eval_yaml(&e, "!GetAtt [Bucket, !Ref Stage]").unwrap(), json!("Bucket.dev"));
    }

    #[test]
    fn sub() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        assert_eq!(
            eval_yaml(&e, "!Sub 'arn:${AWS::Partition}:s3:::${Bucket}/${Stage}/${Bucket.Arn}/${!Literal}'").unwrap(),
            json!("arn:aws:s3:::Bucket-physical/dev/Bucket.Arn/${Literal}")
        );
        assert_eq!(
            eval_yaml(&e, "!Sub ['${Name}-${Stage}-${N}', {Name: !Join ['-', [a, b]], Stage: shadowed, N: 7}]")
                .unwrap(),
            json!("a-b-shadowed-7")
        );
        assert!(eval_yaml(&e, "!Sub '${Zones}'").is_err(), "a list does not substitute");
        assert!(eval_yaml(&e, "!Sub [a, b, c]").is_err());
    }

    #[test]
    fn list_and_string_functions() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        let cases = [
            ("!Join [', ', [a, 1, true]]", json!("a, 1, true")),
            ("!Join ['', !Ref Zones]", json!("abc")),
            ("!Select [1, !Ref Zones]", json!("b")),
            ("!Select ['2', [x, y, z]]", json!("z")),
            ("!Split [',', 'x,,y']", json!(["x", "", "y"])),
            ("!Select [1, !Split ['/', !Sub '${Stage}/two']]", json!("two")),
            ("!FindInMap [Sizes, !Ref Stage, Memory]", json!(128)),
            ("!FindInMap [Sizes, test, Memory, {DefaultValue: 64}]", json!(64)),
            ("!Base64 'hello'", json!("aGVsbG8=")),
            ("!GetAZs ''", json!(["eu-west-1a", "eu-west-1b", "eu-west-1c"])),
            ("!GetAZs us-east-2", json!(["us-east-2a", "us-east-2b", "us-east-2c"])),
            ("!Length [a, b, !Ref 'AWS::NoValue']", json!(2)),
            ("{Fn::Length: !Ref Zones}", json!(3)),
            ("!ToJsonString {b: [1, !Ref Stage], a: x}", json!(r#"{"a":"x","b":[1,"dev"]}"#)),
            ("!Cidr ['10.0.0.0/16', 3, 8]", json!(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])),
            ("!Cidr ['10.0.5.7/16', 2, '12']", json!(["10.0.0.0/20", "10.0.16.0/20"])),
            ("!Cidr ['fd00::/56', 2, 64]", json!(["fd00::/64", "fd00:0:0:1::/64"])),
        ];
        for (yaml, expected) in cases {
            assert_eq!(eval_yaml(&e, yaml).unwrap(), expected, "{yaml}");
        }
    }

    #[test]
    fn function_errors() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        let errors = [
            "!Select [5, [a]]",
            "!Select [-1, [a]]",
            "!Select [0, notalist]",
            "!Join [',', [[nested]]]",
            "!Join [',']",
            "!Split ['', abc]",
            "!FindInMap [Sizes, test, Memory]",
            "!FindInMap [Nope]",
            "!ImportValue SharedVpc",
            "!Cidr ['10.0.0.0/30', 8, 1]",
            "!Cidr ['10.0.0.0/16', 0, 8]",
            "!Cidr ['nonsense', 1, 8]",
            "!Transform {Name: 'AWS::Include'}",
            "{'Fn::Bogus': 1}",
            "!Equals [a, a]",
            "!If [Undeclared, a, b]",
            "!Ref [not, a, string]",
            "{Ref: !Ref Stage}",
            "{'Fn::GetAtt': [!Ref Stage, Arn]}",
            "!Base64 [x]",
        ];
        for yaml in errors {
            assert!(eval_yaml(&e, yaml).is_err(), "{yaml}");
        }
        assert!(
            matches!(eval_yaml(&e, "!ImportValue SharedVpc"), Err(TemplateError::Eval(m)) if m.contains("SharedVpc"))
        );
    }

    #[test]
    fn no_value_removes_keys_and_list_items() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        let got = eval_yaml(
            &e,
            "
Name: !If [IsProd, prod-bucket, !Ref 'AWS::NoValue']
Kept: !If [IsProd, !Ref 'AWS::NoValue', kept]
Gone: !Ref AWS::NoValue
List: [a, !Ref 'AWS::NoValue', !If [IsProd, x, !Ref 'AWS::NoValue'], b]
Nested: {Inner: !Ref 'AWS::NoValue'}
",
        )
        .unwrap();
        assert_eq!(got, json!({"Kept": "kept", "List": ["a", "b"], "Nested": {}}));
        assert_eq!(eval_yaml(&e, "!Ref AWS::NoValue").unwrap(), Value::Null);
        assert!(eval_yaml(&e, "!Join [',', !Ref 'AWS::NoValue']").is_err());
    }

    #[test]
    fn if_evaluates_only_the_chosen_branch() {
        let t = parse(TEMPLATE).unwrap();
        let e = evaluator(&t, &[]);
        assert_eq!(eval_yaml(&e, "!If [IsProd, !Ref Missing, fine]").unwrap(), json!("fine"));
    }

    #[test]
    fn evaluator_is_shareable_between_threads() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Evaluator<'static>>();
    }

    #[test]
    fn pseudo_partitions() {
        assert_eq!(Pseudo::new("cn-north-1", "1", "s").partition, "aws-cn");
        assert_eq!(Pseudo::new("cn-north-1", "1", "s").url_suffix, "amazonaws.com.cn");
        assert_eq!(Pseudo::new("us-gov-west-1", "1", "s").partition, "aws-us-gov");
        assert_eq!(Pseudo::new("us-east-1", "1", "s").partition, "aws");
    }
}
