//! S3 (restXml): the operation is chosen by method, path (or virtual host) and subresource query.
//!
//! | file          | what                                                          |
//! |---------------|---------------------------------------------------------------|
//! | `mod.rs`      | bucket/key addressing, routing, shared response helpers         |
//! | `bucket.rs`   | Create/Head/Delete/List buckets, GetBucketLocation              |
//! | `object.rs`   | Put/Get/Head/Delete object, DeleteObjects, CopyObject           |
//! | `list.rs`     | ListObjects (v1) and ListObjectsV2                              |
//! | `multipart.rs`| multipart uploads                                               |
//! | `chunked.rs`  | `aws-chunked` request bodies                                    |
//! | `checksum.rs` | Content-MD5 and the flexible checksums                          |
//! | `sse.rs`      | encryption at rest (SSE-S3 master key, SSE-KMS data keys)       |
//! | `store.rs`    | the SQLite tables                                               |

mod bucket;
mod checksum;
mod chunked;
mod list;
mod multipart;
mod object;
mod sse;
pub(crate) mod store;

use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;

use crate::error::{AwsError, Result};
use crate::protocol::HttpRequest;
use crate::state::Ctx;

/// One request with its bucket, key and query decoded.
pub(crate) struct S3Request<'a> {
    pub req: &'a HttpRequest,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub query: Vec<(String, String)>,
}

impl S3Request<'_> {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.header(name)
    }
}

pub async fn handle(ctx: &Ctx, req: &HttpRequest) -> Result<Response> {
    let (bucket, key) = address(req)?;
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.uri.query().unwrap_or(""))
        .map_err(|_| AwsError::bad_request("InvalidURI", "Couldn't parse the specified URI."))?;
    let r = S3Request { req, bucket, key, query };
    if let Some(sub) = r.query.iter().map(|(k, _)| k.as_str()).find(|k| !known_param(k)) {
        return Err(not_implemented(sub));
    }
    let m = &req.method;
    match (&r.bucket, &r.key) {
        (None, _) => match *m {
            Method::GET => bucket::list_buckets(ctx, &r).await,
            _ => Err(method_not_allowed(m, "SERVICE")),
        },
        (Some(b), None) => {
            let b = b.clone();
            match *m {
                Method::PUT if r.query.is_empty() => bucket::create_bucket(ctx, &r, &b).await,
                Method::HEAD => bucket::head_bucket(ctx, &b).await,
                Method::DELETE if r.query.is_empty() => bucket::delete_bucket(ctx, &b).await,
                Method::GET if r.has("location") => bucket::get_location(ctx, &b).await,
                Method::GET if r.has("uploads") => multipart::list_uploads(ctx, &r, &b).await,
                Method::GET if r.q("list-type") == Some("2") => list::list_objects(ctx, &r, &b, true).await,
                Method::GET if !r.has("list-type") => list::list_objects(ctx, &r, &b, false).await,
                Method::GET => Err(AwsError::bad_request("InvalidArgument", "Invalid List Type specified in Request")
                    .with("ArgumentName", "list-type")),
                Method::POST if r.has("delete") => object::delete_objects(ctx, &r, &b).await,
                _ => Err(method_not_allowed(m, "BUCKET")),
            }
        }
        (Some(b), Some(k)) => {
            let (b, k) = (b.clone(), k.clone());
            match *m {
                Method::PUT if r.has("uploadId") || r.has("partNumber") => {
                    if r.header("x-amz-copy-source").is_some() {
                        return Err(not_implemented("UploadPartCopy"));
                    }
                    multipart::upload_part(ctx, &r, &b, &k).await
                }
                Method::PUT if r.header("x-amz-copy-source").is_some() => object::copy_object(ctx, &r, &b, &k).await,
                Method::PUT => object::put_object(ctx, &r, &b, &k).await,
                Method::GET if r.has("uploadId") => multipart::list_parts(ctx, &r, &b, &k).await,
                Method::GET => object::get_object(ctx, &r, &b, &k, false).await,
                Method::HEAD => object::get_object(ctx, &r, &b, &k, true).await,
                Method::DELETE if r.has("uploadId") => multipart::abort(ctx, &r, &b, &k).await,
                Method::DELETE => object::delete_object(ctx, &b, &k).await,
                Method::POST if r.has("uploads") => multipart::create(ctx, &r, &b, &k).await,
                Method::POST if r.has("uploadId") => multipart::complete(ctx, &r, &b, &k).await,
                _ => Err(method_not_allowed(m, "OBJECT")),
            }
        }
    }
}

/// Query parameters this implementation understands; any other subresource is `NotImplemented`.
fn known_param(k: &str) -> bool {
    const KNOWN: &[&str] = &[
        "x-id",
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "marker",
        "uploads",
        "uploadId",
        "partNumber",
        "delete",
        "location",
        "max-parts",
        "part-number-marker",
        "key-marker",
        "upload-id-marker",
        "max-uploads",
        "max-buckets",
        "bucket-region",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
    ];
    KNOWN.contains(&k) || k.starts_with("X-Amz-") || k.starts_with("x-amz-")
}

/// Bucket and key from the virtual host (`bucket.localhost`) or the path (`/bucket/key`).
fn address(req: &HttpRequest) -> Result<(Option<String>, Option<String>)> {
    let raw = req.uri.path();
    let decode = |s: &str| -> Result<String> {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| AwsError::bad_request("InvalidURI", "Couldn't parse the specified URI."))
    };
    let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
    let host = req.header("host").unwrap_or("");
    if let Some(bucket) = virtual_host_bucket(host) {
        let key = raw.strip_prefix('/').unwrap_or(raw);
        return Ok((Some(bucket), non_empty(decode(key)?)));
    }
    let rest = raw.strip_prefix('/').unwrap_or(raw);
    let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((non_empty(decode(b)?), non_empty(decode(k)?)))
}

/// `bucket.localhost[:port]`, `bucket.s3.localhost`, `bucket.s3.<region>.localhost` → `bucket`.
fn virtual_host_bucket(host: &str) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
    .to_ascii_lowercase();
    let rest = name.strip_suffix(".localhost")?;
    if rest.is_empty() || rest == "s3" || rest.starts_with("s3.") {
        return None;
    }
    if let Some(b) = rest.strip_suffix(".s3") {
        return Some(b.to_string());
    }
    if let Some((b, region)) = rest.rsplit_once(".s3.")
        && !region.contains('.')
    {
        return Some(b.to_string());
    }
    Some(rest.to_string())
}

pub(crate) fn not_implemented(what: &str) -> AwsError {
    AwsError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
    )
    .with("Header", what.to_string())
}

fn method_not_allowed(m: &Method, resource: &str) -> AwsError {
    AwsError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
    .with("Method", m.as_str().to_string())
    .with("ResourceType", resource.to_string())
}

pub(crate) fn no_such_bucket(bucket: &str) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist")
        .with("BucketName", bucket.to_string())
}

pub(crate) fn no_such_key(key: &str) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.").with("Key", key.to_string())
}

pub(crate) fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> AwsError {
    AwsError::bad_request("InvalidArgument", message)
        .with("ArgumentName", name.to_string())
        .with("ArgumentValue", value.to_string())
}

/// `2009-10-12T17:50:30.000Z`, the timestamp form of S3's XML.
pub(crate) fn xml_time(rfc3339: &str) -> String {
    parse_time(rfc3339).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)).unwrap_or_else(|| rfc3339.to_string())
}

/// `Wed, 12 Oct 2009 17:50:00 GMT`, the timestamp form of HTTP headers.
pub(crate) fn http_time(rfc3339: &str) -> String {
    parse_time(rfc3339).map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap_or_default()
}

pub(crate) fn parse_time(rfc3339: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(rfc3339).ok().map(|t| t.with_timezone(&Utc))
}

/// An HTTP date in any of the forms clients send (RFC 7231 IMF-fixdate, RFC 850, asctime, ISO 8601).
pub(crate) fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    parse_time(s)
}

/// A response with headers; values that are not valid header text are skipped.
pub(crate) fn response(status: StatusCode, headers: &[(String, String)], body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(name.as_str()), HeaderValue::from_bytes(value.as_bytes())) {
            h.append(n, v);
        }
    }
    resp
}

/// An XML 200 response with extra headers.
pub(crate) fn xml_response<T: serde::Serialize>(
    root: &str,
    value: &T,
    headers: &[(String, String)],
) -> Result<Response> {
    let body = crate::protocol::rest_xml::to_xml(root, value)?;
    let mut all = vec![("content-type".to_string(), "application/xml".to_string())];
    all.extend_from_slice(headers);
    Ok(response(StatusCode::OK, &all, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosts() {
        assert_eq!(virtual_host_bucket("b1.localhost:4566").as_deref(), Some("b1"));
        assert_eq!(virtual_host_bucket("b1.s3.localhost").as_deref(), Some("b1"));
        assert_eq!(virtual_host_bucket("my.b.s3.us-east-1.localhost:9").as_deref(), Some("my.b"));
        assert_eq!(virtual_host_bucket("localhost:4566"), None);
        assert_eq!(virtual_host_bucket("s3.localhost"), None);
        assert_eq!(virtual_host_bucket("127.0.0.1:4566"), None);
    }
}
