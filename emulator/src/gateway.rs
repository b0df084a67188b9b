//! The one HTTP entry point: every request on the port comes here, is classified by protocol,
//! authenticated, checked against the injected faults ([`crate::faults`]), and handed to its
//! service; the service's result (or error) is rendered by that protocol and stamped with
//! request-id headers.
//!
//! Classification, first match wins (design.md §2):
//! 1. `/_emulator/…` → the admin API;
//! 2. `X-Amz-Target: Prefix.Op` → a JSON-protocol service by prefix;
//! 3. SigV4 scope `s3` → S3;
//! 4. a form body (or `?Action=` on `/`) → a query-protocol service by `Version`;
//! 5. everything else → S3 (path-style `/bucket/key` or virtual-host `bucket.localhost`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, header};
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::console::requests::Served;
use crate::error::AwsError;
use crate::journal::Exchange;
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::protocol::aws_query::{self, QueryInput};
use crate::protocol::sigv4::{self, Signature, SignedRequest};
use crate::protocol::{AuthFailure, HttpRequest, Protocol};
use crate::services::{apigw, cognito, dynamodb, kms, lambda, s3, sns};
use crate::state::{Ctx, Emu, Principal};

/// Builds the router for one instance.
pub fn router(emu: Arc<Emu>) -> Router {
    // API stages answer CORS by their own configuration, so they sit outside the service CORS layer.
    let stages = ["{api}", "{api}/", "{api}/{*rest}"]
        .iter()
        .fold(Router::new(), |r, p| {
            r.route(&format!("{}/{p}", apigw::PATH_PREFIX), axum::routing::any(apigw::data_plane))
        })
        .layer(axum::middleware::from_fn_with_state(emu.clone(), record_stage_request));
    Router::new()
        .nest("/_emulator", crate::admin::router())
        .merge(crate::webapp::router())
        .fallback(handle)
        .layer(cors())
        .layer(axum::middleware::from_fn_with_state(emu.clone(), journal_exchange))
        .merge(stages)
        .with_state(emu)
}

/// Records a request to an API stage in the request log: HTTP requests, WebSocket upgrades
/// (answered once `$connect` has decided) and management calls.
async fn record_stage_request(State(emu): State<Arc<Emu>>, req: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let arrived = emu.clock.now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let upgrade = req.headers().contains_key(header::UPGRADE);
    // With a journal, the request's body is read first (API Gateway's payload limit bounds it)
    // and its parts kept, to journal the exchange once answered. A WebSocket upgrade has no
    // body to read (and its frames are journaled by the WebSocket API as they come).
    let (req, journaled) = match &emu.journal {
        Some(_) if upgrade => {
            let (parts, body) = req.into_parts();
            (Request::from_parts(parts.clone(), body), Some((parts, bytes::Bytes::new())))
        }
        Some(_) => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, apigw::MAX_PAYLOAD).await else {
                return apigw::payload_too_large();
            };
            (Request::from_parts(parts.clone(), Body::from(bytes.clone())), Some((parts, bytes)))
        }
        _ => (req, None),
    };
    let mut resp = next.run(req).await;
    let request_id = ["apigw-requestid", "x-amzn-requestid"]
        .iter()
        .find_map(|h| resp.headers().get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_string);
    let operation = match resp.extensions().get::<apigw::MatchedRoute>() {
        Some(m) => Some(m.0.clone()),
        None if upgrade => Some("$connect".to_string()),
        None => None,
    };
    if let (Some(journal), Some((parts, request_body))) = (&emu.journal, journaled) {
        let (resp_parts, body) = resp.into_parts();
        let (recorded, body) = match resp_parts.status {
            // Switching protocols: what follows is the socket, journaled frame by frame.
            http::StatusCode::SWITCHING_PROTOCOLS => (bytes::Bytes::new(), body),
            _ => {
                let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
                (bytes.clone(), Body::from(bytes))
            }
        };
        let connection_id = resp_parts.extensions.get::<apigw::websocket::ConnectionId>().map(|c| c.0.clone());
        let exchange = Exchange {
            arrived,
            service: "execute-api",
            operation: operation.clone(),
            request_id: request_id.clone().unwrap_or_default(),
            request_body,
            fault: None,
            observed: true,
            connection_id,
        };
        journal.record(exchange, &parts, &resp_parts, &recorded);
        resp = Response::from_parts(resp_parts, body);
    }
    emu.requests.record(
        arrived,
        started,
        Served {
            method: method.as_str(),
            path_and_query: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
            service: Some("execute-api"),
            operation: operation.as_deref(),
            status: resp.status().as_u16(),
            request_id: request_id.as_deref(),
            error: None,
        },
    );
    resp
}

/// Journals the gateway's exchanges (`--record`) as the client receives them, CORS headers
/// included; other routes pass through.
async fn journal_exchange(State(emu): State<Arc<Emu>>, req: Request, next: axum::middleware::Next) -> Response {
    let Some(journal) = &emu.journal else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let req_parts = parts.clone();
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    let Some(exchange) = resp.extensions_mut().remove::<Exchange>() else {
        return resp;
    };
    let (resp_parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    journal.record(exchange, &req_parts, &resp_parts, &body);
    Response::from_parts(resp_parts, Body::from(body))
}

/// Browsers may call every service directly: answer preflights and expose the headers SDKs read.
fn cors() -> CorsLayer {
    let expose = [
        "etag",
        "x-amz-request-id",
        "x-amz-id-2",
        "x-amzn-requestid",
        "x-amzn-errortype",
        "x-amz-version-id",
        "x-amz-delete-marker",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
        "content-range",
        "accept-ranges",
        "last-modified",
        "content-length",
    ]
    .map(HeaderName::from_static);
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .expose_headers(expose)
        .max_age(std::time::Duration::from_secs(3600))
}

/// What kind of request this is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `GET /{poolId}/.well-known/{jwks.json|openid-configuration}`.
    WellKnown {
        pool_id: String,
        document: String,
    },
    Json {
        prefix: String,
        op: String,
    },
    Query,
    Lambda,
    /// `/{stage}/@connections/{id}` or `/@connections/{id}` (API Gateway management).
    Connections(String),
    S3,
}

fn classify(method: &Method, headers: &http::HeaderMap, uri: &http::Uri, sig: Option<&Signature>) -> Route {
    if let Some(route) = well_known(method, uri.path()) {
        return route;
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        return Route::Json { prefix: prefix.to_string(), op: op.to_string() };
    }
    let scope = sig.map(|s| s.service.as_str());
    if matches!(scope, None | Some("execute-api"))
        && let Some(id) = apigw::management::connection_of(uri.path())
    {
        return Route::Connections(id);
    }
    if scope == Some("s3") {
        return Route::S3;
    }
    // `2015-03-31` is also a valid bucket name: unsigned requests only count as Lambda's by path.
    if scope == Some("lambda")
        || (scope.is_none()
            && (uri.path().starts_with(lambda::PATH_PREFIX) || uri.path().starts_with(lambda::MAPPINGS_PREFIX)))
    {
        return Route::Lambda;
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let action_in_query =
        uri.path() == "/" && uri.query().is_some_and(|q| q.starts_with("Action=") || q.contains("&Action="));
    if (method == Method::POST && form) || action_in_query || matches!(scope, Some("sns")) {
        return Route::Query;
    }
    Route::S3
}

/// Cognito's discovery documents. Pool ids contain `_`, which S3 bucket names never do, so
/// these paths cannot be S3 objects.
fn well_known(method: &Method, path: &str) -> Option<Route> {
    if method != Method::GET {
        return None;
    }
    let (pool_id, document) = path.strip_prefix('/')?.split_once("/.well-known/")?;
    let is_doc = matches!(document, "jwks.json" | "openid-configuration");
    (is_doc && pool_id.contains('_') && !pool_id.contains('/'))
        .then(|| Route::WellKnown { pool_id: pool_id.to_string(), document: document.to_string() })
}

/// Protocol of JSON services by target prefix; unknown prefixes answer in awsJson1_1.
fn json_protocol(prefix: &str) -> Protocol {
    match prefix {
        kms::TARGET_PREFIX => Protocol::AwsJson(kms::FLAVOR),
        cognito::TARGET_PREFIX => Protocol::AwsJson(cognito::FLAVOR),
        dynamodb::TARGET_PREFIX | dynamodb::streams::TARGET_PREFIX => Protocol::AwsJson(dynamodb::FLAVOR),
        _ => Protocol::AwsJson(aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" }),
    }
}

const GENERIC_QUERY: aws_query::Flavor = aws_query::Flavor { xmlns: "https://iam.amazonaws.com/doc/2010-05-08/" };

async fn handle(State(emu): State<Arc<Emu>>, req: Request) -> Response {
    let started = Instant::now();
    let arrived = emu.clock.now();
    let (parts, body) = req.into_parts();
    let request_id = new_request_id();
    let sig = sigv4::parse(&parts.headers, parts.uri.query());
    let route = classify(&parts.method, &parts.headers, &parts.uri, sig.as_ref());
    let mut protocol = match &route {
        Route::Json { prefix, .. } => json_protocol(prefix),
        Route::Query => match sig.as_ref().map(|s| s.service.as_str()) {
            Some("sns") => Protocol::AwsQuery(sns::FLAVOR),
            _ => Protocol::AwsQuery(GENERIC_QUERY),
        },
        Route::S3 => Protocol::RestXml,
        Route::Lambda | Route::Connections(_) => Protocol::RestJson,
        Route::WellKnown { .. } => Protocol::AwsJson(cognito::FLAVOR),
    };
    let head = parts.method == Method::HEAD;
    let mut action: Option<String> = None;
    let mut request_body = bytes::Bytes::new();
    let mut injected_fault = None;

    let outcome = async {
        let body = read_body(&emu, &parts.headers, body, &route).await?;
        request_body = body.clone();
        let req =
            HttpRequest { method: parts.method.clone(), uri: parts.uri.clone(), headers: parts.headers.clone(), body };
        let principal = authenticate(&emu, &req, sig.as_ref(), &route, protocol)?;
        let ctx = Ctx {
            emu: emu.clone(),
            request_id: request_id.clone(),
            principal,
            region: sig.as_ref().map(|s| s.region.clone()).unwrap_or_else(|| emu.config.region.clone()),
        };
        // The query protocol names its operation in the body: read it before any fault applies.
        let query = match &route {
            Route::Query if req.method == Method::POST && !req.body.is_empty() => Some(QueryInput::parse(&req.body)?),
            Route::Query => Some(QueryInput::parse(req.uri.query().unwrap_or("").as_bytes())?),
            _ => None,
        };
        action = query.as_ref().and_then(|q| q.action()).map(str::to_string);
        let (service, operation) = operation_of(&route, &parts.method, &parts.uri, action.clone());
        if let Some(injected) = emu.faults.check(service, operation.as_deref()) {
            injected_fault = Some(injected.as_spec(service, operation.as_deref()));
            tracing::debug!(fault = %injected.fault, service, operation = operation.as_deref().unwrap_or(""), "fault");
            if let Some(e) = injected.apply().await {
                if let Some(q) = &query
                    && is_sns(q, sig.as_ref())
                {
                    protocol = Protocol::AwsQuery(sns::FLAVOR);
                }
                return Err(e);
            }
        }
        match &route {
            Route::Json { prefix, op } => match prefix.as_str() {
                kms::TARGET_PREFIX => kms::handle(&ctx, op, &req.body).await,
                cognito::TARGET_PREFIX => cognito::handle(&ctx, op, &req.body).await,
                dynamodb::TARGET_PREFIX => dynamodb::handle(&ctx, op, &req.body).await,
                dynamodb::streams::TARGET_PREFIX => dynamodb::streams::handle(&ctx, op, &req.body).await,
                _ => Err(unknown_operation()),
            },
            Route::Query => match &query {
                Some(input) if is_sns(input, sig.as_ref()) => {
                    protocol = Protocol::AwsQuery(sns::FLAVOR);
                    sns::handle(&ctx, input).await
                }
                Some(input) => Err(invalid_action(input.action().unwrap_or(""), input.get("Version").unwrap_or(""))),
                None => Err(unknown_operation()),
            },
            Route::S3 => s3::handle(&ctx, &req).await,
            Route::Lambda => lambda::handle(&ctx, &req).await,
            Route::Connections(id) => apigw::management::handle(&emu, &req.method, id, &req.body, sig.is_some()).await,
            Route::WellKnown { pool_id, document } => match cognito::tokens::well_known(&emu, pool_id, document).await?
            {
                Some(doc) => Ok(axum::Json(doc).into_response()),
                None => Err(AwsError::new(
                    http::StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    format!("User pool {pool_id} does not exist."),
                )),
            },
        }
    }
    .await;

    let (mut resp, code) = match outcome {
        Ok(r) => (r, None),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(request_id, code = %e.code, message = %e.message, "request failed");
            }
            (protocol.error_response(&e, &request_id, head), Some(e.code.clone()))
        }
    };
    stamp_request_id(&mut resp, &protocol, &request_id);
    let (service, operation) = operation_of(&route, &parts.method, &parts.uri, action);
    if emu.journal.is_some() {
        resp.extensions_mut().insert(Exchange {
            arrived,
            service,
            operation: operation.clone(),
            request_id: request_id.clone(),
            request_body,
            fault: injected_fault,
            observed: false,
            connection_id: None,
        });
    }
    emu.requests.record(
        arrived,
        started,
        Served {
            method: parts.method.as_str(),
            path_and_query: parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str()),
            service: Some(service),
            operation: operation.as_deref(),
            status: resp.status().as_u16(),
            request_id: Some(&request_id),
            error: code.as_deref(),
        },
    );
    tracing::debug!(
        target: "emulator::request",
        method = %parts.method,
        path = %parts.uri.path(),
        route = ?route,
        status = resp.status().as_u16(),
        error = code.as_deref().unwrap_or(""),
        micros = started.elapsed().as_micros() as u64,
    );
    resp
}

/// A query request for SNS: its API version, or signed for `sns`.
fn is_sns(input: &QueryInput, sig: Option<&Signature>) -> bool {
    input.get("Version") == Some(sns::VERSION) || matches!(sig.map(|s| s.service.as_str()), Some("sns"))
}

/// The service a request went to and, where the request shows it, the operation — for the
/// request log. S3 operations are named as the SDKs name them in `x-id`, or told from the method
/// and whether a key is present.
fn operation_of(
    route: &Route,
    method: &Method,
    uri: &http::Uri,
    action: Option<String>,
) -> (&'static str, Option<String>) {
    let query = uri.query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|p| p == name || p.starts_with(&format!("{name}=")));
    match route {
        Route::Json { prefix, op } => {
            let service = match prefix.as_str() {
                kms::TARGET_PREFIX => "kms",
                cognito::TARGET_PREFIX => "cognito-idp",
                dynamodb::TARGET_PREFIX => "dynamodb",
                dynamodb::streams::TARGET_PREFIX => "dynamodbstreams",
                _ => "unknown",
            };
            (service, Some(op.clone()))
        }
        Route::Query => ("sns", action),
        Route::WellKnown { document, .. } => ("cognito-idp", Some(document.clone())),
        Route::Connections(_) => ("execute-api", Some(apigw::management::operation(method).into())),
        Route::Lambda => {
            let path = uri.path();
            let op = if path.starts_with(lambda::MAPPINGS_PREFIX) {
                match *method {
                    Method::POST => "CreateEventSourceMapping",
                    Method::PUT => "UpdateEventSourceMapping",
                    Method::DELETE => "DeleteEventSourceMapping",
                    _ => "EventSourceMapping",
                }
            } else if path.ends_with("/invocations") {
                "Invoke"
            } else if path.trim_end_matches('/') == lambda::PATH_PREFIX {
                "ListFunctions"
            } else {
                "GetFunction"
            };
            ("lambda", Some(op.into()))
        }
        Route::S3 => {
            if let Some(id) = query.split('&').find_map(|p| p.strip_prefix("x-id=")) {
                return ("s3", Some(id.to_string()));
            }
            let segments = uri.path().trim_matches('/').split('/').filter(|s| !s.is_empty()).count();
            // A bucket subresource (`?policy`, `?versioning`, …) is an operation of its own.
            const LISTING: &[&str] = &[
                "list-type",
                "prefix",
                "delimiter",
                "max-keys",
                "continuation-token",
                "marker",
                "start-after",
                "encoding-type",
                "fetch-owner",
                "delete",
            ];
            let subresource = query
                .split('&')
                .filter(|p| !p.is_empty())
                .any(|p| !LISTING.contains(&p.split('=').next().unwrap_or("")));
            if segments == 1 && subresource {
                return ("s3", None);
            }
            let op = match (method.as_str(), segments) {
                (_, 0) => "ListBuckets",
                ("POST", 1) if has("delete") => "DeleteObjects",
                ("PUT", 1) => "CreateBucket",
                ("HEAD", 1) => "HeadBucket",
                ("DELETE", 1) => "DeleteBucket",
                ("GET", 1) => "ListObjects",
                ("POST", _) if has("uploads") => "CreateMultipartUpload",
                ("POST", _) if has("uploadId") => "CompleteMultipartUpload",
                ("PUT", _) if has("uploadId") => "UploadPart",
                ("DELETE", _) if has("uploadId") => "AbortMultipartUpload",
                ("PUT", _) => "PutObject",
                ("GET", _) => "GetObject",
                ("HEAD", _) => "HeadObject",
                ("DELETE", _) => "DeleteObject",
                _ => return ("s3", None),
            };
            ("s3", Some(op.into()))
        }
    }
}

async fn read_body(emu: &Emu, headers: &http::HeaderMap, body: Body, route: &Route) -> Result<bytes::Bytes, AwsError> {
    let limit = emu.config.max_body_bytes;
    let too_large = || match route {
        Route::S3 => AwsError::bad_request("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            .with("MaxSizeAllowed", limit.to_string()),
        _ => AwsError::new(http::StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "Request body is too large"),
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| too_large())
}

/// Maps the signature to a principal, verifying it where required (see [`crate::config::Config::strict_auth`]).
fn authenticate(
    emu: &Emu,
    req: &HttpRequest,
    sig: Option<&Signature>,
    route: &Route,
    protocol: Protocol,
) -> Result<Principal, AwsError> {
    let cfg = &emu.config;
    let Some(sig) = sig else {
        // Discovery documents are public, as on AWS.
        if cfg.strict_auth && !matches!(route, Route::WellKnown { .. }) {
            return Err(protocol.auth_error(AuthFailure::Missing));
        }
        return Ok(Principal::from_arn("", &cfg.root_arn()));
    };
    if sig.is_presigned() {
        let now = emu.clock.now();
        let expires_at = sig.signed_at().map(|t| t + chrono::Duration::seconds(sig.expires.unwrap_or(0)));
        match expires_at {
            Some(at) if at >= now => {}
            _ => {
                let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                return Err(protocol.auth_error(AuthFailure::Expired {
                    expires: expires_at.map(fmt).unwrap_or_default(),
                    server_time: fmt(now),
                }));
            }
        }
    }
    let Some(cred) = emu.credential(&sig.access_key) else {
        if cfg.strict_auth {
            return Err(protocol.auth_error(AuthFailure::UnknownAccessKey(sig.access_key.clone())));
        }
        return Ok(Principal::from_arn(&sig.access_key, &cfg.root_arn()));
    };
    if cfg.strict_auth || sig.is_presigned() {
        let is_s3 = *route == Route::S3;
        let body_hash;
        let payload_hash = match req.header("x-amz-content-sha256") {
            Some(h) => h,
            None if is_s3 && sig.is_presigned() => "UNSIGNED-PAYLOAD",
            None => {
                body_hash = hex::encode(Sha256::digest(&req.body));
                &body_hash
            }
        };
        let signed = SignedRequest {
            method: req.method.as_str(),
            raw_path: req.uri.path(),
            raw_query: req.uri.query(),
            headers: &req.headers,
            payload_hash,
            double_encode_path: !is_s3,
        };
        if !sigv4::verify(sig, &cred.secret_key, &signed) {
            return Err(protocol.auth_error(AuthFailure::BadSignature));
        }
    }
    Ok(Principal::from_arn(&sig.access_key, &cred.principal_arn))
}

fn stamp_request_id(resp: &mut Response, protocol: &Protocol, request_id: &str) {
    let h = resp.headers_mut();
    let Ok(id) = HeaderValue::from_str(request_id) else {
        return;
    };
    match protocol {
        Protocol::RestXml => {
            h.insert("x-amz-request-id", id);
            if let Ok(v) = HeaderValue::from_str(&crate::protocol::rest_xml::host_id(request_id)) {
                h.insert("x-amz-id-2", v);
            }
        }
        _ => {
            h.insert("x-amzn-requestid", id);
        }
    }
}

/// Request ids are random but drawn outside the seeded RNG, so they never shift it.
fn new_request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode_upper(b)
}

pub fn unknown_operation() -> AwsError {
    AwsError::bad_request("UnknownOperationException", "")
}

fn invalid_action(action: &str, version: &str) -> AwsError {
    AwsError::bad_request("InvalidAction", format!("Could not find operation {action} for version {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(service: &str) -> Signature {
        Signature {
            access_key: "AK".into(),
            date: "20260101".into(),
            region: "us-east-1".into(),
            service: service.into(),
            signed_headers: vec!["host".into()],
            signature: "00".into(),
            amz_date: None,
            expires: None,
        }
    }

    fn classify_req(method: Method, uri: &str, headers: &[(&str, &str)], service: Option<&str>) -> Route {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let s = service.map(sig);
        classify(&method, &h, &uri.parse().unwrap(), s.as_ref())
    }

    #[test]
    fn target_header_wins() {
        let r = classify_req(Method::POST, "/", &[("x-amz-target", "TrentService.Encrypt")], Some("kms"));
        assert_eq!(r, Route::Json { prefix: "TrentService".into(), op: "Encrypt".into() });
    }

    #[test]
    fn form_posts_and_action_queries_are_query_protocol() {
        let form = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        assert_eq!(classify_req(Method::POST, "/", &form, Some("sns")), Route::Query);
        assert_eq!(classify_req(Method::POST, "/", &form, None), Route::Query);
        assert_eq!(classify_req(Method::GET, "/?Action=ConfirmSubscription&Token=t", &[], None), Route::Query);
    }

    #[test]
    fn s3_scope_and_everything_else_is_s3() {
        let form = [("content-type", "application/x-www-form-urlencoded")];
        assert_eq!(classify_req(Method::POST, "/bucket?delete", &form, Some("s3")), Route::S3);
        assert_eq!(classify_req(Method::GET, "/bucket/key", &[], None), Route::S3);
        assert_eq!(classify_req(Method::PUT, "/bucket/key?x-id=PutObject", &[], Some("s3")), Route::S3);
        // A key that merely contains "Action=" is still S3.
        assert_eq!(classify_req(Method::GET, "/bucket/k?prefix=Action=x", &[], None), Route::S3);
    }
}
