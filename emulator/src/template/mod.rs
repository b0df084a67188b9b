//! CloudFormation and SAM templates: reading them and evaluating their intrinsic functions.
//!
//! A stack is described by a template (YAML or JSON) whose values may be computed: `!Ref Table`
//! is the table's name once it exists, `!Sub "https://${Api}.execute-api.${AWS::Region}…"` a URL
//! built from an API id. This module knows the template language and nothing about provisioning:
//!
//! ```text
//!  text ──parse──▶ Template ──Evaluator::new(parameters, pseudo)──▶ Evaluator
//!                   (resources in                                    │ eval(value, &Context)
//!                    dependency order,                               ▼
//!                    Globals merged,                        plain JSON: what the
//!                    long-form intrinsics)                  provisioner hands a service
//! ```
//!
//! The provisioner walks [`Template::resources`] in order, skips those for which
//! [`Evaluator::include`] is false, evaluates each resource's properties with a [`Context`] that
//! answers `Ref` and `Fn::GetAtt` for the resources it already created, and creates it.
//!
//! - `yaml`: text → JSON, short-form tags (`!Ref`) → long form (`{"Ref": …}`).
//! - `globals`: SAM `Globals` merged into each `AWS::Serverless::*` resource.
//! - `deps`: references between resources, the creation order, unresolved names.
//! - `params`: parameter declarations and the values given for them.
//! - `eval`: conditions and intrinsic functions.
//! - `sub`: the `${…}` syntax of `Fn::Sub`.
//! - `sam`: the resources the SAM transform adds implicitly (a function's role, the implicit APIs).
//! - [`provision`]: creating a template's resources in a running emulator (`resources/`: one
//!   file per service family).
//!
//! Not supported: `Fn::Transform` (macros such as `AWS::Include`), `Fn::ForEach`,
//! `Fn::ImportValue` (there are no other stacks to import from), SSM parameter types, `Rules`,
//! and the SAM transform itself beyond `Globals` and implicit resources (the provisioner
//! handles `AWS::Serverless::*` types directly).

mod deps;
mod error;
mod eval;
mod globals;
mod params;
pub mod provision;
mod resources;
pub mod sam;
mod sub;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

pub use error::TemplateError;
pub use eval::{Context, Evaluator, Pseudo};
pub use params::Parameter;

use error::bracket_list;

/// A parsed template. Values are JSON with intrinsic functions in their long form
/// (`{"Ref": "X"}`, `{"Fn::Sub": …}`), not yet evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub description: Option<String>,
    /// Transforms declared by the template, e.g. `["AWS::Serverless-2016-10-31"]`.
    pub transform: Vec<String>,
    /// In template order.
    pub parameters: Vec<Parameter>,
    pub mappings: Map<String, Value>,
    /// Condition name → its (long-form) expression.
    pub conditions: Map<String, Value>,
    /// In dependency order: every resource comes after the resources it refers to.
    pub resources: Vec<Resource>,
    /// In template order.
    pub outputs: Vec<Output>,
    /// The template's top-level `Metadata`, `Null` when absent.
    pub metadata: Value,
}

/// One entry of `Resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    /// The resource type, e.g. `AWS::DynamoDB::Table`.
    pub kind: String,
    /// An object (empty when the template has none), with SAM `Globals` already merged in.
    pub properties: Value,
    /// The condition that decides whether the resource exists.
    pub condition: Option<String>,
    /// The explicit `DependsOn` names.
    pub depends_on: Vec<String>,
    /// The resource's `Metadata`, `Null` when absent.
    pub metadata: Value,
}

/// One entry of `Outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    /// The unevaluated `Value`.
    pub value: Value,
    pub description: Option<String>,
    pub condition: Option<String>,
    /// The unevaluated `Export.Name`, if any.
    pub export_name: Option<Value>,
}

impl Template {
    /// The resource with this logical id.
    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// Whether the template declares the SAM transform.
    pub fn is_sam(&self) -> bool {
        self.transform.iter().any(|t| t.starts_with("AWS::Serverless"))
    }
}

/// Reads a template, YAML or JSON.
///
/// Checks what CloudFormation checks before creating anything: the sections, each resource's
/// shape, that every referenced resource, parameter and condition exists, and that resources
/// have no circular dependency.
pub fn parse(text: &str) -> Result<Template, TemplateError> {
    let root = yaml::load(text)?;
    let mut template = Template {
        description: None,
        transform: Vec::new(),
        parameters: Vec::new(),
        mappings: Map::new(),
        conditions: Map::new(),
        resources: Vec::new(),
        outputs: Vec::new(),
        metadata: Value::Null,
    };
    let mut globals = Value::Null;
    let mut has_resources = false;
    let mut invalid = Vec::new();
    for (key, value) in root {
        let key = yaml::key_string(&key, "")?;
        match key.as_str() {
            "AWSTemplateFormatVersion" => {}
            "Description" => template.description = Some(scalar_string(&yaml::to_json(value, &key)?, &key)?),
            "Metadata" => template.metadata = yaml::to_json(value, &key)?,
            "Transform" => template.transform = transform(yaml::to_json(value, &key)?)?,
            "Parameters" => {
                for (name, body) in entries(value, &key)? {
                    template.parameters.push(params::declaration(name, body)?);
                }
            }
            "Mappings" => template.mappings = object(yaml::to_json(value, &key)?, &key)?,
            "Conditions" => template.conditions = object(yaml::to_json(value, &key)?, &key)?,
            "Resources" => {
                has_resources = true;
                for (name, body) in entries(value, &key)? {
                    template.resources.push(resource(name, body)?);
                }
            }
            "Outputs" => {
                for (name, body) in entries(value, &key)? {
                    template.outputs.push(output(name, body)?);
                }
            }
            "Globals" => globals = yaml::to_json(value, &key)?,
            // Rules only constrain parameter values at deploy time; not enforced here.
            "Rules" => {}
            _ => invalid.push(key),
        }
    }
    if !invalid.is_empty() {
        return Err(TemplateError::format(format!(
            "Invalid template property or properties {}",
            bracket_list(&invalid)
        )));
    }
    if !has_resources || template.resources.is_empty() {
        return Err(TemplateError::format("At least one Resources member must be defined."));
    }
    globals::apply(globals.clone(), &mut template.resources)?;
    // SAM's implicit resources (a function's role, the implicit APIs) get the API globals too.
    let implicit = sam::add_implicit(&mut template.resources);
    globals::apply(globals, &mut template.resources[..implicit])?;
    check_names(&template)?;
    check_references(&template)?;
    let parameters: BTreeSet<&str> = template.parameters.iter().map(|p| p.name.as_str()).collect();
    let resources = std::mem::take(&mut template.resources);
    template.resources = deps::sort(resources, &parameters)?;
    Ok(template)
}

/// The entries of a section that must be a mapping (`Resources`, `Parameters`, `Outputs`), in
/// template order, each value converted to JSON.
fn entries(section: Yaml, name: &str) -> Result<Vec<(String, Value)>, TemplateError> {
    match section {
        Yaml::Mapping(map) => map
            .into_iter()
            .map(|(key, value)| {
                let key = yaml::key_string(&key, name)?;
                let value = yaml::to_json(value, &format!("{name}/{key}"))?;
                Ok((key, value))
            })
            .collect(),
        Yaml::Null => Ok(Vec::new()),
        _ => Err(TemplateError::format(format!("The {name} section must be a mapping"))),
    }
}

fn object(value: Value, name: &str) -> Result<Map<String, Value>, TemplateError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(TemplateError::format(format!("The {name} section must be a mapping"))),
    }
}

/// A string, number or boolean as text (CloudFormation accepts `Default: 5` for a string).
pub(crate) fn scalar_string(value: &Value, what: &str) -> Result<String, TemplateError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(TemplateError::format(format!("{what} must be a string"))),
    }
}

fn transform(value: Value) -> Result<Vec<String>, TemplateError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items.iter().map(|i| scalar_string(i, "Every Transform member")).collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(TemplateError::format("Transform must be a string or a list of strings")),
    }
}

fn resource(logical_id: String, body: Value) -> Result<Resource, TemplateError> {
    let Value::Object(mut body) = body else {
        return Err(TemplateError::format(format!(
            "[/Resources/{logical_id}] Every Resources object must be a mapping"
        )));
    };
    let kind = match body.remove("Type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(TemplateError::format(format!("[/Resources/{logical_id}/Type] Type must be a string"))),
        None => {
            return Err(TemplateError::format(format!(
                "[/Resources/{logical_id}] Every Resources object must contain a Type member."
            )));
        }
    };
    let properties = match body.remove("Properties") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(properties @ Value::Object(_)) => properties,
        Some(_) => {
            return Err(TemplateError::format(format!(
                "[/Resources/{logical_id}/Properties] Properties must be a mapping"
            )));
        }
    };
    let condition = match body.remove("Condition") {
        None => None,
        Some(c) => Some(scalar_string(&c, &format!("[/Resources/{logical_id}/Condition] Condition"))?),
    };
    let depends_on = match body.remove("DependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) => vec![one],
        Some(Value::Array(many)) => many
            .iter()
            .map(|d| scalar_string(d, &format!("[/Resources/{logical_id}/DependsOn] Every DependsOn value")))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(TemplateError::format(format!(
                "[/Resources/{logical_id}/DependsOn] DependsOn must be a string or a list of strings"
            )));
        }
    };
    let metadata = body.remove("Metadata").unwrap_or(Value::Null);
    const ATTRIBUTES: &[&str] = &["DeletionPolicy", "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy", "Version"];
    if let Some(unknown) = body.keys().find(|k| !ATTRIBUTES.contains(&k.as_str())) {
        return Err(TemplateError::format(format!("Invalid template resource property '{unknown}'")));
    }
    Ok(Resource { logical_id, kind, properties, condition, depends_on, metadata })
}

fn output(name: String, body: Value) -> Result<Output, TemplateError> {
    let Value::Object(mut body) = body else {
        return Err(TemplateError::format(format!("[/Outputs/{name}] Every Outputs member must be a mapping")));
    };
    let Some(value) = body.remove("Value") else {
        return Err(TemplateError::format(format!(
            "[/Outputs/{name}] Every Outputs member must contain a Value object"
        )));
    };
    let description = match body.remove("Description") {
        None => None,
        Some(d) => Some(scalar_string(&d, &format!("[/Outputs/{name}/Description] Description"))?),
    };
    let condition = match body.remove("Condition") {
        None => None,
        Some(c) => Some(scalar_string(&c, &format!("[/Outputs/{name}/Condition] Condition"))?),
    };
    let export_name = match body.remove("Export") {
        None => None,
        Some(Value::Object(mut export)) => match export.remove("Name") {
            Some(name) => Some(name),
            None => return Err(TemplateError::format(format!("[/Outputs/{name}/Export] Export must contain a Name"))),
        },
        Some(_) => return Err(TemplateError::format(format!("[/Outputs/{name}/Export] Export must be a mapping"))),
    };
    if let Some(unknown) = body.keys().next() {
        return Err(TemplateError::format(format!("Invalid template output property '{unknown}'")));
    }
    Ok(Output { name, value, description, condition, export_name })
}

/// Logical ids are alphanumeric, and unique across parameters and resources.
fn check_names(template: &Template) -> Result<(), TemplateError> {
    let alphanumeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    for resource in &template.resources {
        if !alphanumeric(&resource.logical_id) {
            return Err(TemplateError::format(format!("Resource name {} is non alphanumeric.", resource.logical_id)));
        }
    }
    for parameter in &template.parameters {
        if !alphanumeric(&parameter.name) {
            return Err(TemplateError::format(format!("Parameter name {} is non alphanumeric.", parameter.name)));
        }
        if template.resource(&parameter.name).is_some() {
            return Err(TemplateError::format(format!(
                "Parameter and resource names must be unique: {} is both",
                parameter.name
            )));
        }
    }
    Ok(())
}

/// Conditions, outputs and `Fn::If` name things that exist; conditions name no resources.
/// (References between resources are checked by the dependency sort.)
fn check_references(template: &Template) -> Result<(), TemplateError> {
    let resources: BTreeSet<&str> = template.resources.iter().map(|r| r.logical_id.as_str()).collect();
    let parameters: BTreeSet<&str> = template.parameters.iter().map(|p| p.name.as_str()).collect();
    let names = deps::Names { resources: &resources, parameters: &parameters };

    let mut in_conditions = deps::Refs::default();
    for expression in template.conditions.values() {
        deps::scan(expression, &names, &mut in_conditions);
    }
    let mut bad = in_conditions.resources;
    bad.extend(in_conditions.unresolved);
    if !bad.is_empty() {
        return Err(TemplateError::format(format!(
            "Unresolved dependencies {}. Cannot reference resources in the Conditions block of the template",
            bracket_list(&bad)
        )));
    }

    let mut in_outputs = deps::Refs::default();
    for output in &template.outputs {
        deps::scan(&output.value, &names, &mut in_outputs);
        if let Some(export) = &output.export_name {
            deps::scan(export, &names, &mut in_outputs);
        }
    }
    if !in_outputs.unresolved.is_empty() {
        return Err(TemplateError::format(format!(
            "Unresolved resource dependencies {} in the Outputs block of the template",
            bracket_list(&in_outputs.unresolved)
        )));
    }

    let mut in_resources = deps::Refs::default();
    for resource in &template.resources {
        deps::scan(&resource.properties, &names, &mut in_resources);
    }
    let declared = |name: &String| template.conditions.contains_key(name);
    let used = template.resources.iter().filter_map(|r| r.condition.as_ref());
    let used = used.chain(template.outputs.iter().filter_map(|o| o.condition.as_ref()));
    let used = used.chain(in_resources.if_conditions.iter()).chain(in_outputs.if_conditions.iter());
    let mut missing: Vec<&String> = Vec::new();
    for name in used.filter(|n| !declared(n)) {
        if !missing.contains(&name) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(TemplateError::format(format!("Unresolved condition dependencies {}", bracket_list(&missing))));
    }
    Ok(())
}
