//! Topics: create (idempotent), delete, list, attributes, tags.

use std::collections::BTreeMap;

use axum::response::Response;
use sqlx::Row;

use super::{Attrs, invalid, not_found, page_token, respond};
use crate::error::Result;
use crate::protocol::aws_query::QueryInput;
use crate::state::Ctx;

/// A stored topic.
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub attributes: Attrs,
}

pub fn topic_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:sns:{}:{}:{name}", ctx.config().region, ctx.account())
}

/// A `TopicArn` argument that cannot name a topic of this account is an InvalidParameter;
/// one that could but does not exist is NotFound.
pub async fn load(ctx: &Ctx, arn: &str) -> Result<Topic> {
    let prefix = format!("arn:aws:sns:{}:{}:", ctx.config().region, ctx.account());
    if !arn.strip_prefix(&prefix).is_some_and(valid_name) {
        return Err(invalid("TopicArn"));
    }
    let row = sqlx::query("SELECT arn, name, attributes FROM sns_topics WHERE arn = ?")
        .bind(arn)
        .fetch_optional(ctx.store().pool())
        .await?
        .ok_or_else(|| not_found("Topic does not exist"))?;
    Ok(Topic {
        arn: row.get(0),
        name: row.get(1),
        attributes: serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default(),
    })
}

fn valid_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty() && name.len() <= 256 && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Topic attributes a caller may set (FifoTopic only at creation).
const SETTABLE: &[&str] = &[
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "DataProtectionPolicy",
    "FifoThroughputScope",
];

fn check_attribute(name: &str, value: &str) -> Result<()> {
    if !SETTABLE.contains(&name) {
        return Err(invalid("AttributeName"));
    }
    if matches!(name, "Policy" | "DeliveryPolicy" | "ArchivePolicy" | "DataProtectionPolicy")
        && serde_json::from_str::<serde_json::Value>(value).is_err()
    {
        return Err(invalid(&format!("{name}: failed to parse JSON")));
    }
    Ok(())
}

pub async fn create_topic(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let name = q.required("Name")?;
    let mut attributes = q.map("Attributes");
    let fifo = attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !valid_name(name) || name.ends_with(".fifo") != fifo {
        return Err(invalid("Topic Name"));
    }
    for (k, v) in &attributes {
        if k != "FifoTopic" {
            check_attribute(k, v)?;
        }
    }
    if fifo {
        attributes.insert("FifoTopic".into(), "true".into());
    } else {
        attributes.remove("FifoTopic");
    }
    let tags = tags_of(q);
    let arn = topic_arn(ctx, name);
    let inserted =
        sqlx::query("INSERT INTO sns_topics (arn, name, attributes, tags) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(&arn)
            .bind(name)
            .bind(serde_json::to_string(&attributes).unwrap_or_default())
            .bind(serde_json::to_string(&tags).unwrap_or_default())
            .execute(&mut *ctx.store().turn().await?)
            .await?;
    if inserted.rows_affected() == 0 {
        // Idempotent by name, as long as the request does not contradict the existing topic.
        let existing = load(ctx, &arn).await?;
        if attributes.iter().any(|(k, v)| existing.attributes.get(k) != Some(v)) {
            return Err(invalid("Attributes Reason: Topic already exists with different attributes"));
        }
    }
    Ok(respond(ctx, "CreateTopic", |x| {
        x.text("TopicArn", &arn);
    }))
}

fn tags_of(q: &QueryInput) -> BTreeMap<String, String> {
    q.numbered("Tags.member.")
        .into_iter()
        .filter_map(|(_, f)| Some((f.get("Key")?.clone(), f.get("Value").cloned().unwrap_or_default())))
        .collect()
}

pub async fn delete_topic(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let arn = q.required("TopicArn")?;
    // Deleting a topic that does not exist succeeds, as in AWS.
    sqlx::query("DELETE FROM sns_topics WHERE arn = ?").bind(arn).execute(&mut *ctx.store().turn().await?).await?;
    Ok(respond(ctx, "DeleteTopic", |_| {}))
}

pub async fn list_topics(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let after = page_token(q.get("NextToken"))?;
    let rows = sqlx::query("SELECT seq, arn FROM sns_topics WHERE seq > ? ORDER BY seq LIMIT 101")
        .bind(after)
        .fetch_all(ctx.store().pool())
        .await?;
    let more = rows.len() > 100;
    let page: Vec<(i64, String)> = rows.iter().take(100).map(|r| (r.get(0), r.get(1))).collect();
    Ok(respond(ctx, "ListTopics", |x| {
        x.open("Topics");
        for (_, arn) in &page {
            x.open("member").text("TopicArn", arn).close("member");
        }
        x.close("Topics");
        if more && let Some((seq, _)) = page.last() {
            x.text("NextToken", &seq.to_string());
        }
    }))
}

/// Attributes as GetTopicAttributes reports them: the stored ones plus the computed ones.
pub async fn effective_attributes(ctx: &Ctx, t: &Topic) -> Result<Attrs> {
    let counts = sqlx::query(
        "SELECT COALESCE(SUM(confirmed = 1), 0), COALESCE(SUM(confirmed = 0), 0) FROM sns_subscriptions WHERE topic_arn = ?",
    )
    .bind(&t.arn)
    .fetch_one(ctx.store().pool())
    .await?;
    let mut a = Attrs::new();
    a.insert("TopicArn".into(), t.arn.clone());
    a.insert("Owner".into(), ctx.account().to_string());
    a.insert("DisplayName".into(), String::new());
    a.insert("Policy".into(), default_policy(ctx, &t.arn));
    a.insert("SubscriptionsConfirmed".into(), counts.get::<i64, _>(0).to_string());
    a.insert("SubscriptionsPending".into(), counts.get::<i64, _>(1).to_string());
    a.insert("SubscriptionsDeleted".into(), "0".into());
    a.insert(
        "EffectiveDeliveryPolicy".into(),
        r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#.into(),
    );
    if t.name.ends_with(".fifo") {
        a.insert("ContentBasedDeduplication".into(), "false".into());
    }
    a.extend(t.attributes.clone());
    Ok(a)
}

fn default_policy(ctx: &Ctx, arn: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                       "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": ctx.account()}}
        }]
    })
    .to_string()
}

pub async fn get_topic_attributes(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let topic = load(ctx, q.required("TopicArn")?).await?;
    let attrs = effective_attributes(ctx, &topic).await?;
    Ok(respond(ctx, "GetTopicAttributes", |x| {
        x.map("Attributes", attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }))
}

pub async fn set_topic_attributes(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let mut topic = load(ctx, q.required("TopicArn")?).await?;
    let name = q.required("AttributeName")?;
    let value = q.get("AttributeValue").unwrap_or("");
    check_attribute(name, value)?;
    topic.attributes.insert(name.to_string(), value.to_string());
    sqlx::query("UPDATE sns_topics SET attributes = ? WHERE arn = ?")
        .bind(serde_json::to_string(&topic.attributes).unwrap_or_default())
        .bind(&topic.arn)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(respond(ctx, "SetTopicAttributes", |_| {}))
}

async fn load_tags(ctx: &Ctx, arn: &str) -> Result<BTreeMap<String, String>> {
    let row = sqlx::query("SELECT tags FROM sns_topics WHERE arn = ?")
        .bind(arn)
        .fetch_optional(ctx.store().pool())
        .await?
        .ok_or_else(|| not_found("Resource does not exist"))?;
    Ok(serde_json::from_str(row.get::<&str, _>(0)).unwrap_or_default())
}

async fn save_tags(ctx: &Ctx, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    sqlx::query("UPDATE sns_topics SET tags = ? WHERE arn = ?")
        .bind(serde_json::to_string(tags).unwrap_or_default())
        .bind(arn)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(())
}

pub async fn tag_resource(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let arn = q.required("ResourceArn")?;
    let mut tags = load_tags(ctx, arn).await?;
    tags.extend(tags_of(q));
    if tags.len() > 50 {
        return Err(crate::error::AwsError::bad_request(
            "TagLimitExceeded",
            "Could not complete request: tag quota of per resource exceeded",
        ));
    }
    save_tags(ctx, arn, &tags).await?;
    Ok(respond(ctx, "TagResource", |_| {}))
}

pub async fn untag_resource(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let arn = q.required("ResourceArn")?;
    let mut tags = load_tags(ctx, arn).await?;
    for k in q.list("TagKeys") {
        tags.remove(&k);
    }
    save_tags(ctx, arn, &tags).await?;
    Ok(respond(ctx, "UntagResource", |_| {}))
}

pub async fn list_tags_for_resource(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let tags = load_tags(ctx, q.required("ResourceArn")?).await?;
    Ok(respond(ctx, "ListTagsForResource", |x| {
        x.open("Tags");
        for (k, v) in &tags {
            x.open("member").text("Key", k).text("Value", v).close("member");
        }
        x.close("Tags");
    }))
}
