//! awsJson1_0 / awsJson1_1: `POST /` with `X-Amz-Target: Prefix.Operation` and a JSON body.
//!
//! Decoding failures are mapped the way AWS maps them: unparsable JSON or a member of the wrong
//! type is a `SerializationException`; a missing required member is a `ValidationException`
//! naming the member. Errors go out as `{"__type": "...", "message": "..."}` with status from
//! the error, plus the `x-amzn-RequestId` header.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{AwsError, Result};

/// What differs between the JSON services on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    /// `application/x-amz-json-1.0` or `-1.1`.
    pub content_type: &'static str,
    /// Prefix of `__type` in errors, e.g. `com.amazonaws.dynamodb.v20120810#`; empty for
    /// services (KMS, Cognito) whose errors carry the bare shape name.
    pub error_namespace: &'static str,
}

pub const JSON_1_0: &str = "application/x-amz-json-1.0";
pub const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Decodes an operation's input. An empty body is read as `{}` (as AWS does).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        AwsError::bad_request(
            "SerializationException",
            format!("Start of structure or map found where not expected: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(AwsError::bad_request(
            "SerializationException",
            "Start of structure or map expected at the top level of the request body",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        match missing_field(&text) {
            Some(member) => AwsError::member_null(member),
            None => AwsError::bad_request("SerializationException", text),
        }
    })
}

/// serde reports a missing member as ``missing field `KeyId` ``.
fn missing_field(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Runs one operation: decodes its input, calls the handler, encodes its output. Service
/// operation tables are lists of `"Op" => call(FLAVOR, ctx, body, handler)`.
pub async fn call<C, I: DeserializeOwned, O: Serialize>(
    flavor: Flavor,
    ctx: &C,
    body: &[u8],
    op: impl AsyncFnOnce(&C, I) -> Result<O>,
) -> Result<Response> {
    let input = decode::<I>(body)?;
    let output = op(ctx, input).await?;
    Ok(respond(flavor, &output))
}

/// A JSON service's operation table: `"Op" => handler` lines, each handler an
/// `async fn(&Ctx, Input) -> Result<Output>`; unknown names are `UnknownOperationException`.
macro_rules! json_operations {
    ($flavor:expr, $ctx:expr, $op:expr, $body:expr, { $($name:literal => $handler:path),* $(,)? }) => {
        match $op {
            $($name => $crate::protocol::aws_json::call($flavor, $ctx, $body, $handler).await,)*
            _ => Err($crate::gateway::unknown_operation()),
        }
    };
}
pub(crate) use json_operations;

/// A 200 response carrying `output` as JSON.
pub fn respond<T: Serialize>(flavor: Flavor, output: &T) -> Response {
    match serde_json::to_vec(output) {
        Ok(body) => with_type(flavor, StatusCode::OK, Bytes::from(body)),
        Err(e) => error_response(flavor, &AwsError::internal(e.to_string()), ""),
    }
}

pub fn error_response(flavor: Flavor, err: &AwsError, _request_id: &str) -> Response {
    let mut body = serde_json::json!({
        "__type": format!("{}{}", flavor.error_namespace, err.code),
        "message": err.message,
    });
    if let (Some(extra), Some(obj)) = (&err.json, body.as_object_mut()) {
        obj.extend(extra.clone());
    }
    let mut resp = with_type(flavor, err.status, Bytes::from(body.to_string()));
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        resp.headers_mut().insert("x-amzn-ErrorType", v);
    }
    resp
}

fn with_type(flavor: Flavor, status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, flavor.content_type)], body).into_response()
}

/// Serde helpers for the JSON protocols' blob members (base64 text on the wire).
pub mod blob {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }

    /// For `Option<Vec<u8>>` members: `#[serde(default, with = "blob::option")]`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => super::serialize(b, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| STANDARD.decode(t.as_bytes()).map_err(serde::de::Error::custom)).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Input {
        key_id: String,
        limit: Option<i32>,
    }

    #[test]
    fn missing_member_is_validation_exception_naming_it() {
        let err = decode::<Input>(b"{}").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("Value null at 'keyId'"), "{}", err.message);
    }

    #[test]
    fn bad_json_and_wrong_types_are_serialization_exceptions() {
        assert_eq!(decode::<Input>(b"{not json").unwrap_err().code, "SerializationException");
        assert_eq!(decode::<Input>(b"[1]").unwrap_err().code, "SerializationException");
        let err = decode::<Input>(br#"{"KeyId":"k","Limit":"ten"}"#).unwrap_err();
        assert_eq!(err.code, "SerializationException");
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        #[derive(Deserialize)]
        struct Empty {}
        assert!(decode::<Empty>(b"").is_ok());
    }
}
