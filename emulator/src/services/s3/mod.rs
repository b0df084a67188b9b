//! S3 (restXml).
use axum::response::Response;

use crate::error::{AwsError, Result};
use crate::protocol::HttpRequest;
use crate::state::Ctx;

pub async fn handle(_ctx: &Ctx, _req: &HttpRequest) -> Result<Response> {
    Err(AwsError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
    ))
}
