//! WebSocket APIs: the `$connect` handshake (authorizer, then the integration, before the
//! upgrade so a refusal is a plain HTTP status), messages routed by the API's
//! RouteSelectionExpression, `$disconnect` after every close (client, idle timeout, server
//! delete), and the live-connection registry the `@connections` API posts into.
//!
//! Limits are AWS's: 32 KB frames, 128 KB messages (a bigger one closes the connection with
//! 1009), 10 minutes idle (configurable), 2 hours per connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::authorizers::{self, Denied};
use super::http_api::{identity_value, request_time, response_body, v1_parts};
use super::spec::{ApiSpec, AuthorizerSpec, RouteSpec};
use super::{Incoming, message};
use crate::services::lambda::Outcome;
use crate::state::Emu;

/// AWS's limits for WebSocket APIs.
pub const MAX_MESSAGE: usize = 128 * 1024;
pub const MAX_FRAME: usize = 32 * 1024;
/// Bytes read from a client's socket at a time.
const READ_CHUNK: usize = 4 * 1024;
const MAX_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// What the management API asks of a live connection.
#[derive(Debug)]
pub enum Push {
    Data(bytes::Bytes),
    Close,
}

/// One live connection, as the management API sees it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub api_id: String,
    pub stage: String,
    pub connected_at: DateTime<Utc>,
    pub last_active: Arc<Mutex<DateTime<Utc>>>,
    pub source_ip: String,
    pub user_agent: String,
    /// What the `$connect` authorizer returned (`requestContext.authorizer` of every event).
    pub authorizer: Option<Value>,
    tx: mpsc::UnboundedSender<Push>,
}

impl Connection {
    pub fn push(&self, p: Push) -> bool {
        self.tx.send(p).is_ok()
    }
}

/// Every live WebSocket connection of the instance, by connection id.
#[derive(Debug, Default)]
pub struct Connections(Mutex<HashMap<String, Connection>>);

impl Connections {
    pub fn get(&self, id: &str) -> Option<Connection> {
        self.0.lock().expect("connections lock").get(id).cloned()
    }
    fn insert(&self, id: &str, c: Connection) {
        self.0.lock().expect("connections lock").insert(id.to_string(), c);
    }
    fn remove(&self, id: &str) {
        self.0.lock().expect("connections lock").remove(id);
    }
    /// Closes every connection (reset, shutdown); their `$disconnect` runs.
    pub fn close_all(&self) {
        for c in self.0.lock().expect("connections lock").values() {
            c.push(Push::Close);
        }
    }
    pub fn count(&self) -> usize {
        self.0.lock().expect("connections lock").len()
    }
    /// Every live connection with its id, in no particular order.
    pub fn list(&self) -> Vec<(String, Connection)> {
        self.0.lock().expect("connections lock").iter().map(|(id, c)| (id.clone(), c.clone())).collect()
    }
}

/// AWS connection ids: 16 characters of base64 (11 random bytes).
fn connection_id(emu: &Emu) -> String {
    base64::engine::general_purpose::STANDARD.encode(emu.rng.bytes::<11>()).replace('/', "_").replace('+', "-")
}

fn route<'a>(spec: &'a ApiSpec, key: &str) -> Option<&'a RouteSpec> {
    spec.routes.iter().find(|r| r.key == key)
}

/// What every event of a connection shares.
#[derive(Clone)]
struct Session {
    spec: Arc<ApiSpec>,
    connection_id: String,
    connected_at: i64,
    source_ip: String,
    user_agent: String,
    domain: String,
    authorizer: Option<Value>,
}

impl Session {
    fn context(&self, emu: &Emu, route_key: &str, event_type: &str, request_id: &str) -> Value {
        let (time, epoch) = request_time(emu);
        let mut ctx = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": time,
            "messageDirection": "IN",
            "stage": self.spec.stage,
            "connectedAt": self.connected_at,
            "requestTimeEpoch": epoch,
            "identity": { "sourceIp": self.source_ip, "userAgent": self.user_agent },
            "requestId": request_id,
            "domainName": self.domain,
            "connectionId": self.connection_id,
            "apiId": self.spec.id,
        });
        if let Some(a) = &self.authorizer {
            ctx["authorizer"] = a.clone();
        }
        ctx
    }
}

async fn invoke(emu: &Arc<Emu>, route: &RouteSpec, event: &Value) -> Option<Outcome> {
    let function = route.function.as_deref()?;
    let name = crate::services::lambda::function_name(function);
    emu.functions.invoke(emu, name, event.to_string().into()).await.ok()
}

/// The status a `$connect` integration's answer asks for (no statusCode: accepted).
fn connect_status(outcome: &Outcome) -> (u16, Option<String>) {
    match outcome {
        Outcome::Error { .. } => (500, None),
        Outcome::Ok(body) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let status = v["statusCode"].as_u64().map(|s| s as u16).unwrap_or(200);
            let protocol = v["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol")))
                .and_then(|(_, v)| v.as_str().map(str::to_string));
            (status, protocol)
        }
    }
}

/// The connection an upgrade response opened (a response extension, for the journal).
#[derive(Debug, Clone)]
pub struct ConnectionId(pub String);

/// The `$connect` handshake; on success, the upgraded socket is served until it closes.
pub async fn connect(emu: Arc<Emu>, spec: ApiSpec, req: Incoming, ws: WebSocketUpgrade) -> Response {
    let spec = Arc::new(spec);
    let id = connection_id(&emu);
    let request_id = emu.rng.uuid();
    let now = emu.clock.now();
    let mut session = Session {
        spec: spec.clone(),
        connection_id: id.clone(),
        connected_at: now.timestamp_millis(),
        source_ip: req.source_ip.clone(),
        user_agent: req.user_agent(),
        domain: req.host.clone(),
        authorizer: None,
    };
    let mut subprotocol = None;
    if let Some(r) = route(&spec, "$connect") {
        if let Some(name) = &r.authorizer {
            match connect_authorizer(&emu, &spec, name, &req, &session, &request_id).await {
                Ok(a) => session.authorizer = a,
                Err(Denied::Unauthorized(_)) => return message(StatusCode::UNAUTHORIZED, "Unauthorized"),
                Err(Denied::Forbidden) => return message(StatusCode::FORBIDDEN, "Forbidden"),
                Err(Denied::Error) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            }
        }
        let mut event = v1_parts(&req);
        event.insert("requestContext".into(), session.context(&emu, "$connect", "CONNECT", &request_id));
        event.insert("isBase64Encoded".into(), false.into());
        match invoke(&emu, r, &Value::Object(event)).await {
            None if r.function.is_some() => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            None => {}
            Some(outcome) => {
                let (status, protocol) = connect_status(&outcome);
                if !(200..300).contains(&status) {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                    return message(status, status.canonical_reason().unwrap_or("Forbidden"));
                }
                subprotocol = protocol;
            }
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Connection {
        api_id: spec.id.clone(),
        stage: spec.stage.clone(),
        connected_at: now,
        last_active: Arc::new(Mutex::new(now)),
        source_ip: req.source_ip.clone(),
        user_agent: req.user_agent(),
        authorizer: session.authorizer.clone(),
        tx,
    };
    // Registered before the upgrade completes: the $connect function may already have told
    // others about this connection id.
    emu.sockets.insert(&id, conn.clone());
    // A 4 KiB read chunk instead of the default 128 KiB, which is zero-filled and so resident
    // for every open socket (~140 KiB per connection); larger frames still arrive whole, in
    // more reads.
    let mut ws = ws.max_message_size(MAX_MESSAGE).max_frame_size(MAX_FRAME).read_buffer_size(READ_CHUNK);
    if let Some(p) = subprotocol {
        ws = ws.protocols([p]);
    }
    let emu2 = emu.clone();
    let mut resp = ws
        .on_failed_upgrade({
            let emu = emu.clone();
            let id = id.clone();
            move |_| emu.sockets.remove(&id)
        })
        .on_upgrade(move |socket| serve(emu2, session, conn, socket, rx));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp.extensions_mut().insert(ConnectionId(id));
    resp
}

async fn connect_authorizer(
    emu: &Arc<Emu>,
    spec: &ApiSpec,
    name: &str,
    req: &Incoming,
    session: &Session,
    request_id: &str,
) -> Result<Option<Value>, Denied> {
    match spec.authorizers.get(name) {
        Some(AuthorizerSpec::Request { function, identity_source, .. }) => {
            for s in identity_source {
                identity_value(s, req).ok_or_else(|| Denied::Unauthorized("no identity".into()))?;
            }
            let mut event = v1_parts(req);
            event.insert("type".into(), "REQUEST".into());
            event.insert(
                "methodArn".into(),
                format!(
                    "arn:aws:execute-api:{}:{}:{}/{}/$connect",
                    emu.config.region, emu.config.account, spec.id, spec.stage
                )
                .into(),
            );
            event.insert("stageVariables".into(), json!(spec.stage_variables));
            event.insert("requestContext".into(), session.context(emu, "$connect", "CONNECT", request_id));
            authorizers::run_lambda(emu, function, Value::Object(event), false).await.map(Some)
        }
        // API Gateway allows only REQUEST authorizers on $connect; a JWT one is still honoured
        // here, reading the token from the identity source.
        Some(AuthorizerSpec::Jwt { issuer, audience, identity_source }) => {
            let raw = identity_value(identity_source, req).ok_or_else(|| Denied::Unauthorized("no token".into()))?;
            let v = authorizers::verify_jwt(emu, authorizers::bearer(&raw), issuer, audience, &[]).await?;
            Ok(Some(json!({ "jwt": { "claims": v.claims, "scopes": v.scopes } })))
        }
        Some(AuthorizerSpec::CognitoUserPools { .. }) | None => Err(Denied::Error),
    }
}

/// Why a connection ended, as `$disconnect` reports it.
struct Ended {
    code: u16,
    reason: String,
}

async fn serve(
    emu: Arc<Emu>,
    session: Session,
    conn: Connection,
    mut socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Push>,
) {
    let idle = emu.config.ws_idle_timeout;
    let deadline = tokio::time::Instant::now() + MAX_LIFETIME;
    let mut idle_at = tokio::time::Instant::now() + idle;
    let ended = loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    idle_at = tokio::time::Instant::now() + idle;
                    *conn.last_active.lock().expect("activity lock") = emu.clock.now();
                    let (emu, session) = (emu.clone(), session.clone());
                    tokio::spawn(async move { on_message(&emu, &session, t.as_str().as_bytes().to_vec(), false).await });
                }
                Some(Ok(Message::Binary(b))) => {
                    idle_at = tokio::time::Instant::now() + idle;
                    *conn.last_active.lock().expect("activity lock") = emu.clock.now();
                    let (emu, session) = (emu.clone(), session.clone());
                    tokio::spawn(async move { on_message(&emu, &session, b.to_vec(), true).await });
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                    idle_at = tokio::time::Instant::now() + idle;
                }
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(f) => Ended { code: f.code, reason: f.reason.to_string() },
                        None => Ended { code: 1005, reason: "Client-side close frame status not set".into() },
                    };
                }
                Some(Err(e)) => {
                    let too_big = e.to_string().contains("too long") || e.to_string().contains("Space limit");
                    if too_big {
                        let _ = socket.send(close(1009, "Message too big")).await;
                        break Ended { code: 1009, reason: "Message too big".into() };
                    }
                    break Ended { code: 1006, reason: "Connection was closed abnormally".into() };
                }
                None => break Ended { code: 1006, reason: "Connection was closed abnormally".into() },
            },
            push = rx.recv() => match push {
                Some(Push::Data(bytes)) => {
                    let msg = match std::str::from_utf8(&bytes) {
                        Ok(text) => Message::Text(text.into()),
                        Err(_) => Message::Binary(bytes),
                    };
                    if socket.send(msg).await.is_err() {
                        break Ended { code: 1006, reason: "Connection was closed abnormally".into() };
                    }
                }
                Some(Push::Close) | None => {
                    let _ = socket.send(close(1000, "")).await;
                    break Ended { code: 1000, reason: "Connection was closed by the server".into() };
                }
            },
            _ = tokio::time::sleep_until(idle_at) => {
                let _ = socket.send(close(1001, "Going away")).await;
                break Ended { code: 1001, reason: "Going away: idle timeout".into() };
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = socket.send(close(1001, "Going away")).await;
                break Ended { code: 1001, reason: "Going away: maximum connection duration".into() };
            }
        }
    };
    emu.sockets.remove(&session.connection_id);
    disconnect(&emu, &session, ended).await;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// The stage's path, as the journal names a connection's frames.
fn stage_path(session: &Session) -> String {
    format!("{}/{}/{}", super::PATH_PREFIX, session.spec.id, session.spec.stage)
}

async fn disconnect(emu: &Arc<Emu>, session: &Session, ended: Ended) {
    if let Some(journal) = &emu.journal {
        let answer = json!({ "disconnectStatusCode": ended.code, "disconnectReason": ended.reason }).to_string();
        journal.record_frame(crate::journal::Frame {
            arrived: emu.clock.now(),
            path: stage_path(session),
            connection_id: &session.connection_id,
            operation: "$disconnect".into(),
            body: b"",
            status: 200,
            answer: answer.as_bytes(),
        });
    }
    let Some(r) = route(&session.spec, "$disconnect") else { return };
    let request_id = emu.rng.uuid();
    let mut ctx = session.context(emu, "$disconnect", "DISCONNECT", &request_id);
    ctx["disconnectStatusCode"] = ended.code.into();
    ctx["disconnectReason"] = ended.reason.into();
    let event = json!({
        "headers": { "Host": session.domain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" },
        "multiValueHeaders": { "Host": [session.domain], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""] },
        "requestContext": ctx,
        "isBase64Encoded": false,
    });
    invoke(emu, r, &event).await;
}

/// The route key a message selects: `$request.body.<path>` read from its JSON body.
fn select_route<'a>(spec: &'a ApiSpec, body: &[u8], binary: bool) -> Option<&'a RouteSpec> {
    let by_expression =
        (!binary).then(|| spec.route_selection_expression.strip_prefix("$request.body.")).flatten().and_then(|path| {
            let v: Value = serde_json::from_slice(body).ok()?;
            let selected = path.split('.').try_fold(&v, |v, k| v.get(k))?;
            let key = selected.as_str()?;
            route(spec, key).filter(|_| !key.starts_with('$'))
        });
    by_expression.or_else(|| route(spec, "$default"))
}

/// Handles one message and records it in the request log as `WS {route key}` with the status
/// the client effectively got (403 no route, 500 integration failure).
async fn on_message(emu: &Arc<Emu>, session: &Session, body: Vec<u8>, binary: bool) {
    let started = std::time::Instant::now();
    let arrived = emu.clock.now();
    let journaled = emu.journal.as_ref().map(|_| body.clone());
    let (route_key, status, answer) = handle_message(emu, session, body, binary).await;
    let path = stage_path(session);
    if let (Some(journal), Some(body)) = (&emu.journal, journaled) {
        journal.record_frame(crate::journal::Frame {
            arrived,
            path: path.clone(),
            connection_id: &session.connection_id,
            operation: route_key.clone().unwrap_or_else(|| "$default".into()),
            body: &body,
            status,
            answer: answer.as_deref().unwrap_or_default(),
        });
    }
    emu.requests.record(
        arrived,
        started,
        crate::console::requests::Served {
            method: "WS",
            path_and_query: &path,
            service: Some("execute-api"),
            operation: route_key.as_deref(),
            status,
            request_id: None,
            error: None,
        },
    );
}

/// Routes one message: the route key it selected, the status the client effectively got, and
/// what was sent back on the socket for it (the route response, or API Gateway's error).
async fn handle_message(
    emu: &Arc<Emu>,
    session: &Session,
    body: Vec<u8>,
    binary: bool,
) -> (Option<String>, u16, Option<Vec<u8>>) {
    let request_id = emu.rng.uuid();
    let reply = |v: Value| {
        let bytes = v.to_string().into_bytes();
        if let Some(c) = emu.sockets.get(&session.connection_id) {
            c.push(Push::Data(bytes.clone().into()));
        }
        Some(bytes)
    };
    let Some(r) = select_route(&session.spec, &body, binary) else {
        let sent =
            reply(json!({ "message": "Forbidden", "connectionId": session.connection_id, "requestId": request_id }));
        return (None, 403, sent);
    };
    let mut ctx = session.context(emu, &r.key, "MESSAGE", &request_id);
    ctx["messageId"] =
        emu.rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=", 16).into();
    let (text, b64) = if binary {
        (base64::engine::general_purpose::STANDARD.encode(&body), true)
    } else {
        (String::from_utf8_lossy(&body).into_owned(), false)
    };
    let mut event = Map::new();
    event.insert("requestContext".into(), ctx);
    event.insert("body".into(), text.into());
    event.insert("isBase64Encoded".into(), b64.into());
    let (status, sent) = match invoke(emu, r, &Value::Object(event)).await {
        Some(Outcome::Ok(out)) if r.route_response => {
            let bytes = response_body(&out);
            if let (Some(bytes), Some(c)) = (&bytes, emu.sockets.get(&session.connection_id)) {
                c.push(Push::Data(bytes.clone().into()));
            }
            (200, bytes)
        }
        Some(Outcome::Ok(_)) => (200, None),
        Some(Outcome::Error { .. }) | None => {
            let sent = reply(json!({
                "message": "Internal server error",
                "connectionId": session.connection_id,
                "requestId": request_id,
            }));
            (500, sent)
        }
    };
    (Some(r.key.clone()), status, sent)
}

/// A WebSocket API reached without an upgrade.
pub fn not_upgraded() -> Response {
    (StatusCode::FORBIDDEN, [(http::header::CONTENT_TYPE, "application/json")], r#"{"message":"Forbidden"}"#)
        .into_response()
}
