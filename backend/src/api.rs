//! The HTTP API: method and path to a [`chat`] operation, JSON in and out.
//!
//! | method | path                                              | operation                      |
//! |--------|---------------------------------------------------|--------------------------------|
//! | GET    | `/me`                                             | own profile                    |
//! | GET    | `/users?limit&cursor`                             | directory                      |
//! | POST   | `/users/{userId}/messages` `{text}`               | send 1:1                       |
//! | GET    | `/conversations?limit&cursor`                     | mine, by last activity         |
//! | POST   | `/conversations/{id}/messages` `{text}`           | send to a conversation         |
//! | GET    | `/conversations/{id}/messages?limit&cursor`       | history, newest first          |
//! | GET    | `/conversations/{id}/messages/{messageId}`        | one message, decrypted         |
//! | GET    | `/conversations/{id}/messages/{messageId}/attachment` | attachment bytes, decrypted |
//! | POST   | `/conversations/{id}/read` `{messageId}`          | mark read up to a message      |
//! | POST   | `/conversations/{id}/attachments`                 | presigned upload URL           |
//! | POST   | `/conversations/{id}/attachments/{attachmentId}` `{fileName, contentType}` | send it |
//! | GET    | `/unread`                                         | unread per conversation, total |
//! | GET    | `/rooms?limit&cursor`, POST `/rooms` `{name}`     | rooms                          |
//! | POST   | `/rooms/{id}/join`, `/rooms/{id}/leave`           | membership                     |
//!
//! The caller always comes from the authorizer's verified claims; ids in paths and bodies only
//! ever select among what that caller may see.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::chat::{self, Caller, ChatError, Deps};
use crate::kms::Kms;

/// A request as the function sees it, whatever the event shape.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Option<String>,
    /// The authorizer's verified claims.
    pub claims: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, v: Value) -> Self {
        Response { status, content_type: "application/json".into(), body: v.to_string().into_bytes() }
    }
    pub fn error(e: &ChatError) -> Self {
        let message = match e {
            ChatError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        if let ChatError::Internal(detail) = e {
            tracing::error!(%detail, "request failed");
        }
        Response::json(e.status(), json!({ "message": message }))
    }
    /// The body for an API Gateway proxy response: text as is, bytes base64.
    pub fn body_for_proxy(&self) -> (String, bool) {
        if self.content_type.starts_with("application/json") || self.content_type.starts_with("text/") {
            (String::from_utf8_lossy(&self.body).into_owned(), false)
        } else {
            (base64::engine::general_purpose::STANDARD.encode(&self.body), true)
        }
    }
}

fn body_json(req: &Request) -> Result<Value, ChatError> {
    match req.body.as_deref() {
        None | Some("") => Ok(json!({})),
        Some(b) => serde_json::from_str(b).map_err(|_| ChatError::BadRequest("the body is not JSON".into())),
    }
}

fn text_field(v: &Value, name: &str) -> Result<String, ChatError> {
    v[name].as_str().map(str::to_string).ok_or_else(|| ChatError::BadRequest(format!("`{name}` is required")))
}

fn limit(req: &Request) -> Result<Option<i32>, ChatError> {
    req.query
        .get("limit")
        .map(|l| l.parse::<i32>().map_err(|_| ChatError::BadRequest("limit must be a number".into())))
        .transpose()
}

/// Serves one request.
pub async fn handle<K: Kms>(deps: &Deps<K>, req: &Request) -> Response {
    let Some(caller) = crate::auth::caller_from_claims(|k| req.claims.get(k).map(String::as_str)) else {
        return Response::json(401, json!({ "message": "Unauthorized" }));
    };
    match route(deps, &caller, req).await {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    }
}

async fn route<K: Kms>(deps: &Deps<K>, caller: &Caller, req: &Request) -> Result<Response, ChatError> {
    let segments: Vec<String> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let cursor = req.query.get("cursor").map(String::as_str);
    let ok = |v: Value| Ok(Response::json(200, v));
    let created = |v: Value| Ok(Response::json(201, v));
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["me"]) => {
            let p = deps.store.profile(&caller.sub).await?.ok_or(ChatError::NotFound("user"))?;
            ok(json!({ "userId": p.sub, "username": p.username, "email": p.email }))
        }
        ("GET", ["users"]) => ok(chat::users(deps, limit(req)?, cursor).await?),
        ("POST", ["users", user, "messages"]) => {
            let text = text_field(&body_json(req)?, "text")?;
            created(serde_json::to_value(chat::send_to_user(deps, caller, user, &text).await?).unwrap_or_default())
        }
        ("GET", ["conversations"]) => ok(chat::conversations(deps, caller, limit(req)?, cursor).await?),
        ("POST", ["conversations", conv, "messages"]) => {
            let text = text_field(&body_json(req)?, "text")?;
            created(
                serde_json::to_value(chat::send_to_conversation(deps, caller, conv, &text).await?).unwrap_or_default(),
            )
        }
        ("GET", ["conversations", conv, "messages"]) => {
            ok(chat::history(deps, caller, conv, limit(req)?, cursor).await?)
        }
        ("GET", ["conversations", conv, "messages", id]) => ok(chat::message(deps, caller, conv, id).await?),
        ("GET", ["conversations", conv, "messages", id, "attachment"]) => {
            let (bytes, content_type) = chat::attachment(deps, caller, conv, id).await?;
            Ok(Response { status: 200, content_type, body: bytes })
        }
        ("POST", ["conversations", conv, "read"]) => {
            let id = text_field(&body_json(req)?, "messageId")?;
            ok(chat::mark_read(deps, caller, conv, &id).await?)
        }
        ("POST", ["conversations", conv, "attachments"]) => created(chat::attachment_upload(deps, caller, conv).await?),
        ("POST", ["conversations", conv, "attachments", id]) => {
            let body = body_json(req)?;
            let name = text_field(&body, "fileName")?;
            let content_type = body["contentType"].as_str().unwrap_or("application/octet-stream").to_string();
            let sent = chat::send_attachment(deps, caller, conv, id, &name, &content_type).await?;
            created(serde_json::to_value(sent).unwrap_or_default())
        }
        ("GET", ["unread"]) => ok(chat::unread(deps, caller).await?),
        ("GET", ["rooms"]) => ok(chat::rooms(deps, limit(req)?, cursor).await?),
        ("POST", ["rooms"]) => {
            let name = text_field(&body_json(req)?, "name")?;
            created(chat::create_room(deps, caller, &name).await?)
        }
        ("POST", ["rooms", room, "join"]) => ok(chat::join_room(deps, caller, room).await?),
        ("POST", ["rooms", room, "leave"]) => ok(chat::leave_room(deps, caller, room).await?),
        _ => Err(ChatError::NotFound("route")),
    }
}
