//! SNS (awsQuery, version 2010-03-31).
use axum::response::Response;

use crate::error::Result;
use crate::protocol::aws_query::{self, QueryInput};
use crate::state::Ctx;

pub const VERSION: &str = "2010-03-31";
pub const FLAVOR: aws_query::Flavor = aws_query::Flavor { xmlns: "http://sns.amazonaws.com/doc/2010-03-31/" };

pub async fn handle(_ctx: &Ctx, input: &QueryInput) -> Result<Response> {
    Err(crate::error::AwsError::bad_request(
        "InvalidAction",
        format!("Could not find operation {} for version {VERSION}", input.action().unwrap_or("")),
    ))
}
