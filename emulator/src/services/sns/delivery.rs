//! Getting messages to subscribers: e-mail, e-mail-JSON and SMS into the mailbox; http(s)
//! endpoints receive the JSON documents SNS posts, with the `x-amz-sns-*` headers, retried
//! with back-off in the background.
//!
//! Documents are not signed: `Signature` and `SigningCertURL` are empty strings.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::publish::Message;
use super::subscriptions::Subscription;
use super::topics::Topic;
use crate::error::Result;
use crate::state::{Ctx, Emu};
use crate::store::mailbox::Outgoing;

/// Retries after the first attempt, and the first back-off.
const RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

fn url(ctx: &Ctx, params: &[(&str, &str)]) -> String {
    let mut all = vec![("Version", super::VERSION)];
    all.extend_from_slice(params);
    format!("{}/?{}", ctx.emu.endpoint, serde_urlencoded::to_string(&all).unwrap_or_default())
}

fn subscribe_url(ctx: &Ctx, sub: &Subscription) -> String {
    url(ctx, &[("Action", "ConfirmSubscription"), ("TopicArn", &sub.topic_arn), ("Token", &sub.token)])
}

fn unsubscribe_url(ctx: &Ctx, sub: &Subscription) -> String {
    url(ctx, &[("Action", "Unsubscribe"), ("SubscriptionArn", &sub.arn)])
}

async fn mail(ctx: &Ctx, channel: &str, to: &str, subject: Option<&str>, body: &str) -> Result<()> {
    let outgoing = Outgoing { channel, source: "sns", destination: to, subject, body };
    ctx.store().send_mail(&ctx.now_rfc3339(), outgoing).await?;
    Ok(())
}

pub async fn sms(ctx: &Ctx, number: &str, text: &str) -> Result<()> {
    mail(ctx, "sms", number, None, text).await
}

fn confirmation_document(ctx: &Ctx, topic: &Topic, sub: &Subscription) -> Value {
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": ctx.rng().uuid(),
        "Token": sub.token,
        "TopicArn": topic.arn,
        "Message": format!("You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.", topic.arn),
        "SubscribeURL": subscribe_url(ctx, sub),
        "Timestamp": ctx.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
    })
}

/// Asks the endpoint to confirm a pending subscription.
pub async fn request_confirmation(ctx: &Ctx, topic: &Topic, sub: &Subscription) -> Result<()> {
    let link = subscribe_url(ctx, sub);
    match sub.protocol.as_str() {
        "email" => {
            let body = format!(
                "You have chosen to subscribe to the topic:\n{}\n\nTo confirm this subscription, click or visit the link below (If this was in error no action is necessary):\nConfirm subscription: {link}\n\nToken: {}\n",
                topic.arn, sub.token
            );
            mail(ctx, "email", &sub.endpoint, Some("AWS Notification - Subscription Confirmation"), &body).await
        }
        "email-json" => {
            let doc = confirmation_document(ctx, topic, sub);
            mail(ctx, "email", &sub.endpoint, Some("AWS Notification - Subscription Confirmation"), &doc.to_string())
                .await
        }
        "sms" => {
            let body = format!("Confirm the subscription to {} at {link} (token {})", topic.name, sub.token);
            sms(ctx, &sub.endpoint, &body).await
        }
        "http" | "https" => {
            let doc = confirmation_document(ctx, topic, sub);
            post(ctx, sub, "SubscriptionConfirmation", doc.to_string(), None);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn notification_document(ctx: &Ctx, topic: &Topic, sub: &Subscription, msg: &Message) -> Value {
    let mut doc = Map::new();
    doc.insert("Type".into(), "Notification".into());
    doc.insert("MessageId".into(), msg.id.clone().into());
    doc.insert("TopicArn".into(), topic.arn.clone().into());
    if let Some(s) = &msg.subject {
        doc.insert("Subject".into(), s.clone().into());
    }
    doc.insert("Message".into(), msg.body_for(&sub.protocol).to_string().into());
    doc.insert("Timestamp".into(), msg.timestamp.clone().into());
    doc.insert("SignatureVersion".into(), "1".into());
    doc.insert("Signature".into(), "".into());
    doc.insert("SigningCertURL".into(), "".into());
    doc.insert("UnsubscribeURL".into(), unsubscribe_url(ctx, sub).into());
    if !msg.attributes.is_empty() {
        let attrs: Map<String, Value> = msg
            .attributes
            .iter()
            .map(|(k, a)| {
                let kind = if a.data_type.starts_with("Binary") { "Binary" } else { a.data_type.as_str() };
                (k.clone(), json!({"Type": kind, "Value": a.value}))
            })
            .collect();
        doc.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(doc)
}

/// Lambda's `SnsEvent` for one message: the notification document in the event's casing
/// (`SigningCertUrl`, `UnsubscribeUrl`, `Subject` null when absent).
fn lambda_event(ctx: &Ctx, topic: &Topic, sub: &Subscription, msg: &Message) -> Value {
    let doc = notification_document(ctx, topic, sub, msg);
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": sub.arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": doc["MessageId"],
                "TopicArn": doc["TopicArn"],
                "Subject": doc.get("Subject").cloned().unwrap_or(Value::Null),
                "Message": doc["Message"],
                "Timestamp": doc["Timestamp"],
                "SignatureVersion": "1",
                "Signature": "",
                "SigningCertUrl": "",
                "UnsubscribeUrl": doc["UnsubscribeURL"],
                "MessageAttributes": doc.get("MessageAttributes").cloned().unwrap_or_else(|| json!({})),
            }
        }]
    })
}

/// Delivers one message to one confirmed subscription.
pub async fn deliver(ctx: &Ctx, topic: &Topic, sub: &Subscription, msg: &Message) -> Result<()> {
    let raw = sub.attributes.get("RawMessageDelivery").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match sub.protocol.as_str() {
        "email" => {
            let subject = msg.subject.as_deref().unwrap_or("AWS Notification Message");
            let body = format!(
                "{}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{}\n",
                msg.body_for("email"),
                unsubscribe_url(ctx, sub)
            );
            mail(ctx, "email", &sub.endpoint, Some(subject), &body).await
        }
        "email-json" => {
            let subject = msg.subject.as_deref().unwrap_or("AWS Notification Message");
            let doc = notification_document(ctx, topic, sub, msg);
            mail(ctx, "email", &sub.endpoint, Some(subject), &doc.to_string()).await
        }
        "sms" => {
            let text = msg.body_for("sms");
            let body = match topic.attributes.get("DisplayName").filter(|d| !d.is_empty()) {
                Some(name) => format!("{name}> {text}"),
                None => text.to_string(),
            };
            sms(ctx, &sub.endpoint, &body).await
        }
        "http" | "https" => {
            let body = if raw {
                msg.body_for(&sub.protocol).to_string()
            } else {
                notification_document(ctx, topic, sub, msg).to_string()
            };
            post(ctx, sub, "Notification", body, Some(&msg.id));
            Ok(())
        }
        "lambda" => {
            let event = lambda_event(ctx, topic, sub, msg);
            let name = crate::services::lambda::function_name(&sub.endpoint);
            ctx.emu.functions.invoke_async(&ctx.emu, name, event.to_string().into());
            Ok(())
        }
        other => {
            tracing::info!(protocol = other, subscription = %sub.arn, "no delivery for this protocol yet");
            Ok(())
        }
    }
}

/// POSTs a document to an http(s) subscriber in the background, retrying failures.
fn post(ctx: &Ctx, sub: &Subscription, kind: &'static str, body: String, message_id: Option<&str>) {
    let emu: Arc<Emu> = ctx.emu.clone();
    let endpoint = sub.endpoint.clone();
    let sub_arn = sub.arn.clone();
    let topic_arn = sub.topic_arn.clone();
    let message_id = message_id.map(str::to_string).unwrap_or_else(|| ctx.rng().uuid());
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..=RETRIES {
            let mut req = emu
                .http
                .post(&endpoint)
                .header("content-type", "text/plain; charset=UTF-8")
                .header("user-agent", "Amazon Simple Notification Service Agent")
                .header("x-amz-sns-message-type", kind)
                .header("x-amz-sns-message-id", &message_id)
                .header("x-amz-sns-topic-arn", &topic_arn)
                .body(body.clone());
            if kind == "Notification" {
                req = req.header("x-amz-sns-subscription-arn", &sub_arn);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => tracing::warn!(%endpoint, status = r.status().as_u16(), attempt, "sns delivery refused"),
                Err(e) => tracing::warn!(%endpoint, error = %e, attempt, "sns delivery failed"),
            }
            if attempt < RETRIES {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        tracing::warn!(%endpoint, subscription = %sub_arn, "sns delivery given up");
    });
}
