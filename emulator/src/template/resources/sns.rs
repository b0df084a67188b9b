//! SNS: `AWS::SNS::Topic` (with its inline `Subscription` list) and `AWS::SNS::Subscription`;
//! also the subscriptions of SAM functions' `SNS` events.
//!
//! A topic's `Ref` is its ARN; `Fn::GetAtt` gives `TopicArn` and `TopicName`. Subscriptions
//! are made with `ReturnSubscriptionArn`, so even a pending e-mail subscription has an ARN to
//! record; provisioned again, a recorded subscription is not requested a second time (no second
//! confirmation mail), and changed delivery attributes are set on it.

use serde_json::Value;

use super::{boolean, text, xml_text};
use crate::template::provision::{Done, ProvisionError, Provisioner, Step};

/// Topic properties that are topic attributes (JSON documents are sent as text).
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "TracingConfig",
    "SignatureVersion",
    "DeliveryPolicy",
    "ArchivePolicy",
    "DataProtectionPolicy",
    "FifoThroughputScope",
];

/// Subscription properties that are subscription attributes.
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
];

fn attribute_value(value: &Value) -> Option<String> {
    match boolean(value) {
        Some(b) if !value.is_string() => Some(b.to_string()),
        _ => text(value),
    }
}

pub(super) async fn topic(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let fifo = boolean(&props["FifoTopic"]).unwrap_or(false);
    let mut name = p.name(step, "TopicName", step.previous_attr("TopicName"), 256 - 5, false);
    if fifo && !name.ends_with(".fifo") {
        name.push_str(".fifo");
    }
    let arn = format!("arn:aws:sns:{}:{}:{name}", p.emu.config.region, p.emu.config.account);
    let previous_arn = step.previous.as_ref().map(|r| r.physical_id.clone());
    let exists = previous_arn.as_deref() == Some(arn.as_str())
        && p.call_sns("GetTopicAttributes", &[("TopicArn".into(), arn.clone())]).await.is_ok();

    if exists {
        // Attributes that changed since the earlier run.
        let changed = step.changed();
        for member in TOPIC_ATTRIBUTES.iter().filter(|m| changed.iter().any(|c| c == *m)) {
            let value = attribute_value(&props[*member]).unwrap_or_default();
            let params = [
                ("TopicArn".to_string(), arn.clone()),
                ("AttributeName".into(), member.to_string()),
                ("AttributeValue".into(), value),
            ];
            if let Err(e) = p.call_sns("SetTopicAttributes", &params).await {
                return Err(step.aws("SetTopicAttributes", &e));
            }
        }
    } else {
        let mut params = vec![("Name".to_string(), name.clone())];
        let mut n = 0;
        let mut attribute = |params: &mut Vec<(String, String)>, key: &str, value: String| {
            n += 1;
            params.push((format!("Attributes.entry.{n}.key"), key.into()));
            params.push((format!("Attributes.entry.{n}.value"), value));
        };
        if fifo {
            attribute(&mut params, "FifoTopic", "true".into());
        }
        for member in TOPIC_ATTRIBUTES {
            if let Some(value) = attribute_value(&props[*member]) {
                attribute(&mut params, member, value);
            }
        }
        for (i, tag) in props["Tags"].as_array().into_iter().flatten().enumerate() {
            params.push((format!("Tags.member.{}.Key", i + 1), text(&tag["Key"]).unwrap_or_default()));
            params.push((format!("Tags.member.{}.Value", i + 1), text(&tag["Value"]).unwrap_or_default()));
        }
        // Idempotent by name: a topic of the same name made outside the stack is adopted.
        p.call_sns("CreateTopic", &params).await.map_err(|e| step.aws("CreateTopic", &e))?;
    }

    // Inline subscriptions not yet made by an earlier run of this same topic.
    let before: Vec<&Value> = match (&step.previous, exists) {
        (Some(r), true) => r.properties["Subscription"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        _ => Vec::new(),
    };
    for subscription in props["Subscription"].as_array().into_iter().flatten() {
        if before.contains(&subscription) {
            continue;
        }
        let protocol = text(&subscription["Protocol"]).unwrap_or_default();
        let endpoint = text(&subscription["Endpoint"]).unwrap_or_default();
        subscribe(p, step, &arn, &protocol, &endpoint, &[]).await?;
    }
    Ok(Done::new(&arn, exists).attr("TopicArn", arn.as_str()).attr("TopicName", name))
}

/// `AWS::SNS::Subscription` (and a SAM function's `SNS` event, as `{Function}{Event}`).
pub(super) async fn subscription(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let topic = text(&props["TopicArn"]).unwrap_or_default();
    let protocol = text(&props["Protocol"]).unwrap_or_default();
    let endpoint = text(&props["Endpoint"]).unwrap_or_default();
    let attributes: Vec<(String, String)> = SUBSCRIPTION_ATTRIBUTES
        .iter()
        .filter_map(|m| attribute_value(&props[*m]).map(|v| (m.to_string(), v)))
        .collect();

    if let Some(previous) = &step.previous {
        let same = ["TopicArn", "Protocol", "Endpoint"].iter().all(|m| previous.properties[*m] == props[*m]);
        let arn = previous.physical_id.clone();
        let alive = p.call_sns("GetSubscriptionAttributes", &[("SubscriptionArn".into(), arn.clone())]).await.is_ok();
        if same && alive {
            let changed = step.changed();
            for member in SUBSCRIPTION_ATTRIBUTES.iter().filter(|m| changed.iter().any(|c| c == *m)) {
                let params = [
                    ("SubscriptionArn".to_string(), arn.clone()),
                    ("AttributeName".into(), member.to_string()),
                    ("AttributeValue".into(), attribute_value(&props[*member]).unwrap_or_default()),
                ];
                p.call_sns("SetSubscriptionAttributes", &params)
                    .await
                    .map_err(|e| step.aws("SetSubscriptionAttributes", &e))?;
            }
            return Ok(Done::new(&arn, true));
        }
        if alive {
            // The subscription now points elsewhere: the old one goes.
            let _ = p.call_sns("Unsubscribe", &[("SubscriptionArn".into(), arn)]).await;
        }
    }
    let arn = subscribe(p, step, &topic, &protocol, &endpoint, &attributes).await?;
    Ok(Done::new(arn, false))
}

/// Subscribe (idempotent by topic, protocol and endpoint); returns the subscription's ARN.
async fn subscribe(
    p: &Provisioner<'_>,
    step: &Step,
    topic: &str,
    protocol: &str,
    endpoint: &str,
    attributes: &[(String, String)],
) -> Result<String, ProvisionError> {
    let mut params = vec![
        ("TopicArn".to_string(), topic.to_string()),
        ("Protocol".into(), protocol.to_string()),
        ("Endpoint".into(), endpoint.to_string()),
        ("ReturnSubscriptionArn".into(), "true".into()),
    ];
    for (i, (k, v)) in attributes.iter().enumerate() {
        params.push((format!("Attributes.entry.{}.key", i + 1), k.clone()));
        params.push((format!("Attributes.entry.{}.value", i + 1), v.clone()));
    }
    let xml = p.call_sns("Subscribe", &params).await.map_err(|e| step.aws("Subscribe", &e))?;
    xml_text(&xml, "SubscriptionArn").ok_or_else(|| step.error("Subscribe", "no SubscriptionArn in the response"))
}
