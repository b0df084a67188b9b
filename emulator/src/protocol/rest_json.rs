//! restJson1 (Lambda): operations chosen by method and path; errors are a JSON body
//! `{"Type": "User"|"Service", "message": …}` with the code in `X-Amzn-ErrorType`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::error::AwsError;

pub fn error_response(err: &AwsError, _request_id: &str) -> Response {
    let kind = if err.sender_fault { "User" } else { "Service" };
    let mut body = serde_json::json!({ "Type": kind, "message": err.message });
    if let (Some(extra), Some(obj)) = (&err.json, body.as_object_mut()) {
        obj.extend(extra.clone());
    }
    let mut resp = (err.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        resp.headers_mut().insert("x-amzn-ErrorType", v);
    }
    resp
}
