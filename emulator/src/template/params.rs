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

use serde_json::Value;

use super::error::TemplateError;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn declared(name: &str, body: Value) -> Parameter {
        declaration(name.into(), body).unwrap()
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
}
