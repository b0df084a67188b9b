//! The `@connections` management API (restJson1), as the SDK's `apigatewaymanagement` client
//! calls it with a stage endpoint: `POST` sends data to a client, `GET` describes the
//! connection, `DELETE` closes it (its `$disconnect` runs). Closed or unknown connections answer
//! GoneException (410); calls without a SigV4 signature ForbiddenException (403).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use http::{Method, StatusCode};
use serde_json::json;

use super::websocket::{MAX_MESSAGE, Push};
use crate::error::{AwsError, Result};
use crate::state::Emu;

/// The connection id of a management path (`…/@connections/{id}`), percent-decoded.
pub fn connection_of(path: &str) -> Option<String> {
    let (_, id) = path.rsplit_once("/@connections/")?;
    (!id.is_empty() && !id.contains('/'))
        .then(|| percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned())
}

fn gone(id: &str) -> AwsError {
    AwsError::new(StatusCode::GONE, "GoneException", format!("Connection {id} is gone"))
}

/// Serves one management call. `signed`: whether the request carried a SigV4 signature.
/// The management operation a method stands for.
pub fn operation(method: &Method) -> &'static str {
    match *method {
        Method::POST => "PostToConnection",
        Method::DELETE => "DeleteConnection",
        _ => "GetConnection",
    }
}

pub async fn handle(emu: &Arc<Emu>, method: &Method, id: &str, body: &[u8], signed: bool) -> Result<Response> {
    if !signed {
        return Err(AwsError::new(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden"));
    }
    let conn = emu.sockets.get(id).ok_or_else(|| gone(id))?;
    match *method {
        Method::POST => {
            if body.len() > MAX_MESSAGE {
                return Err(AwsError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    format!("Message size {} exceeds the limit of {MAX_MESSAGE} bytes", body.len()),
                ));
            }
            if !conn.push(Push::Data(bytes::Bytes::copy_from_slice(body))) {
                return Err(gone(id));
            }
            Ok(StatusCode::OK.into_response())
        }
        Method::GET => {
            let fmt = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
            let last = *conn.last_active.lock().expect("activity lock");
            let doc = json!({
                "connectedAt": fmt(conn.connected_at),
                "identity": { "sourceIp": conn.source_ip, "userAgent": conn.user_agent },
                "lastActiveAt": fmt(last),
            });
            Ok((StatusCode::OK, [(http::header::CONTENT_TYPE, "application/json")], doc.to_string()).into_response())
        }
        Method::DELETE => {
            conn.push(Push::Close);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(AwsError::new(StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation")),
    }
}
