//! Publish and PublishBatch: validation, per-protocol message selection, filter policies.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::Value;

use super::subscriptions::{self, is_phone_number};
use super::{delivery, invalid, respond, topics};
use crate::error::{AwsError, Result};
use crate::protocol::aws_query::QueryInput;
use crate::state::Ctx;

/// A message attribute as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub data_type: String,
    /// The string value, or the base64 text of a binary value.
    pub value: String,
}

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub subject: Option<String>,
    pub body: String,
    /// Per-protocol bodies from `MessageStructure=json` (`default` is `body`).
    pub per_protocol: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, Attribute>,
    pub timestamp: String,
}

impl Message {
    pub fn body_for(&self, protocol: &str) -> &str {
        self.per_protocol.get(protocol).map(String::as_str).unwrap_or(&self.body)
    }
}

const MAX_BYTES: usize = 256 * 1024;

fn param_invalid(message: String) -> AwsError {
    AwsError::bad_request("ParameterValueInvalid", message)
}

/// Reads `{prefix}.entry.N.Name/Value.DataType/Value.StringValue/Value.BinaryValue`.
fn attributes(q: &QueryInput, prefix: &str) -> Result<BTreeMap<String, Attribute>> {
    let mut out = BTreeMap::new();
    for (_, f) in q.numbered(&format!("{prefix}.entry.")) {
        let name = f.get("Name").cloned().unwrap_or_default();
        let data_type = f.get("Value.DataType").cloned().unwrap_or_default();
        let base = data_type.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(param_invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let value = if base == "Binary" { f.get("Value.BinaryValue") } else { f.get("Value.StringValue") };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(param_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value."
            )));
        };
        if base == "Number" && value.parse::<f64>().is_err() {
            return Err(param_invalid(format!("Could not cast message attribute '{name}' value to number.")));
        }
        out.insert(name, Attribute { data_type, value: value.clone() });
    }
    if out.len() > 10 {
        return Err(param_invalid(
            "Number of message attributes [{n}] exceeds the allowed maximum [10]."
                .replace("{n}", &out.len().to_string()),
        ));
    }
    Ok(out)
}

/// Validates subject and body and reads `MessageStructure=json`.
fn message(
    ctx: &Ctx,
    body: Option<&str>,
    subject: Option<&str>,
    structure: Option<&str>,
    attrs: BTreeMap<String, Attribute>,
) -> Result<Message> {
    let body = body.ok_or_else(|| super::member_null("Message"))?;
    if body.is_empty() {
        return Err(invalid("Empty message"));
    }
    let size = body.len() + attrs.iter().map(|(k, a)| k.len() + a.data_type.len() + a.value.len()).sum::<usize>();
    if size > MAX_BYTES {
        return Err(invalid("Message too long"));
    }
    if let Some(s) = subject
        && (s.is_empty() || s.chars().count() > 100 || s.chars().any(|c| c.is_control()))
    {
        return Err(invalid("Subject"));
    }
    let mut per_protocol = BTreeMap::new();
    let mut text = body.to_string();
    match structure {
        None => {}
        Some("json") => {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
                return Err(invalid("Message Structure - JSON message body failed to parse"));
            };
            let Some(Value::String(default)) = map.get("default") else {
                return Err(invalid("Message Structure - No default entry in JSON message body"));
            };
            text = default.clone();
            for (k, v) in &map {
                if let Value::String(s) = v {
                    per_protocol.insert(k.clone(), s.clone());
                }
            }
        }
        Some(_) => return Err(invalid("MessageStructure")),
    }
    Ok(Message {
        id: ctx.rng().uuid(),
        subject: subject.map(str::to_string),
        body: text,
        per_protocol,
        attributes: attrs,
        timestamp: ctx.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    })
}

/// Delivers to every confirmed subscription of the topic whose filter policy accepts it.
async fn fan_out(ctx: &Ctx, topic: &topics::Topic, msg: &Message) -> Result<()> {
    for sub in subscriptions::confirmed_of(ctx, &topic.arn).await? {
        if accepts(&sub.attributes, msg) {
            delivery::deliver(ctx, topic, &sub, msg).await?;
        }
    }
    Ok(())
}

pub async fn publish(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let target = q.get("TopicArn").or(q.get("TargetArn"));
    let phone = q.get("PhoneNumber");
    let attrs = attributes(q, "MessageAttributes")?;
    let msg = message(ctx, q.get("Message"), q.get("Subject"), q.get("MessageStructure"), attrs)?;
    match (target, phone) {
        (Some(arn), None) => {
            let topic = topics::load(ctx, arn).await?;
            if topic.name.ends_with(".fifo") && q.get("MessageGroupId").is_none() {
                return Err(invalid("The MessageGroupId parameter is required for FIFO topics"));
            }
            fan_out(ctx, &topic, &msg).await?;
        }
        (None, Some(number)) => {
            if !is_phone_number(number) {
                return Err(invalid(&format!("PhoneNumber Reason: {number} is not valid to publish to")));
            }
            delivery::sms(ctx, number, msg.body_for("sms")).await?;
        }
        _ => return Err(invalid("TopicArn or TargetArn Reason: no value for required parameter")),
    }
    Ok(respond(ctx, "Publish", |x| {
        x.text("MessageId", &msg.id);
        if q.get("MessageGroupId").is_some() {
            x.text("SequenceNumber", &format!("{:020}", ctx.now().timestamp_micros()));
        }
    }))
}

pub async fn publish_batch(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let topic = topics::load(ctx, q.required("TopicArn")?).await?;
    let entries = q.numbered("PublishBatchRequestEntries.member.");
    if entries.is_empty() {
        return Err(AwsError::bad_request("EmptyBatchRequest", "The batch request doesn't contain any entries"));
    }
    if entries.len() > 10 {
        return Err(AwsError::bad_request(
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible",
        ));
    }
    let mut ids = std::collections::HashSet::new();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (n, fields) in &entries {
        let id = fields.get("Id").cloned().unwrap_or_default();
        if !ids.insert(id.clone()) {
            return Err(AwsError::bad_request(
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id",
            ));
        }
        let prefix = format!("PublishBatchRequestEntries.member.{n}.MessageAttributes");
        let result = match attributes(q, &prefix) {
            Ok(attrs) => message(
                ctx,
                fields.get("Message").map(String::as_str),
                fields.get("Subject").map(String::as_str),
                fields.get("MessageStructure").map(String::as_str),
                attrs,
            ),
            Err(e) => Err(e),
        };
        match result {
            Ok(msg) => {
                fan_out(ctx, &topic, &msg).await?;
                ok.push((id, msg.id));
            }
            Err(e) => failed.push((id, e)),
        }
    }
    Ok(respond(ctx, "PublishBatch", |x| {
        x.open("Successful");
        for (id, mid) in &ok {
            x.open("member").text("Id", id).text("MessageId", mid).close("member");
        }
        x.close("Successful").open("Failed");
        for (id, e) in &failed {
            x.open("member")
                .text("Id", id)
                .text("Code", &e.code)
                .text("Message", &e.message)
                .text("SenderFault", "true")
                .close("member");
        }
        x.close("Failed");
    }))
}

/// Applies a subscription's `FilterPolicy` (to the message attributes, or with
/// `FilterPolicyScope=MessageBody` to the JSON body).
pub fn accepts(sub_attrs: &BTreeMap<String, String>, msg: &Message) -> bool {
    let Some(policy) = sub_attrs.get("FilterPolicy").filter(|p| !p.is_empty()) else { return true };
    let Ok(Value::Object(policy)) = serde_json::from_str::<Value>(policy) else { return true };
    if sub_attrs.get("FilterPolicyScope").map(String::as_str) == Some("MessageBody") {
        let Ok(body) = serde_json::from_str::<Value>(&msg.body) else { return false };
        return object_matches(&policy, &body);
    }
    policy.iter().all(|(key, rules)| {
        let value = msg.attributes.get(key).map(|a| {
            if a.data_type.starts_with("Number") {
                a.value.parse::<f64>().map(Value::from).unwrap_or(Value::Null)
            } else if a.data_type == "String.Array" {
                serde_json::from_str(&a.value).unwrap_or(Value::String(a.value.clone()))
            } else {
                Value::String(a.value.clone())
            }
        });
        value_matches(rules, value.as_ref())
    })
}

fn object_matches(policy: &serde_json::Map<String, Value>, body: &Value) -> bool {
    policy.iter().all(|(key, rules)| {
        let value = body.get(key);
        match rules {
            Value::Object(nested) => value.is_some_and(|v| object_matches(nested, v)),
            _ => value_matches(rules, value),
        }
    })
}

/// One key's rule list against a value (absent = `None`); any rule may match.
fn value_matches(rules: &Value, value: Option<&Value>) -> bool {
    let Value::Array(rules) = rules else { return false };
    let values: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    rules.iter().any(|rule| match rule {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => values.iter().any(|v| same(v, rule)),
        Value::Null => value.is_none(),
        Value::Object(op) => op.iter().all(|(name, arg)| match name.as_str() {
            "exists" => arg.as_bool() == Some(value.is_some()),
            "prefix" => {
                arg.as_str().is_some_and(|p| values.iter().any(|v| v.as_str().is_some_and(|s| s.starts_with(p))))
            }
            "suffix" => arg.as_str().is_some_and(|p| values.iter().any(|v| v.as_str().is_some_and(|s| s.ends_with(p)))),
            "anything-but" => {
                let banned: Vec<&Value> = match arg {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                !values.is_empty() && values.iter().all(|v| !banned.iter().any(|b| same(v, b)))
            }
            "numeric" => values.iter().any(|v| v.as_f64().is_some_and(|n| numeric(arg, n))),
            _ => false,
        }),
        _ => false,
    })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `["<", 10, ">=", 2]`-style numeric conditions, all of which must hold.
fn numeric(arg: &Value, n: f64) -> bool {
    let Value::Array(parts) = arg else { return false };
    parts.chunks(2).all(|pair| {
        let (Some(op), Some(bound)) = (pair.first().and_then(Value::as_str), pair.get(1).and_then(Value::as_f64))
        else {
            return false;
        };
        match op {
            "=" => n == bound,
            "<" => n < bound,
            "<=" => n <= bound,
            ">" => n > bound,
            ">=" => n >= bound,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(attrs: &[(&str, &str, &str)], body: &str) -> Message {
        Message {
            id: "m".into(),
            subject: None,
            body: body.into(),
            per_protocol: BTreeMap::new(),
            attributes: attrs
                .iter()
                .map(|(k, t, v)| (k.to_string(), Attribute { data_type: t.to_string(), value: v.to_string() }))
                .collect(),
            timestamp: String::new(),
        }
    }

    fn policy(p: Value, scope: Option<&str>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::from([("FilterPolicy".to_string(), p.to_string())]);
        if let Some(s) = scope {
            m.insert("FilterPolicyScope".into(), s.into());
        }
        m
    }

    #[test]
    fn filter_policies_on_attributes() {
        let m = msg(&[("kind", "String", "dm"), ("size", "Number", "12")], "{}");
        assert!(accepts(&BTreeMap::new(), &m));
        assert!(accepts(&policy(serde_json::json!({"kind": ["dm", "room"]}), None), &m));
        assert!(!accepts(&policy(serde_json::json!({"kind": ["room"]}), None), &m));
        assert!(accepts(
            &policy(serde_json::json!({"kind": [{"prefix": "d"}], "size": [{"numeric": [">", 10, "<=", 12]}]}), None),
            &m
        ));
        assert!(!accepts(&policy(serde_json::json!({"size": [{"numeric": ["<", 10]}]}), None), &m));
        assert!(accepts(&policy(serde_json::json!({"kind": [{"anything-but": ["room"]}]}), None), &m));
        assert!(accepts(&policy(serde_json::json!({"missing": [{"exists": false}]}), None), &m));
        assert!(!accepts(&policy(serde_json::json!({"missing": [{"exists": true}]}), None), &m));
    }

    #[test]
    fn filter_policies_on_the_body() {
        let m = msg(&[], r#"{"room": {"id": "r1"}, "n": 3}"#);
        assert!(accepts(&policy(serde_json::json!({"room": {"id": ["r1"]}}), Some("MessageBody")), &m));
        assert!(!accepts(&policy(serde_json::json!({"room": {"id": ["r2"]}}), Some("MessageBody")), &m));
        assert!(accepts(&policy(serde_json::json!({"n": [3]}), Some("MessageBody")), &m));
    }
}
