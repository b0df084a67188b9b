//! SNS (awsQuery, `Version=2010-03-31`, XML responses).
//!
//! | file               | what                                                            |
//! |--------------------|-----------------------------------------------------------------|
//! | `mod.rs`           | operation table, shared error helpers                            |
//! | `topics.rs`        | Create/Delete/ListTopics, topic attributes, tags                 |
//! | `subscriptions.rs` | Subscribe, Confirm, Unsubscribe, listings, subscription attributes |
//! | `publish.rs`       | Publish, PublishBatch, message structure, filter policies        |
//! | `delivery.rs`      | mailbox deliveries and http(s) posts with retries                |

mod delivery;
mod publish;
mod subscriptions;
mod topics;

use std::collections::BTreeMap;

use axum::response::Response;
use http::StatusCode;

use crate::error::{AwsError, Result};
use crate::protocol::aws_query::{self, QueryInput, XmlBody};
use crate::state::Ctx;

pub const VERSION: &str = "2010-03-31";
pub const FLAVOR: aws_query::Flavor = aws_query::Flavor { xmlns: "http://sns.amazonaws.com/doc/2010-03-31/" };

/// Attribute maps (topics, subscriptions) as stored.
pub type Attrs = BTreeMap<String, String>;

/// The operation table: one line per operation.
pub async fn handle(ctx: &Ctx, q: &QueryInput) -> Result<Response> {
    let action = q.action().unwrap_or("");
    match action {
        "CreateTopic" => topics::create_topic(ctx, q).await,
        "DeleteTopic" => topics::delete_topic(ctx, q).await,
        "ListTopics" => topics::list_topics(ctx, q).await,
        "GetTopicAttributes" => topics::get_topic_attributes(ctx, q).await,
        "SetTopicAttributes" => topics::set_topic_attributes(ctx, q).await,
        "TagResource" => topics::tag_resource(ctx, q).await,
        "UntagResource" => topics::untag_resource(ctx, q).await,
        "ListTagsForResource" => topics::list_tags_for_resource(ctx, q).await,
        "Subscribe" => subscriptions::subscribe(ctx, q).await,
        "ConfirmSubscription" => subscriptions::confirm_subscription(ctx, q).await,
        "Unsubscribe" => subscriptions::unsubscribe(ctx, q).await,
        "ListSubscriptions" => subscriptions::list_subscriptions(ctx, q).await,
        "ListSubscriptionsByTopic" => subscriptions::list_subscriptions_by_topic(ctx, q).await,
        "GetSubscriptionAttributes" => subscriptions::get_subscription_attributes(ctx, q).await,
        "SetSubscriptionAttributes" => subscriptions::set_subscription_attributes(ctx, q).await,
        "Publish" => publish::publish(ctx, q).await,
        "PublishBatch" => publish::publish_batch(ctx, q).await,
        _ => Err(AwsError::bad_request(
            "InvalidAction",
            format!("Could not find operation {action} for version {VERSION}"),
        )),
    }
}

fn respond(ctx: &Ctx, action: &str, result: impl FnOnce(&mut XmlBody)) -> Response {
    aws_query::respond(FLAVOR, action, &ctx.request_id, result)
}

/// `InvalidParameter` (400) with SNS's `Invalid parameter: …` message.
fn invalid(what: &str) -> AwsError {
    AwsError::bad_request("InvalidParameter", format!("Invalid parameter: {what}"))
}

/// `NotFound` (404).
fn not_found(message: &str) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NotFound", message)
}

/// The `ValidationError` for a missing required member (as `QueryInput::required` gives).
fn member_null(member: &str) -> AwsError {
    let mut e = AwsError::member_null(member);
    e.code = "ValidationError".into();
    e
}

/// Page tokens are the last row's sequence number; anything else is an invalid token.
fn page_token(token: Option<&str>) -> Result<i64> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t.parse::<i64>().map_err(|_| invalid("NextToken")),
    }
}
