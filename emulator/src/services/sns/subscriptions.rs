//! Subscriptions: subscribe (with confirmation by mailed link, http request or flag), confirm,
//! unsubscribe, list, attributes.

use axum::response::Response;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::topics::{self, Topic};
use super::{Attrs, delivery, invalid, not_found, page_token, respond};
use crate::error::Result;
use crate::protocol::aws_query::QueryInput;
use crate::state::Ctx;

/// A stored subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    pub confirmed: bool,
    pub token: String,
    pub attributes: Attrs,
}

const COLUMNS: &str = "arn, topic_arn, protocol, endpoint, owner, confirmed, token, attributes, seq";

fn from_row(r: &SqliteRow) -> Subscription {
    Subscription {
        arn: r.get(0),
        topic_arn: r.get(1),
        protocol: r.get(2),
        endpoint: r.get(3),
        owner: r.get(4),
        confirmed: r.get::<i64, _>(5) != 0,
        token: r.get(6),
        attributes: serde_json::from_str(r.get::<&str, _>(7)).unwrap_or_default(),
    }
}

/// Confirmed subscriptions of a topic, in subscription order.
pub async fn confirmed_of(ctx: &Ctx, topic_arn: &str) -> Result<Vec<Subscription>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND confirmed = 1 ORDER BY seq"
    ))
    .bind(topic_arn)
    .fetch_all(ctx.store().pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

async fn load(ctx: &Ctx, arn: &str) -> Result<Subscription> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM sns_subscriptions WHERE arn = ?"))
        .bind(arn)
        .fetch_optional(ctx.store().pool())
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| not_found("Subscription does not exist"))
}

const PROTOCOLS: &[&str] = &["http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"];

/// Subscription attributes a caller may set.
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

pub fn is_phone_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

fn check_endpoint(protocol: &str, endpoint: &str) -> Result<()> {
    let ok = match protocol {
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "email" | "email-json" => endpoint
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.contains('@')),
        "sms" => is_phone_number(endpoint),
        "lambda" => endpoint.starts_with("arn:aws:lambda:"),
        "sqs" => endpoint.starts_with("arn:aws:sqs:"),
        "firehose" => endpoint.starts_with("arn:aws:firehose:"),
        _ => endpoint.starts_with("arn:"),
    };
    if ok {
        Ok(())
    } else if protocol.starts_with("email") {
        Err(invalid("Email address"))
    } else {
        Err(invalid("Endpoint"))
    }
}

fn check_attribute(name: &str, value: &str) -> Result<()> {
    if !SETTABLE.contains(&name) {
        return Err(invalid("AttributeName"));
    }
    match name {
        "FilterPolicy" if !value.is_empty() => match serde_json::from_str::<serde_json::Value>(value) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            _ => Err(invalid("FilterPolicy: failed to parse JSON.")),
        },
        "FilterPolicyScope" if !matches!(value, "MessageAttributes" | "MessageBody") => Err(invalid(
            "Attributes Reason: FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes",
        )),
        "RawMessageDelivery" if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") => {
            Err(invalid("Attributes Reason: RawMessageDelivery: Invalid value. Must be true or false."))
        }
        _ => Ok(()),
    }
}

pub async fn subscribe(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let topic = topics::load(ctx, q.required("TopicArn")?).await?;
    let protocol = q.required("Protocol")?.to_ascii_lowercase();
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(invalid(&format!("Amazon SNS does not support this protocol string: {protocol}")));
    }
    let endpoint = q.get("Endpoint").ok_or_else(|| invalid("Endpoint"))?.to_string();
    check_endpoint(&protocol, &endpoint)?;
    let attributes = q.map("Attributes");
    for (k, v) in &attributes {
        check_attribute(k, v)?;
    }
    let return_arn = q.bool("ReturnSubscriptionArn")?.unwrap_or(false);

    let existing = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?"
    ))
    .bind(&topic.arn)
    .bind(&protocol)
    .bind(&endpoint)
    .fetch_optional(ctx.store().pool())
    .await?
    .map(|r| from_row(&r));

    let sub = match existing {
        Some(s) => s,
        None => {
            // http(s) endpoints always confirm through the SubscribeURL; mail and SMS through the
            // mailed link unless the instance auto-confirms; the rest need no confirmation.
            let needs_confirmation = match protocol.as_str() {
                "http" | "https" => true,
                "email" | "email-json" | "sms" => !ctx.config().auto_confirm_subscriptions,
                _ => false,
            };
            let sub = Subscription {
                arn: format!("{}:{}", topic.arn, ctx.rng().uuid()),
                topic_arn: topic.arn.clone(),
                protocol: protocol.clone(),
                endpoint: endpoint.clone(),
                owner: ctx.account().to_string(),
                confirmed: !needs_confirmation,
                token: ctx.rng().hex(128),
                attributes,
            };
            sqlx::query(
                "INSERT INTO sns_subscriptions (arn, topic_arn, protocol, endpoint, owner, confirmed, token, attributes)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&sub.arn)
            .bind(&sub.topic_arn)
            .bind(&sub.protocol)
            .bind(&sub.endpoint)
            .bind(&sub.owner)
            .bind(sub.confirmed as i64)
            .bind(&sub.token)
            .bind(serde_json::to_string(&sub.attributes).unwrap_or_default())
            .execute(&mut *ctx.store().turn().await?)
            .await?;
            sub
        }
    };
    if !sub.confirmed {
        delivery::request_confirmation(ctx, &topic, &sub).await?;
    }
    let shown = if sub.confirmed || return_arn { sub.arn.clone() } else { "pending confirmation".to_string() };
    Ok(respond(ctx, "Subscribe", |x| {
        x.text("SubscriptionArn", &shown);
    }))
}

pub async fn confirm_subscription(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let topic: Topic = topics::load(ctx, q.required("TopicArn")?).await?;
    let token = q.required("Token")?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND token = ?"))
        .bind(&topic.arn)
        .bind(token)
        .fetch_optional(ctx.store().pool())
        .await?
        .ok_or_else(|| invalid("Token"))?;
    let sub = from_row(&row);
    sqlx::query("UPDATE sns_subscriptions SET confirmed = 1 WHERE arn = ?")
        .bind(&sub.arn)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(respond(ctx, "ConfirmSubscription", |x| {
        x.text("SubscriptionArn", &sub.arn);
    }))
}

pub async fn unsubscribe(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let arn = q.required("SubscriptionArn")?;
    let done = sqlx::query("DELETE FROM sns_subscriptions WHERE arn = ?")
        .bind(arn)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("Subscription does not exist"));
    }
    Ok(respond(ctx, "Unsubscribe", |_| {}))
}

async fn list(ctx: &Ctx, q: &QueryInput, action: &str, topic: Option<&str>) -> Result<Response> {
    let after = page_token(q.get("NextToken"))?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sns_subscriptions WHERE seq > ?1 AND (?2 IS NULL OR topic_arn = ?2) ORDER BY seq LIMIT 101"
    ))
    .bind(after)
    .bind(topic)
    .fetch_all(ctx.store().pool())
    .await?;
    let more = rows.len() > 100;
    let page = &rows[..rows.len().min(100)];
    let last_seq: Option<i64> = page.last().map(|r| r.get(8));
    let subs: Vec<Subscription> = page.iter().map(from_row).collect();
    Ok(respond(ctx, action, |x| {
        x.open("Subscriptions");
        for s in &subs {
            x.open("member")
                .text("SubscriptionArn", if s.confirmed { &s.arn } else { "PendingConfirmation" })
                .text("Owner", &s.owner)
                .text("Protocol", &s.protocol)
                .text("Endpoint", &s.endpoint)
                .text("TopicArn", &s.topic_arn)
                .close("member");
        }
        x.close("Subscriptions");
        if more && let Some(seq) = last_seq {
            x.text("NextToken", &seq.to_string());
        }
    }))
}

pub async fn list_subscriptions(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    list(ctx, q, "ListSubscriptions", None).await
}

pub async fn list_subscriptions_by_topic(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let topic = topics::load(ctx, q.required("TopicArn")?).await?;
    list(ctx, q, "ListSubscriptionsByTopic", Some(&topic.arn)).await
}

pub async fn get_subscription_attributes(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let s = load(ctx, q.required("SubscriptionArn")?).await?;
    let mut a = Attrs::new();
    a.insert("SubscriptionArn".into(), s.arn.clone());
    a.insert("TopicArn".into(), s.topic_arn.clone());
    a.insert("Owner".into(), s.owner.clone());
    a.insert("Protocol".into(), s.protocol.clone());
    a.insert("Endpoint".into(), s.endpoint.clone());
    a.insert("PendingConfirmation".into(), (!s.confirmed).to_string());
    a.insert("ConfirmationWasAuthenticated".into(), s.confirmed.to_string());
    a.insert("RawMessageDelivery".into(), "false".into());
    a.insert("SubscriptionPrincipal".into(), format!("arn:aws:iam::{}:root", s.owner));
    a.extend(s.attributes.clone());
    Ok(respond(ctx, "GetSubscriptionAttributes", |x| {
        x.map("Attributes", a.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }))
}

pub async fn set_subscription_attributes(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let mut s = load(ctx, q.required("SubscriptionArn")?).await?;
    let name = q.required("AttributeName")?;
    let value = q.get("AttributeValue").unwrap_or("");
    check_attribute(name, value)?;
    s.attributes.insert(name.to_string(), value.to_string());
    sqlx::query("UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?")
        .bind(serde_json::to_string(&s.attributes).unwrap_or_default())
        .bind(&s.arn)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(respond(ctx, "SetSubscriptionAttributes", |_| {}))
}
