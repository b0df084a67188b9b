//! Template parameters: their declarations and the values a deployment gives them.
//!
//! A parameter's value is the one given at deploy time, else its `Default`; a parameter with
//! neither makes the deployment fail, as does a value for a parameter the template does not
//! declare. Values are checked against `AllowedValues`, `MinLength`/`MaxLength` (strings) and
//! `MinValue`/`MaxValue` (numbers). `AllowedPattern` is kept but not checked: the emulator has
//! no regular-expression engine, and a template that deploys to AWS already satisfies it.
//!
//! `Ref` to a `String`, `Number` or AWS-specific type (`AWS::EC2::VPC::Id`, …) gives a string —
//! CloudFormation hands numbers to resources as strings too; to a `CommaDelimitedList` or
//! `List<…>` it gives a JSON array of the comma-separated items, with surrounding whitespace
//! trimmed. `AWS::SSM::Parameter::*` types would need Parameter Store and are not supported.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::{TemplateError, bracket_list};
use super::scalar_string;

/// One entry of `Parameters`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parameter {
    pub name: String,
    /// The declared `Type`: `String`, `Number`, `CommaDelimitedList`, `List<Number>`, …
    pub kind: String,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    /// Kept for the record; not enforced.
    pub allowed_pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub description: Option<String>,
    pub constraint_description: Option<String>,
    pub no_echo: bool,
}

/// How a parameter type behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    String,
    Number,
    StringList,
    NumberList,
    Ssm,
}

impl Parameter {
    /// Whether `Ref` gives a list.
    pub fn is_list(&self) -> bool {
        matches!(shape(&self.kind), Some(Shape::StringList | Shape::NumberList))
    }
}

fn shape(kind: &str) -> Option<Shape> {
    match kind {
        "String" => Some(Shape::String),
        "Number" => Some(Shape::Number),
        "CommaDelimitedList" => Some(Shape::StringList),
        "List<Number>" => Some(Shape::NumberList),
        _ if kind.starts_with("AWS::SSM::Parameter::") => Some(Shape::Ssm),
        _ if kind.starts_with("AWS::") => Some(Shape::String),
        _ if kind.starts_with("List<AWS::") && kind.ends_with('>') => Some(Shape::StringList),
        _ => None,
    }
}

/// Reads the declaration of parameter `name`.
pub(crate) fn declaration(name: String, body: Value) -> Result<Parameter, TemplateError> {
    let at = |field: &str| format!("[/Parameters/{name}/{field}] {field}");
    let Value::Object(body) = body else {
        return Err(TemplateError::format(format!("[/Parameters/{name}] Every Parameters object must be a mapping")));
    };
    let mut parameter = Parameter { name: name.clone(), ..Parameter::default() };
    let mut has_type = false;
    for (key, value) in &body {
        match key.as_str() {
            "Type" => {
                parameter.kind = scalar_string(value, &at("Type"))?;
                has_type = true;
            }
            "Default" => {
                parameter.default = Some(match value {
                    // A list default for a list parameter: its items, comma separated.
                    Value::Array(items) => {
                        items.iter().map(|i| scalar_string(i, &at("Default"))).collect::<Result<Vec<_>, _>>()?.join(",")
                    }
                    other => scalar_string(other, &at("Default"))?,
                })
            }
            "AllowedValues" => {
                let Value::Array(items) = value else {
                    return Err(TemplateError::format(format!("{} must be a list", at("AllowedValues"))));
                };
                parameter.allowed_values =
                    items.iter().map(|i| scalar_string(i, &at("AllowedValues"))).collect::<Result<_, _>>()?;
            }
            "AllowedPattern" => parameter.allowed_pattern = Some(scalar_string(value, &at("AllowedPattern"))?),
            "Description" => parameter.description = Some(scalar_string(value, &at("Description"))?),
            "ConstraintDescription" => {
                parameter.constraint_description = Some(scalar_string(value, &at("ConstraintDescription"))?)
            }
            "NoEcho" => parameter.no_echo = scalar_string(value, &at("NoEcho"))?.eq_ignore_ascii_case("true"),
            "MinLength" => parameter.min_length = Some(parse_number(value, &at("MinLength"))?),
            "MaxLength" => parameter.max_length = Some(parse_number(value, &at("MaxLength"))?),
            "MinValue" => parameter.min_value = Some(parse_number(value, &at("MinValue"))?),
            "MaxValue" => parameter.max_value = Some(parse_number(value, &at("MaxValue"))?),
            _ => return Err(TemplateError::format(format!("Invalid template parameter property '{key}'"))),
        }
    }
    if !has_type {
        return Err(TemplateError::format(format!(
            "[/Parameters/{name}] Every Parameters object must contain a Type member."
        )));
    }
    if shape(&parameter.kind).is_none() {
        return Err(TemplateError::format(format!("Unrecognized parameter type: {}", parameter.kind)));
    }
    Ok(parameter)
}

fn parse_number<T: std::str::FromStr>(value: &Value, what: &str) -> Result<T, TemplateError> {
    scalar_string(value, what)?.trim().parse().map_err(|_| TemplateError::format(format!("{what} must be a number")))
}

/// The value of every parameter, as `Ref` gives it: a JSON string, or an array for list types.
pub(crate) fn resolve(
    parameters: &[Parameter],
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let unknown: Vec<&str> =
        overrides.keys().map(String::as_str).filter(|k| !parameters.iter().any(|p| p.name == *k)).collect();
    if !unknown.is_empty() {
        return Err(TemplateError::validation(format!(
            "Parameters: {} do not exist in the template",
            bracket_list(&unknown)
        )));
    }
    let missing: Vec<&str> = parameters
        .iter()
        .filter(|p| !overrides.contains_key(&p.name) && p.default.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(TemplateError::validation(format!("Parameters: {} must have values", bracket_list(&missing))));
    }
    let mut values = BTreeMap::new();
    for parameter in parameters {
        let raw = overrides.get(&parameter.name).or(parameter.default.as_ref()).expect("checked above");
        values.insert(parameter.name.clone(), value(parameter, raw)?);
    }
    Ok(values)
}

/// Checks `raw` against the declaration and gives the value `Ref` returns.
fn value(parameter: &Parameter, raw: &str) -> Result<Value, TemplateError> {
    let name = &parameter.name;
    let fail = |what: String| {
        let mut message = format!("Parameter '{name}' {what}");
        if let Some(description) = &parameter.constraint_description {
            message.push_str(&format!(" ({description})"));
        }
        TemplateError::validation(message)
    };
    let Some(shape) = shape(&parameter.kind) else {
        return Err(TemplateError::format(format!("Unrecognized parameter type: {}", parameter.kind)));
    };
    let items: Vec<&str> = match shape {
        Shape::Ssm => return Err(TemplateError::unsupported(format!("Parameter type {} ({name})", parameter.kind))),
        Shape::String | Shape::Number => vec![raw],
        Shape::StringList | Shape::NumberList => raw.split(',').map(str::trim).collect(),
    };
    for item in &items {
        if !parameter.allowed_values.is_empty() && !parameter.allowed_values.iter().any(|a| a == item) {
            return Err(fail(format!("must be one of AllowedValues: {}", bracket_list(&parameter.allowed_values))));
        }
        if matches!(shape, Shape::Number | Shape::NumberList) {
            let Some(number) = as_number(item) else {
                return Err(fail("must be a number.".to_string()));
            };
            if let Some(min) = parameter.min_value.filter(|min| number < *min) {
                return Err(fail(format!("must be a number not less than {min}")));
            }
            if let Some(max) = parameter.max_value.filter(|max| number > *max) {
                return Err(fail(format!("must be a number not greater than {max}")));
            }
        }
    }
    let length = raw.chars().count() as u64;
    if let Some(min) = parameter.min_length.filter(|min| length < *min) {
        return Err(fail(format!("must contain at least {min} characters")));
    }
    if let Some(max) = parameter.max_length.filter(|max| length > *max) {
        return Err(fail(format!("must contain at most {max} characters")));
    }
    Ok(match shape {
        Shape::StringList | Shape::NumberList => {
            Value::Array(items.into_iter().map(|i| Value::String(i.into())).collect())
        }
        _ => Value::String(raw.to_string()),
    })
}

/// A decimal number such as `12`, `-3.5` or `1e3` (not `inf` or `NaN`, which Rust would accept).
fn as_number(s: &str) -> Option<f64> {
    let plausible = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    s.parse::<f64>().ok().filter(|n| plausible && n.is_finite())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn declared(name: &str, body: Value) -> Parameter {
        declaration(name.into(), body).unwrap()
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_declarations() {
        let p = declared(
            "Stage",
            json!({"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod", 3], "NoEcho": true,
                   "MinLength": 1, "MaxLength": "10", "Description": "d", "AllowedPattern": "[a-z]+"}),
        );
        assert_eq!(p.allowed_values, ["dev", "prod", "3"]);
        assert_eq!((p.min_length, p.max_length, p.no_echo), (Some(1), Some(10), true));
        assert_eq!(p.default.as_deref(), Some("dev"));
        assert!(!p.is_list());
        assert!(declared("L", json!({"Type": "List<AWS::EC2::Subnet::Id>"})).is_list());
    }

    #[test]
    fn rejects_bad_declarations() {
        let err = declaration("P".into(), json!({"Default": "x"})).unwrap_err();
        assert!(err.to_string().contains("Every Parameters object must contain a Type member."));
        let err = declaration("P".into(), json!({"Type": "Strin"})).unwrap_err();
        assert_eq!(err.to_string(), "Template format error: Unrecognized parameter type: Strin");
        assert!(declaration("P".into(), json!({"Type": "String", "Colour": "red"})).is_err());
        assert!(declaration("P".into(), json!({"Type": "Number", "MinValue": "low"})).is_err());
        assert!(declaration("P".into(), json!("String")).is_err());
    }

    #[test]
    fn values_come_from_overrides_then_defaults() {
        let params = vec![
            declared("A", json!({"Type": "String", "Default": "a"})),
            declared("B", json!({"Type": "String", "Default": "b"})),
            declared("N", json!({"Type": "Number", "Default": 5})),
            declared("L", json!({"Type": "CommaDelimitedList", "Default": "x, y ,z"})),
            declared("NL", json!({"Type": "List<Number>", "Default": [1, 2]})),
        ];
        let values = resolve(&params, &given(&[("B", "override")])).unwrap();
        assert_eq!(values["A"], json!("a"));
        assert_eq!(values["B"], json!("override"));
        assert_eq!(values["N"], json!("5"));
        assert_eq!(values["L"], json!(["x", "y", "z"]));
        assert_eq!(values["NL"], json!(["1", "2"]));
    }

    #[test]
    fn missing_and_unknown_parameters_are_errors() {
        let params = vec![declared("A", json!({"Type": "String"})), declared("B", json!({"Type": "String"}))];
        let err = resolve(&params, &given(&[("A", "x")])).unwrap_err();
        assert_eq!(err.to_string(), "Parameters: [B] must have values");
        let err = resolve(&params, &given(&[("A", "x"), ("B", "y"), ("Zed", "z")])).unwrap_err();
        assert_eq!(err.to_string(), "Parameters: [Zed] do not exist in the template");
    }

    #[test]
    fn values_are_checked_against_constraints() {
        let stage = declared("Stage", json!({"Type": "String", "AllowedValues": ["dev", "prod"]}));
        let err = resolve(std::slice::from_ref(&stage), &given(&[("Stage", "test")])).unwrap_err();
        assert_eq!(err.to_string(), "Parameter 'Stage' must be one of AllowedValues: [dev, prod]");
        assert!(resolve(&[stage], &given(&[("Stage", "prod")])).is_ok());

        let port = declared("Port", json!({"Type": "Number", "MinValue": 1, "MaxValue": 65535}));
        for bad in ["abc", "inf", "NaN", "", "0", "70000"] {
            assert!(resolve(std::slice::from_ref(&port), &given(&[("Port", bad)])).is_err(), "{bad}");
        }
        assert_eq!(resolve(&[port], &given(&[("Port", "8080")])).unwrap()["Port"], json!("8080"));

        let name = declared("Name", json!({"Type": "String", "MinLength": 2, "MaxLength": 3}));
        assert!(resolve(std::slice::from_ref(&name), &given(&[("Name", "a")])).is_err());
        assert!(resolve(std::slice::from_ref(&name), &given(&[("Name", "abcd")])).is_err());
        assert!(resolve(&[name], &given(&[("Name", "abc")])).is_ok());

        let list = declared("Zones", json!({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}));
        assert!(resolve(std::slice::from_ref(&list), &given(&[("Zones", "a,b")])).is_ok());
        assert!(resolve(&[list], &given(&[("Zones", "a,c")])).is_err());
    }

    #[test]
    fn ssm_parameter_types_are_unsupported() {
        let p = declared("Ami", json!({"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/x"}));
        assert!(matches!(resolve(&[p], &BTreeMap::new()), Err(TemplateError::Unsupported(_))));
    }
}
