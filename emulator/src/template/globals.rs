//! SAM `Globals`: properties written once and applied to every resource of a type.
//!
//! The SAM transform merges each section (`Function`, `Api`, `HttpApi`, `SimpleTable`, …) into
//! every resource of the matching `AWS::Serverless::*` type before anything else happens, with
//! these rules (SAM's `globals.py`):
//!
//! - a property only in the globals is added; a property only on the resource is kept;
//! - two mappings are merged key by key, recursively (`Environment.Variables`, `Tags`);
//! - two lists are concatenated, global items first (`Layers`);
//! - anything else, including intrinsic functions (`{"Ref": …}`, `{"Fn::If": …}`) and values of
//!   different kinds, is taken from the resource.
//!
//! SAM also restricts which properties each section may hold; that list is not checked here.

use serde_json::{Map, Value};

use super::Resource;
use super::error::TemplateError;

/// Globals section → the resource type it applies to.
const SECTIONS: &[(&str, &str)] = &[
    ("Function", "AWS::Serverless::Function"),
    ("Api", "AWS::Serverless::Api"),
    ("HttpApi", "AWS::Serverless::HttpApi"),
    ("SimpleTable", "AWS::Serverless::SimpleTable"),
    ("StateMachine", "AWS::Serverless::StateMachine"),
    ("LayerVersion", "AWS::Serverless::LayerVersion"),
];

/// Merges the `Globals` section (already converted to JSON) into `resources`.
pub(crate) fn apply(globals: Value, resources: &mut [Resource]) -> Result<(), TemplateError> {
    let sections = match globals {
        Value::Object(sections) => sections,
        Value::Null => return Ok(()),
        _ => return Err(TemplateError::format("Globals must be a mapping of sections")),
    };
    for (section, properties) in sections {
        let Some((_, kind)) = SECTIONS.iter().find(|(name, _)| *name == section) else {
            let known: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
            return Err(TemplateError::format(format!(
                "'{section}' section is not supported in Globals. Must be one of {}",
                super::error::bracket_list(&known)
            )));
        };
        let Value::Object(properties) = properties else {
            return Err(TemplateError::format(format!("Globals section '{section}' must be a mapping of properties")));
        };
        for resource in resources.iter_mut().filter(|r| r.kind == *kind) {
            let local = std::mem::take(&mut resource.properties);
            let local = if local.is_null() { Value::Object(Map::new()) } else { local };
            resource.properties = merge(Value::Object(properties.clone()), local);
        }
    }
    Ok(())
}

/// SAM's merge of one global value with the resource's own.
pub(crate) fn merge(global: Value, local: Value) -> Value {
    match (global, local) {
        (Value::Object(mut global), Value::Object(local)) if !is_intrinsic(&global) && !is_intrinsic(&local) => {
            for (key, value) in local {
                let merged = match global.remove(&key) {
                    Some(global_value) => merge(global_value, value),
                    None => value,
                };
                global.insert(key, merged);
            }
            Value::Object(global)
        }
        (Value::Array(mut global), Value::Array(local)) => {
            global.extend(local);
            Value::Array(global)
        }
        (_, local) => local,
    }
}

/// `{"Ref": …}`, `{"Condition": …}` or `{"Fn::…": …}`: treated as a plain value by the merge.
fn is_intrinsic(object: &Map<String, Value>) -> bool {
    object.len() == 1 && object.keys().all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resource(kind: &str, properties: Value) -> Resource {
        Resource {
            logical_id: "R".into(),
            kind: kind.into(),
            properties,
            condition: None,
            depends_on: vec![],
            metadata: Value::Null,
        }
    }

    #[test]
    fn resource_wins_maps_merge_lists_concatenate() {
        let global = json!({
            "Runtime": "provided.al2023",
            "Timeout": 10,
            "Layers": ["g1"],
            "Environment": {"Variables": {"TABLE": "t", "STAGE": "dev"}},
            "Tags": {"team": "chat"},
        });
        let local = json!({
            "Timeout": 30,
            "Layers": ["l1"],
            "Environment": {"Variables": {"STAGE": "prod", "EXTRA": "x"}},
            "Handler": "bootstrap",
        });
        assert_eq!(
            merge(global, local),
            json!({
                "Runtime": "provided.al2023",
                "Timeout": 30,
                "Layers": ["g1", "l1"],
                "Environment": {"Variables": {"TABLE": "t", "STAGE": "prod", "EXTRA": "x"}},
                "Tags": {"team": "chat"},
                "Handler": "bootstrap",
            })
        );
    }

    #[test]
    fn intrinsics_and_mismatched_kinds_take_the_resource_value() {
        assert_eq!(merge(json!({"Ref": "A"}), json!({"Ref": "B"})), json!({"Ref": "B"}));
        assert_eq!(merge(json!({"a": 1}), json!({"Fn::If": ["C", {}, {}]})), json!({"Fn::If": ["C", {}, {}]}));
        assert_eq!(merge(json!({"Fn::If": ["C", {}, {}]}), json!({"a": 1})), json!({"a": 1}));
        assert_eq!(merge(json!(["a"]), json!("b")), json!("b"));
    }

    #[test]
    fn applies_only_to_the_matching_type() {
        let mut resources = vec![
            resource("AWS::Serverless::Function", json!({"Handler": "h"})),
            resource("AWS::Serverless::HttpApi", Value::Null),
            resource("AWS::DynamoDB::Table", json!({"TableName": "t"})),
        ];
        let globals = json!({"Function": {"Timeout": 5}, "HttpApi": {"CorsConfiguration": {"AllowOrigins": ["*"]}}});
        apply(globals, &mut resources).unwrap();
        assert_eq!(resources[0].properties, json!({"Handler": "h", "Timeout": 5}));
        assert_eq!(resources[1].properties, json!({"CorsConfiguration": {"AllowOrigins": ["*"]}}));
        assert_eq!(resources[2].properties, json!({"TableName": "t"}));
    }

    #[test]
    fn unknown_sections_are_errors() {
        let err = apply(json!({"Lambda": {}}), &mut []).unwrap_err();
        assert!(matches!(err, TemplateError::Format(m) if m.contains("'Lambda'")));
        assert!(apply(json!({"Function": "x"}), &mut []).is_err());
        assert!(apply(json!([1]), &mut []).is_err());
    }
}
