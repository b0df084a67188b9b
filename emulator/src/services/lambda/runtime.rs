//! The Lambda Runtime API one instance polls: `next` blocks until an invocation is handed to
//! it; `response` and `error` finish that invocation; `init/error` reports a failed start.
//! Headers and status codes are the ones the Runtime API documents, so unmodified runtime
//! clients (`lambda_runtime`'s `bootstrap`) work against it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::pool::{Outcome, Pool};

type Instance = (Arc<Pool>, u64);

pub fn router(pool: Arc<Pool>, instance: u64) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state((pool, instance))
}

fn status(code: StatusCode, error_type: &str, message: &str) -> Response {
    (code, axum::Json(json!({ "errorType": error_type, "errorMessage": message }))).into_response()
}

async fn next(State((pool, instance)): State<Instance>) -> Response {
    let Some(work) = pool.next(instance).await else {
        return status(StatusCode::GONE, "InstanceGone", "This instance is shutting down");
    };
    let id_hex: String = work.request_id.chars().filter(char::is_ascii_hexdigit).take(24).collect();
    let trace = format!("Root=1-{:08x}-{id_hex:0>24};Sampled=0", chrono::Utc::now().timestamp());
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", work.request_id.clone()),
            ("lambda-runtime-deadline-ms", pool.deadline_ms().to_string()),
            ("lambda-runtime-invoked-function-arn", pool.arn().to_string()),
            ("lambda-runtime-trace-id", trace),
        ],
        work.payload,
    )
        .into_response()
}

fn accepted(pool: &Arc<Pool>, instance: u64, id: &str, outcome: Outcome) -> Response {
    if pool.finish(instance, id, outcome) {
        (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
    } else {
        status(StatusCode::BAD_REQUEST, "InvalidRequestID", &format!("Invalid request ID: {id}"))
    }
}

async fn response(State((pool, instance)): State<Instance>, Path(id): Path<String>, body: Bytes) -> Response {
    accepted(&pool, instance, &id, Outcome::Ok(body))
}

async fn error(
    State((pool, instance)): State<Instance>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The runtime's error document, or one built from the error-type header when the body is not JSON.
    let doc = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v.is_object() => v,
        _ => json!({
            "errorType": headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("Unhandled"),
            "errorMessage": String::from_utf8_lossy(&body),
        }),
    };
    accepted(&pool, instance, &id, Outcome::Error { body: doc.to_string().into() })
}

async fn init_error(State((pool, instance)): State<Instance>, body: Bytes) -> Response {
    pool.init_error(instance, &body);
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}
