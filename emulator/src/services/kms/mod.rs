//! KMS (awsJson1_1, `TrentService.*`).
use axum::response::Response;

use crate::error::Result;
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "TrentService";
pub const FLAVOR: aws_json::Flavor = aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" };

pub async fn handle(_ctx: &Ctx, _op: &str, _body: &[u8]) -> Result<Response> {
    Err(crate::gateway::unknown_operation())
}
