//! SNS topics with their subscriptions, read from the SNS tables directly: the listing
//! operations answer in XML, page by 100 and hide what matters here (a subscription waiting
//! for confirmation has no ARN there, only `PendingConfirmation`).
//! Confirmation tokens are not returned: with one, anyone could confirm a subscription.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sqlx::Row;

use super::{Shared, from_aws};
use crate::error::Result;
use crate::state::Emu;

fn object(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A JSON-valued attribute (`FilterPolicy`, `Policy`, …) parsed for display, or as given.
fn parsed(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

async fn all_topics(emu: &Emu) -> Result<Vec<Value>> {
    let pool = emu.store.pool();
    let topics = sqlx::query("SELECT arn, name, attributes, tags FROM sns_topics ORDER BY seq").fetch_all(pool).await?;
    let subs = sqlx::query(
        "SELECT arn, topic_arn, protocol, endpoint, owner, confirmed, attributes FROM sns_subscriptions ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(topics.len());
    for t in &topics {
        let arn: String = t.get(0);
        let subscriptions: Vec<Value> = subs
            .iter()
            .filter(|s| s.get::<String, _>(1) == arn)
            .map(|s| {
                let attributes = object(s.get::<&str, _>(6));
                let confirmed = s.get::<i64, _>(5) != 0;
                json!({
                    "arn": s.get::<String, _>(0),
                    "protocol": s.get::<String, _>(2),
                    "endpoint": s.get::<String, _>(3),
                    "owner": s.get::<String, _>(4),
                    "confirmed": confirmed,
                    "filterPolicy": parsed(attributes.get("FilterPolicy")),
                    "filterPolicyScope": attributes.get("FilterPolicyScope"),
                    "rawMessageDelivery": attributes.get("RawMessageDelivery").and_then(Value::as_str) == Some("true"),
                    "attributes": attributes,
                })
            })
            .collect();
        let mut attributes = object(t.get::<&str, _>(2));
        let policy = parsed(attributes.remove("Policy").as_ref());
        out.push(json!({
            "arn": arn,
            "name": t.get::<String, _>(1),
            "attributes": attributes,
            "policy": policy,
            "tags": object(t.get::<&str, _>(3)),
            "subscriptions": subscriptions,
        }));
    }
    Ok(out)
}

/// `GET /console/topics`.
pub(super) async fn topics(State(emu): Shared) -> Response {
    match all_topics(&emu).await {
        Ok(t) => axum::Json(json!({ "topics": t })).into_response(),
        Err(e) => from_aws(e),
    }
}
