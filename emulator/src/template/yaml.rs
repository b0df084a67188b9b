//! Reading template text into JSON values.
//!
//! CloudFormation templates are YAML or JSON. YAML templates may use the short-form tags
//! (`!Ref X`, `!GetAtt A.B`, `!Sub "…"`); everything after this module only knows the long form
//! (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": "…"}`), which is also what JSON
//! templates contain. Converting once, here, means evaluation and dependency analysis handle a
//! single representation.
//!
//! The top-level mapping is kept as a YAML mapping (it preserves the template's key order, which
//! decides the order of resources that do not depend on each other); its values are converted
//! with [`to_json`].

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use super::error::TemplateError;

/// Short-form tags that become `{"Fn::<Tag>": …}`.
const FN_TAGS: &[&str] = &[
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "Equals",
    "And",
    "Or",
    "Not",
    "Length",
    "ToJsonString",
];

/// Parses template text (YAML, or JSON) into its top-level mapping, in the template's order.
pub(crate) fn load(text: &str) -> Result<serde_yaml_ng::Mapping, TemplateError> {
    let root: Yaml = match serde_yaml_ng::from_str(text) {
        Ok(root) => root,
        // JSON is YAML, except for details such as tab indentation that libyaml rejects: a text
        // that is valid JSON is accepted as such (its key order is then alphabetical).
        Err(yaml_err) => match serde_json::from_str::<Value>(text) {
            Ok(json) => serde_yaml_ng::to_value(&json)
                .map_err(|e| TemplateError::format(format!("JSON not well-formed. {e}")))?,
            Err(_) => return Err(TemplateError::format(format!("YAML not well-formed. {yaml_err}"))),
        },
    };
    let mut root = root;
    root.apply_merge().map_err(|e| TemplateError::format(format!("YAML not well-formed. {e}")))?;
    match root {
        Yaml::Mapping(map) => Ok(map),
        Yaml::Null => Err(TemplateError::format("At least one Resources member must be defined.")),
        _ => Err(TemplateError::format("The template must be a mapping of sections (Resources, Parameters, …)")),
    }
}

/// The string form of a mapping key; CloudFormation keys are strings, YAML allows `200:` or
/// `true:` which are read as their text.
pub(crate) fn key_string(key: &Yaml, path: &str) -> Result<String, TemplateError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Null => Ok("null".to_string()),
        _ => Err(TemplateError::format(format!("mapping keys must be strings (at {})", display_path(path)))),
    }
}

/// Converts a YAML value into JSON, turning short-form tags into the long form. `path` (such as
/// `Resources/Table/Properties`) only serves error messages.
pub(crate) fn to_json(value: Yaml, path: &str) -> Result<Value, TemplateError> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(entries) => {
            let mut object = Map::new();
            for (key, item) in entries {
                let key = key_string(&key, path)?;
                let item = to_json(item, &format!("{path}/{key}"))?;
                object.insert(key, item);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.strip_prefix('!').unwrap_or(&tag);
            long_form(name, tagged.value, path)?
        }
    })
}

fn number(n: &serde_yaml_ng::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // `.nan` and `.inf` have no JSON number; keep their YAML spelling.
        Number::from_f64(f).map(Value::Number).unwrap_or_else(|| Value::String(n.to_string()))
    }
}

/// `!Tag value` → its long form.
fn long_form(tag: &str, value: Yaml, path: &str) -> Result<Value, TemplateError> {
    let inner_path = format!("{path}/!{tag}");
    let single = |key: &str, v: Value| Value::Object(Map::from_iter([(key.to_string(), v)]));
    match tag {
        // The non-specific tag `! x` only says "a string or a plain node"; keep the node.
        "!" => to_json(value, path),
        "Ref" => Ok(single("Ref", to_json(value, &inner_path)?)),
        "Condition" => Ok(single("Condition", to_json(value, &inner_path)?)),
        "GetAtt" => {
            let args = match to_json(value, &inner_path)? {
                // `!GetAtt Resource.Attr.Sub` names attribute `Attr.Sub` of `Resource`.
                Value::String(s) => match s.split_once('.') {
                    Some((resource, attr)) => {
                        Value::Array(vec![Value::String(resource.to_string()), Value::String(attr.to_string())])
                    }
                    None => {
                        return Err(TemplateError::format(format!(
                            "!GetAtt {s} must be LogicalId.AttributeName (at {})",
                            display_path(path)
                        )));
                    }
                },
                other => other,
            };
            Ok(single("Fn::GetAtt", args))
        }
        _ if FN_TAGS.contains(&tag) => Ok(single(&format!("Fn::{tag}"), to_json(value, &inner_path)?)),
        _ => {
            Err(TemplateError::format(format!("YAML not well-formed. Unknown tag !{tag} (at {})", display_path(path))))
        }
    }
}

fn display_path(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    if path.is_empty() { "the top level" } else { path }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(text: &str) -> Result<Value, TemplateError> {
        let root: Yaml = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::format(e.to_string()))?;
        to_json(root, "")
    }

    #[test]
    fn every_short_tag_becomes_its_long_form() {
        let cases = [
            ("!Ref Bucket", json!({"Ref": "Bucket"})),
            ("!GetAtt Table.Arn", json!({"Fn::GetAtt": ["Table", "Arn"]})),
            ("!GetAtt [Table, Arn]", json!({"Fn::GetAtt": ["Table", "Arn"]})),
            ("!Sub 'arn:${AWS::Partition}:s3:::${B}'", json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${B}"})),
            ("!Sub ['${A}-x', {A: b}]", json!({"Fn::Sub": ["${A}-x", {"A": "b"}]})),
            ("!Join [',', [a, b]]", json!({"Fn::Join": [",", ["a", "b"]]})),
            ("!If [C, a, b]", json!({"Fn::If": ["C", "a", "b"]})),
            ("!Select [0, [a, b]]", json!({"Fn::Select": [0, ["a", "b"]]})),
            ("!Split [',', 'a,b']", json!({"Fn::Split": [",", "a,b"]})),
            ("!FindInMap [M, k1, k2]", json!({"Fn::FindInMap": ["M", "k1", "k2"]})),
            ("!Base64 hello", json!({"Fn::Base64": "hello"})),
            ("!Cidr ['10.0.0.0/16', 4, 8]", json!({"Fn::Cidr": ["10.0.0.0/16", 4, 8]})),
            ("!GetAZs ''", json!({"Fn::GetAZs": ""})),
            ("!ImportValue Shared", json!({"Fn::ImportValue": "Shared"})),
            ("!Equals [a, b]", json!({"Fn::Equals": ["a", "b"]})),
            ("!And [!Condition A, !Condition B]", json!({"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]})),
            ("!Or [!Condition A, !Condition B]", json!({"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]})),
            ("!Not [!Condition A]", json!({"Fn::Not": [{"Condition": "A"}]})),
            ("!Condition IsProd", json!({"Condition": "IsProd"})),
            (
                "!Transform {Name: 'AWS::Include', Parameters: {Location: x}}",
                json!({"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "x"}}}),
            ),
            ("!Length [a, b]", json!({"Fn::Length": ["a", "b"]})),
            ("!ToJsonString {a: 1}", json!({"Fn::ToJsonString": {"a": 1}})),
        ];
        for (yaml, expected) in cases {
            assert_eq!(convert(yaml).unwrap(), expected, "{yaml}");
        }
    }

    #[test]
    fn get_att_splits_at_the_first_dot_only() {
        assert_eq!(convert("!GetAtt Db.Endpoint.Address").unwrap(), json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]}));
        assert!(matches!(convert("!GetAtt NoDot"), Err(TemplateError::Format(m)) if m.contains("NoDot")));
    }

    #[test]
    fn tags_nest() {
        let yaml = "
Value: !Join
  - ''
  - - !Sub '${AWS::StackName}-'
    - !If [IsProd, !Ref Name, !Ref 'AWS::NoValue']
    - !Select [0, !Split ['.', !GetAtt [Api, !Ref Attr]]]
";
        assert_eq!(
            convert(yaml).unwrap(),
            json!({"Value": {"Fn::Join": ["", [
                {"Fn::Sub": "${AWS::StackName}-"},
                {"Fn::If": ["IsProd", {"Ref": "Name"}, {"Ref": "AWS::NoValue"}]},
                {"Fn::Select": [0, {"Fn::Split": [".", {"Fn::GetAtt": ["Api", {"Ref": "Attr"}]}]}]},
            ]]}})
        );
    }

    #[test]
    fn block_style_tagged_sequences_and_mappings() {
        let yaml = "
A: !Sub
  - '${X}'
  - X: !Ref Y
";
        assert_eq!(convert(yaml).unwrap(), json!({"A": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]}}));
    }

    #[test]
    fn scalars_keep_their_json_types() {
        let yaml = "{i: 3, n: -7, f: 1.5, b: true, s: '3', z: ~, 200: ok, big: 18446744073709551615}";
        assert_eq!(
            convert(yaml).unwrap(),
            json!({"i": 3, "n": -7, "f": 1.5, "b": true, "s": "3", "z": null, "200": "ok", "big": 18446744073709551615u64})
        );
    }

    #[test]
    fn unknown_tag_is_named_in_the_error() {
        let err = convert("Resources:\n  A:\n    Type: X\n    Properties:\n      P: !Bogus x\n").unwrap_err();
        assert!(
            matches!(&err, TemplateError::Format(m) if m.contains("!Bogus") && m.contains("Resources/A/Properties/P"))
        );
        assert!(err.to_string().starts_with("Template format error: "));
    }

    #[test]
    fn non_scalar_keys_are_rejected() {
        assert!(matches!(convert("? [a, b]\n: c\n"), Err(TemplateError::Format(_))));
    }

    #[test]
    fn load_accepts_json_with_tabs_and_rejects_garbage() {
        let json = "{\n\t\"Resources\": {\n\t\t\"B\": {\"Type\": \"AWS::S3::Bucket\"}\n\t}\n}";
        let root = load(json).unwrap();
        assert!(root.contains_key("Resources"));
        assert!(
            matches!(load("Resources: [unclosed"), Err(TemplateError::Format(m)) if m.starts_with("YAML not well-formed"))
        );
        assert!(matches!(load("just a string"), Err(TemplateError::Format(_))));
        assert!(matches!(load(""), Err(TemplateError::Format(_))));
    }

    #[test]
    fn yaml_merge_keys_are_applied() {
        let root = load("Base: &b {x: 1}\nOther:\n  <<: *b\n  y: 2\n").unwrap();
        let other = to_json(root.get("Other").unwrap().clone(), "Other").unwrap();
        assert_eq!(other, json!({"x": 1, "y": 2}));
    }
}
