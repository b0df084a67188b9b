//! API Gateway: HTTP APIs (payload 2.0), REST APIs (Lambda proxy, payload 1.0) and WebSocket
//! APIs in front of the emulator's Lambda functions, with the `@connections` management API.
//!
//! Stages are served on the emulator's port at `/_aws/execute-api/{apiId}/{stage}/…` (a
//! `$default` stage at `/_aws/execute-api/{apiId}/…`), WebSocket stages at the same path with
//! `ws://`. The management API answers there too (`…/{stage}/@connections/{id}`) and at
//! `/{stage}/@connections/{id}` on the bare endpoint for SDK clients signed for `execute-api`.
//!
//! | file             | what                                                             |
//! |------------------|------------------------------------------------------------------|
//! | `spec.rs`        | API definitions (routes, authorizers, CORS) stored in SQLite      |
//! | `authorizers.rs` | JWT, Cognito user pool and Lambda REQUEST authorizers             |
//! | `http_api.rs`    | HTTP and REST APIs: routing, events 2.0/1.0, responses, CORS      |
//! | `websocket.rs`   | WebSocket APIs: `$connect`, routing by selection expression, `$disconnect` |
//! | `management.rs`  | `@connections` POST/GET/DELETE                                    |

pub mod authorizers;
pub mod http_api;
pub mod management;
pub mod spec;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};

pub use spec::{ApiProtocol, ApiSpec, AuthorizerSpec, Cors, RouteSpec};

use crate::protocol::Protocol;
use crate::state::Emu;

/// Where API stages are served on the emulator's port: `/_aws/execute-api/{apiId}/{stage}/…`.
pub const PATH_PREFIX: &str = "/_aws/execute-api";

/// HTTP and REST APIs' request payload limit.
pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// API Gateway's answer to a body over [`MAX_PAYLOAD`].
pub fn payload_too_large() -> Response {
    message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
}

/// A request to an API stage, with what events need beyond the HTTP message.
pub struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub source_ip: String,
    /// The `Host` the client used (`requestContext.domainName`).
    pub host: String,
    /// The path as API Gateway would see it: with a named stage, without the local prefix.
    pub raw_path: String,
    /// The path without the stage (REST's `path`, what routes match).
    pub path: String,
}

impl Incoming {
    pub fn user_agent(&self) -> String {
        self.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }
}

/// The route key a stage request matched, attached to its response (for request logs).
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub String);

/// API Gateway's own JSON answers: `{"message": …}`.
pub fn message(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "message": text }).to_string();
    (status, [(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `refusal`, once the request's body has been read: a connection whose request body was left
/// unread is closed after the response, and a keep-alive client that already sent its next
/// request on it sees that request fail. Bodies beyond a WebSocket message's bound are not
/// worth keeping the connection for.
async fn drained(body: axum::body::Body, refusal: Response) -> Response {
    let _ = axum::body::to_bytes(body, websocket::MAX_MESSAGE * 2).await;
    refusal
}

/// Every request under [`PATH_PREFIX`].
pub async fn data_plane(State(emu): State<Arc<Emu>>, req: Request) -> Response {
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let (mut parts, body) = req.into_parts();
    let full = parts.uri.path().strip_prefix(PATH_PREFIX).unwrap_or("").to_string();
    let trimmed = full.trim_start_matches('/');
    let (api_id, rest) = match trimmed.split_once('/') {
        Some((id, rest)) => (id.to_string(), format!("/{rest}")),
        None => (trimmed.to_string(), "/".to_string()),
    };
    let spec = match spec::load(&emu, &api_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return drained(body, message(StatusCode::NOT_FOUND, "Not Found")).await,
        Err(e) => return drained(body, message(StatusCode::INTERNAL_SERVER_ERROR, &e.message)).await,
    };
    let path = if spec.stage == "$default" {
        Some(rest.clone())
    } else {
        let stage = format!("/{}", spec.stage);
        match rest.strip_prefix(&stage) {
            Some("") => Some("/".to_string()),
            Some(p) if p.starts_with('/') => Some(p.to_string()),
            _ => None,
        }
    };
    let Some(path) = path else {
        let refusal = match spec.protocol {
            ApiProtocol::Rest => message(StatusCode::FORBIDDEN, "Missing Authentication Token"),
            _ => message(StatusCode::NOT_FOUND, "Not Found"),
        };
        return drained(body, refusal).await;
    };
    let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();

    if spec.protocol == ApiProtocol::Websocket {
        if let Some(id) = management::connection_of(&path) {
            let signed = crate::protocol::sigv4::parse(&parts.headers, parts.uri.query()).is_some();
            let body = match axum::body::to_bytes(body, websocket::MAX_MESSAGE * 2).await {
                Ok(b) => b,
                Err(_) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
            };
            let request_id = emu.rng.uuid();
            if let Some(injected) = emu.faults.check("execute-api", Some(management::operation(&parts.method)))
                && let Some(e) = injected.apply().await
            {
                return Protocol::RestJson.error_response(&e, &request_id, false);
            }
            return match management::handle(&emu, &parts.method, &id, &body, signed).await {
                Ok(r) => r,
                Err(e) => Protocol::RestJson.error_response(&e, &request_id, false),
            };
        }
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => {
                let req = Incoming {
                    method: parts.method,
                    uri: parts.uri,
                    headers: parts.headers,
                    body: bytes::Bytes::new(),
                    source_ip,
                    host,
                    raw_path: rest,
                    path,
                };
                websocket::connect(emu, spec, req, ws).await
            }
            Err(_) => websocket::not_upgraded(),
        };
    }
    let body = match axum::body::to_bytes(body, MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(_) => return payload_too_large(),
    };
    let req = Incoming {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        source_ip,
        host,
        raw_path: rest,
        path: path.clone(),
    };
    http_api::handle(&emu, &spec, &path, req).await
}
