//! One error type for every service; each protocol module renders it in its own wire shape.

use std::borrow::Cow;

use http::StatusCode;

/// An error as AWS reports it: a code (the modelled error shape name, e.g. `NoSuchKey`,
/// `NotFoundException`), a message, the HTTP status, and for the query/XML protocols whether
/// the caller (`Sender`) or the service (`Receiver`) is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct AwsError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: StatusCode,
    pub sender_fault: bool,
    /// Extra elements some errors carry (S3: `Key`, `BucketName`, `Condition`…), in order.
    pub extra: Vec<(&'static str, String)>,
    /// Extra members of a JSON-protocol error body (DynamoDB: `CancellationReasons`, `Item`).
    pub json: Option<serde_json::Map<String, serde_json::Value>>,
}

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

impl AwsError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status.is_client_error(),
            extra: Vec::new(),
            json: None,
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", message)
    }

    /// Adds an element such as `<Key>` to the error (shown by the XML protocols).
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// Adds a member to a JSON-protocol error body.
    pub fn with_json(mut self, name: &str, value: serde_json::Value) -> Self {
        self.json.get_or_insert_with(Default::default).insert(name.to_string(), value);
        self
    }

    /// The `ValidationException` AWS's JSON services send for a constraint violation, e.g.
    /// `1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("ValidationException", message)
    }

    pub fn member_null(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))
    }
}

impl From<sqlx::Error> for AwsError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "storage error");
        Self::internal("storage error")
    }
}

/// `KeyId` → `keyId`: AWS names members in validation messages in lower camel case.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
