//! Wire protocols, shared by every service.
//!
//! A service never touches HTTP framing, JSON/XML/form syntax or SigV4: it receives decoded
//! input and returns a value or an [`AwsError`](crate::error::AwsError); the protocol module
//! renders either in the exact shape AWS clients parse.
//!
//! | protocol   | used by                      | module        |
//! |------------|------------------------------|---------------|
//! | awsJson1_0 | DynamoDB, DynamoDB Streams   | [`aws_json`]  |
//! | awsJson1_1 | KMS, Cognito user pools      | [`aws_json`]  |
//! | awsQuery   | SNS                          | [`aws_query`] |
//! | restJson1  | Lambda                       | [`rest_json`] |
//! | restXml    | S3                           | [`rest_xml`]  |
//! | SigV4      | all (who is calling)         | [`sigv4`]     |

pub mod aws_json;
pub mod aws_query;
pub mod rest_json;
pub mod rest_xml;
pub mod sigv4;

use axum::response::Response;

use crate::error::AwsError;

/// The protocol a request arrived in, which decides how its errors are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    AwsJson(aws_json::Flavor),
    AwsQuery(aws_query::Flavor),
    RestJson,
    RestXml,
}

impl Protocol {
    /// Renders `err` in this protocol's wire shape. `head` drops the body (HTTP HEAD).
    pub fn error_response(&self, err: &AwsError, request_id: &str, head: bool) -> Response {
        match self {
            Protocol::AwsJson(f) => aws_json::error_response(*f, err, request_id),
            Protocol::AwsQuery(f) => aws_query::error_response(*f, err, request_id),
            Protocol::RestJson => rest_json::error_response(err, request_id),
            Protocol::RestXml => rest_xml::error_response(err, request_id, head),
        }
    }
}

/// One HTTP request as the gateway received it, body fully read.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No signature at all (only rejected with `--strict-auth`).
    Missing,
    /// The access key is not configured (only rejected with `--strict-auth`).
    UnknownAccessKey(String),
    /// The recomputed signature differs.
    BadSignature,
    /// A presigned URL past its expiry.
    Expired { expires: String, server_time: String },
}

impl Protocol {
    /// The error each protocol's service sends for an authentication failure.
    pub fn auth_error(&self, failure: AuthFailure) -> AwsError {
        use http::StatusCode as S;
        const SIG_S3: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
        const SIG_OTHER: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
        const TOKEN: &str = "The security token included in the request is invalid.";
        match (self, failure) {
            (Protocol::RestXml, AuthFailure::Missing) => AwsError::new(S::FORBIDDEN, "AccessDenied", "Access Denied"),
            (Protocol::RestXml, AuthFailure::UnknownAccessKey(ak)) => AwsError::new(
                S::FORBIDDEN,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
            .with("AWSAccessKeyId", ak),
            (Protocol::RestXml, AuthFailure::BadSignature) => {
                AwsError::new(S::FORBIDDEN, "SignatureDoesNotMatch", SIG_S3)
            }
            (_, AuthFailure::Expired { expires, server_time }) => {
                AwsError::new(S::FORBIDDEN, "AccessDenied", "Request has expired")
                    .with("Expires", expires)
                    .with("ServerTime", server_time)
            }
            (Protocol::AwsJson(_) | Protocol::RestJson, AuthFailure::Missing) => {
                AwsError::bad_request("MissingAuthenticationTokenException", "Missing Authentication Token")
            }
            (Protocol::AwsJson(_) | Protocol::RestJson, AuthFailure::UnknownAccessKey(_)) => {
                AwsError::bad_request("UnrecognizedClientException", TOKEN)
            }
            (Protocol::AwsJson(_) | Protocol::RestJson, AuthFailure::BadSignature) => {
                AwsError::bad_request("InvalidSignatureException", SIG_OTHER)
            }
            (Protocol::AwsQuery(_), AuthFailure::Missing) => {
                AwsError::new(S::FORBIDDEN, "MissingAuthenticationToken", "Request is missing Authentication Token")
            }
            (Protocol::AwsQuery(_), AuthFailure::UnknownAccessKey(_)) => {
                AwsError::new(S::FORBIDDEN, "InvalidClientTokenId", TOKEN)
            }
            (Protocol::AwsQuery(_), AuthFailure::BadSignature) => {
                AwsError::new(S::FORBIDDEN, "SignatureDoesNotMatch", SIG_OTHER)
            }
        }
    }
}
