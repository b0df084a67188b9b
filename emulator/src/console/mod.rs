//! The console: a read-only web UI at `/_emulator/ui` over everything the instance holds, for
//! a developer debugging an application against the emulator — who signed up, what a table
//! contains, what got stored encrypted, which keys and policies exist, what was "mailed", who is
//! connected, what the functions did and which requests came in.
//!
//! # Shape
//!
//! The page (`ui.html`, `ui.js`, `ui.css`, embedded in the binary: no build step, no CDN) polls
//! small JSON endpoints under `/_emulator/console/…` every two seconds. Each view has its own
//! endpoint and its own file here:
//!
//! | route (under `/_emulator`)                         | file             | what |
//! |----------------------------------------------------|------------------|------|
//! | `GET /ui`, `/ui/ui.js`, `/ui/ui.css`               | `mod.rs`         | the page |
//! | `GET /console/pools`                               | `users.rs`       | user pools with their users |
//! | `GET /console/pools/{pool}/users?limit=&cursor=`   | `users.rs`       | one pool's users, paged |
//! | `GET /console/tables`                              | `tables.rs`      | tables: keys, indexes, stream, TTL, item count |
//! | `GET /console/tables/{table}/items?limit=&cursor=` | `tables.rs`      | a table's items, paged (Scan) |
//! | `GET /console/buckets`                             | `objects.rs`     | buckets with their first objects |
//! | `GET /console/buckets/{bucket}/objects?limit=&cursor=` | `objects.rs` | a bucket's objects, paged |
//! | `GET /console/keys`                                | `keys.rs`        | KMS keys, aliases, policies |
//! | `GET /console/topics`                              | `topics.rs`      | SNS topics and subscriptions |
//! | `GET /console/mailbox?limit=`                      | `mod.rs`         | the mailbox, newest first |
//! | `GET /console/connections`                         | `connections.rs` | live WebSocket connections |
//! | `GET /console/functions?invocations=&logs=`        | `functions.rs`   | functions, instances, recent invocations and logs |
//! | `GET /console/requests?since=&limit=`              | `requests.rs`    | the last requests served, newest first |
//!
//! # Decisions
//!
//! - *Through the services' own handlers where there is one.* Users, tables and items are read
//!   with `ListUsers`, `ListTables`/`DescribeTable`/`Scan` run in process
//!   ([`crate::services::call_json`]), so the console shows exactly what an SDK would see and
//!   paging is AWS's own (a cursor is the service's pagination token or `LastEvaluatedKey`).
//!   Where AWS has no listing without side effects or policy checks (S3 bodies at rest, KMS
//!   key policies that may lock the account root out, SNS confirmation state, live sockets,
//!   function instances) the console reads the stores and in-memory registries directly.
//! - *Read-only.* Only `GET` routes; nothing here changes state or draws from the seeded RNG,
//!   so watching a run does not change it.
//! - *Nothing secret or undecodable is rendered as text.* Object bodies are shown as what is
//!   stored — ciphertext, with its size and first bytes in hex — never decrypted; binary item
//!   attributes appear as `<binary N bytes>` with a short prefix; key material, password
//!   hashes and confirmation tokens are never returned; the request log drops signature and
//!   token values from query strings. The page inserts every string with `textContent`.
//! - *The console is not a service.* Services do not know it exists; the only hooks are the
//!   request log ([`requests::RequestLog`], fed by the gateway and the API Gateway data plane)
//!   and Lambda's record of recent invocations, which Lambda keeps for itself.
//! - Errors are JSON `{"message": …}`: an unknown pool, table or bucket is a 404, a bad cursor
//!   or limit a 400.

mod connections;
mod functions;
mod keys;
mod objects;
pub mod requests;
mod tables;
mod topics;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use http::{StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use crate::error::AwsError;
use crate::state::Emu;

/// The extractor every console handler takes.
type Shared = State<Arc<Emu>>;

const UI_HTML: &str = include_str!("ui.html");
const UI_JS: &str = include_str!("ui.js");
const UI_CSS: &str = include_str!("ui.css");

/// The console's routes, nested under `/_emulator` by [`crate::admin::router`].
pub fn router() -> Router<Arc<Emu>> {
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/ui.js", get(script))
        .route("/ui/ui.css", get(style))
        .route("/console/pools", get(users::pools))
        .route("/console/pools/{pool}/users", get(users::users))
        .route("/console/tables", get(tables::tables))
        .route("/console/tables/{table}/items", get(tables::items))
        .route("/console/buckets", get(objects::buckets))
        .route("/console/buckets/{bucket}/objects", get(objects::objects))
        .route("/console/keys", get(keys::keys))
        .route("/console/topics", get(topics::topics))
        .route("/console/mailbox", get(mailbox))
        .route("/console/connections", get(connections::connections))
        .route("/console/functions", get(functions::functions))
        .route("/console/requests", get(requests::list))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // The page changes with the binary only; revalidating on every load keeps it simple.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", UI_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", UI_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", UI_CSS)
}

/// A console error: `{"message": …}` with the status.
pub(crate) fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "message": message.into() }))).into_response()
}

/// A service error as the console reports it: not-found kinds as 404, other caller errors
/// with their status, the rest as 500.
pub(crate) fn from_aws(e: AwsError) -> Response {
    let not_found = e.status == StatusCode::NOT_FOUND || e.code.contains("NotFound") || e.code.starts_with("NoSuch");
    let status = if not_found {
        StatusCode::NOT_FOUND
    } else if e.status.is_client_error() {
        e.status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let message = if e.message.is_empty() { e.code.to_string() } else { e.message };
    fail(status, message)
}

/// Paging parameters shared by the paged views.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A parameter the console cannot use: answered 400 with its explanation.
#[derive(Debug)]
pub(crate) struct BadParameter(pub String);

impl IntoResponse for BadParameter {
    fn into_response(self) -> Response {
        fail(StatusCode::BAD_REQUEST, self.0)
    }
}

impl Page {
    /// The limit within `1..=max`, `default` when absent.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, BadParameter> {
        match self.limit {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(BadParameter(format!("limit must be between 1 and {max}, not {n}"))),
        }
    }

    /// The decoded cursor, if one was given; an error when it is not one of ours.
    pub fn cursor(&self) -> Result<Option<String>, BadParameter> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => decode_cursor(c).map(Some).ok_or_else(|| BadParameter("invalid cursor".into())),
        }
    }
}

/// Cursors are opaque to the page: URL-safe base64 of the service's own position.
pub(crate) fn encode_cursor(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()
}

/// `n` bytes described for display: length and a hex prefix, never the bytes as text.
pub(crate) fn binary_summary(bytes: &[u8], prefix: usize) -> serde_json::Value {
    let shown = &bytes[..bytes.len().min(prefix)];
    json!({
        "bytes": bytes.len(),
        "hexPrefix": hex::encode(shown),
        "truncated": bytes.len() > prefix,
    })
}

#[derive(Deserialize)]
struct MailboxQuery {
    limit: Option<i64>,
}

/// `GET /console/mailbox`: what the services "sent", newest first.
async fn mailbox(State(emu): Shared, Query(q): Query<MailboxQuery>) -> Response {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    match emu.store.mailbox(None, limit).await {
        Ok(mail) => axum::Json(json!({ "messages": mail })).into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
