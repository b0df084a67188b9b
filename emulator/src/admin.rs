//! `/_emulator/*`: the emulator's own API for developers, tests and QA (not an AWS API).
//!
//! | route                    | what                                                   |
//! |--------------------------|--------------------------------------------------------|
//! | `GET  /health`           | version, services, uptime, endpoint, clock             |
//! | `POST /reset`            | wipe all state (schema stays)                          |
//! | `GET  /mailbox`          | mail/SMS sent, newest first; `?address=` `&limit=`     |
//! | `GET  /clock`            | current emulator time                                  |
//! | `POST /clock`            | advance: `{"advance": "90s"}` or `?advance=1h`         |
//! | `POST /cognito/{pool}/rotate-key` | new signing key; the old one stays in the JWKS for a day |
//! | `POST /lambda/functions` | register or replace a function (`FunctionSpec` JSON)     |
//! | `GET  /logs`             | function output, oldest first; `?function=` `&limit=`  |
//! | `POST /apigw/apis`       | create or replace an API (`ApiSpec` JSON); answers its URL |
//! | `GET  /apigw/apis`       | every API with its URL and routes                      |
//! | `POST /faults`           | inject a fault (`FaultSpec` JSON, or a list of them); answers it with its id |
//! | `GET  /faults[/{id}]`    | every fault (or one) with `remaining`, `matched`, `hits`, `active` |
//! | `DELETE /faults[/{id}]`  | remove every fault, or one                             |
//! | `GET  /state`            | the whole state as a fixture (JSON; see [`crate::fixtures`]) |
//! | `POST /state`            | load a fixture (YAML or JSON): exact state, clock, RNG, faults, world sections |
//! | `GET  /ui`               | the console: a read-only web UI over the instance's state |
//! | `GET  /console/pools`    | console view: user pools and their users (`/console/pools/{pool}/users?limit=&cursor=`) |
//! | `GET  /console/tables`   | console view: tables (`/console/tables/{table}/items?limit=&cursor=`) |
//! | `GET  /console/buckets`  | console view: buckets and object metadata (`/console/buckets/{bucket}/objects?limit=&cursor=`) |
//! | `GET  /console/keys`     | console view: KMS keys, aliases, key policies          |
//! | `GET  /console/topics`   | console view: SNS topics and subscriptions             |
//! | `GET  /console/mailbox`  | console view: the mailbox, newest first; `?limit=`     |
//! | `GET  /console/connections` | console view: live WebSocket connections            |
//! | `GET  /console/functions` | console view: functions, instances, invocations, logs; `?invocations=` `&logs=` |
//! | `GET  /console/requests` | console view: the last 500 requests served; `?since=` `&limit=` |
//!
//! The console routes are defined in [`crate::console`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::SecondsFormat;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::state::Emu;

pub fn router() -> Router<Arc<Emu>> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset))
        .route("/mailbox", get(mailbox))
        .route("/clock", get(clock).post(advance_clock))
        .route("/cognito/{pool_id}/rotate-key", post(rotate_key))
        .route("/lambda/functions", post(register_function))
        .route("/logs", get(logs))
        .route("/apigw/apis", post(register_api).get(list_apis))
        // An exported state holds every object body: no request-size limit of its own.
        .route("/state", get(export_state).post(load_state).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/faults", get(list_faults).post(add_faults).delete(clear_faults))
        .route("/faults/{id}", get(get_fault).delete(delete_fault))
        .merge(crate::console::router())
}

fn now(emu: &Emu) -> String {
    emu.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn health(State(emu): State<Arc<Emu>>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "running",
        "version": env!("CARGO_PKG_VERSION"),
        "services": crate::services::NAMES,
        "uptimeSeconds": emu.started.elapsed().as_secs_f64(),
        "endpoint": emu.endpoint,
        "region": emu.config.region,
        "account": emu.config.account,
        "clock": now(&emu),
    }))
}

async fn reset(State(emu): State<Arc<Emu>>) -> Response {
    emu.functions.stop_all();
    emu.sockets.close_all();
    match emu.store.reset().await {
        Ok(()) => Json(json!({"reset": true})).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

#[derive(Deserialize)]
struct MailboxQuery {
    address: Option<String>,
    limit: Option<i64>,
}

async fn mailbox(State(emu): State<Arc<Emu>>, Query(q): Query<MailboxQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    match emu.store.mailbox(q.address.as_deref(), limit).await {
        Ok(mail) => Json(json!({ "messages": mail })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn clock(State(emu): State<Arc<Emu>>) -> Json<serde_json::Value> {
    Json(json!({ "now": now(&emu), "frozen": emu.clock.is_frozen() }))
}

#[derive(Deserialize, Default)]
struct Advance {
    advance: Option<String>,
}

async fn advance_clock(State(emu): State<Arc<Emu>>, Query(q): Query<Advance>, body: Option<Json<Advance>>) -> Response {
    let Some(text) = q.advance.or_else(|| body.and_then(|Json(b)| b.advance)) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "give `advance`, e.g. {\"advance\": \"90s\"}"})))
            .into_response();
    };
    let by = match humantime::parse_duration(&text) {
        Ok(d) => d,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": format!("bad duration {text:?}: {e}")})))
                .into_response();
        }
    };
    let Ok(by) = chrono::Duration::from_std(by) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "duration out of range"}))).into_response();
    };
    emu.clock.advance(by);
    Json(json!({ "now": now(&emu), "frozen": emu.clock.is_frozen() })).into_response()
}

async fn rotate_key(State(emu): State<Arc<Emu>>, Path(pool_id): Path<String>) -> Response {
    match crate::services::cognito::tokens::rotate(&emu, &pool_id).await {
        Ok(Some(kid)) => Json(json!({ "kid": kid })).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({"error": format!("User pool {pool_id} does not exist.")})))
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e.message}))).into_response(),
    }
}

async fn register_function(
    State(emu): State<Arc<Emu>>,
    Json(spec): Json<crate::services::lambda::FunctionSpec>,
) -> Response {
    match crate::services::lambda::register(&emu, spec).await {
        Ok(config) => Json(config).into_response(),
        Err(e) => (e.status, Json(json!({ "error": e.code, "message": e.message }))).into_response(),
    }
}

#[derive(Deserialize)]
struct LogsQuery {
    function: Option<String>,
    limit: Option<usize>,
}

async fn logs(State(emu): State<Arc<Emu>>, Query(q): Query<LogsQuery>) -> Json<serde_json::Value> {
    let lines = emu.functions.logs.recent(q.function.as_deref(), q.limit.unwrap_or(1000));
    Json(json!({ "lines": lines }))
}

async fn register_api(State(emu): State<Arc<Emu>>, Json(spec): Json<crate::services::apigw::ApiSpec>) -> Response {
    use crate::services::apigw::spec;
    match spec::save(&emu, spec).await {
        Ok(saved) => Json(spec::summary(&emu, &saved)).into_response(),
        Err(e) => (e.status, Json(json!({ "error": e.code, "message": e.message }))).into_response(),
    }
}

async fn list_apis(State(emu): State<Arc<Emu>>) -> Response {
    use crate::services::apigw::spec;
    match spec::list(&emu).await {
        Ok(apis) => {
            Json(json!({ "apis": apis.iter().map(|a| spec::summary(&emu, a)).collect::<Vec<_>>() })).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.message }))).into_response(),
    }
}

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message.into() }))).into_response()
}

/// `POST /faults`: one [`FaultSpec`](crate::faults::FaultSpec) or a list; all or nothing.
async fn add_faults(State(emu): State<Arc<Emu>>, body: bytes::Bytes) -> Response {
    use crate::faults::FaultSpec;
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let many = value.is_array();
    let specs: Vec<FaultSpec> =
        match if many { serde_json::from_value(value) } else { serde_json::from_value(value).map(|s| vec![s]) } {
            Ok(specs) => specs,
            Err(e) => return bad_request(format!("not a fault: {e}")),
        };
    // Check them all on a scratch set first, so a bad one adds none.
    let scratch = crate::faults::Faults::default();
    for spec in &specs {
        if let Err(e) = scratch.add(spec.clone(), emu.config.seed) {
            return bad_request(e);
        }
    }
    let mut added = Vec::new();
    for spec in specs {
        match emu.faults.add(spec, emu.config.seed) {
            Ok(view) => added.push(view),
            Err(e) => return bad_request(e),
        }
    }
    let body = if many { json!({ "faults": added }) } else { json!(added[0]) };
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn list_faults(State(emu): State<Arc<Emu>>) -> Json<serde_json::Value> {
    Json(json!({ "faults": emu.faults.list() }))
}

async fn get_fault(State(emu): State<Arc<Emu>>, Path(id): Path<String>) -> Response {
    match emu.faults.list().into_iter().find(|f| f.id == id) {
        Some(f) => Json(f).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": format!("no fault {id:?}") }))).into_response(),
    }
}

async fn clear_faults(State(emu): State<Arc<Emu>>) -> Json<serde_json::Value> {
    emu.faults.clear();
    Json(json!({ "faults": [] }))
}

async fn delete_fault(State(emu): State<Arc<Emu>>, Path(id): Path<String>) -> Response {
    if emu.faults.remove(&id) {
        Json(json!({ "deleted": id })).into_response()
    } else {
        (StatusCode::NOT_FOUND, Json(json!({ "error": format!("no fault {id:?}") }))).into_response()
    }
}

async fn export_state(State(emu): State<Arc<Emu>>) -> Response {
    match crate::fixtures::export(&emu).await {
        Ok(fixture) => Json(fixture).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

/// `POST /state`: a fixture document, YAML or JSON.
async fn load_state(State(emu): State<Arc<Emu>>, body: bytes::Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad_request("the body is not UTF-8 text");
    };
    let fixture = match crate::fixtures::parse(text) {
        Ok(f) => f,
        Err(e) => return bad_request(format!("not a fixture: {e}")),
    };
    match crate::fixtures::load(&emu, &fixture).await {
        Ok(()) => Json(json!({ "loaded": true, "clock": now(&emu) })).into_response(),
        Err(e) => bad_request(e),
    }
}
