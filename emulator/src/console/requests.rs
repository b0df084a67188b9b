//! The request log: the last [`CAPACITY`] requests the emulator served to applications, with
//! status and latency, so a developer can see what an app actually called and what it got.
//!
//! Entries are fed by the SDK entry point (`gateway`), by the API Gateway data plane (HTTP
//! requests and WebSocket upgrades under `/_aws/execute-api/…`) and by WebSocket messages. The
//! emulator's own routes (`/_emulator/*`, `/_app/*`) are not recorded: the console polls them
//! every few seconds and would push everything else out of the buffer.
//!
//! The log lives in memory only and is bounded: recording is a lock, a push and maybe a pop,
//! cheap enough to do on every request. Paths are stored with the values of credential-like
//! query parameters (presigned URL signatures, session tokens, `token=` used by WebSocket
//! clients) removed, so the console never displays a usable secret.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Shared;

/// How many requests are kept; the oldest go first.
pub const CAPACITY: usize = 500;

/// Query parameters whose values are secrets (compared case-insensitively).
const SECRET_PARAMS: &[&str] = &["x-amz-signature", "x-amz-credential", "x-amz-security-token", "token"];

/// One served request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Position in the log, increasing by one per request (`?since=` takes it).
    pub seq: u64,
    /// When it arrived (emulator clock, RFC 3339).
    pub time: String,
    pub method: String,
    /// Path and query, secrets removed.
    pub path: String,
    /// `dynamodb`, `s3`, `execute-api`, … when known.
    pub service: Option<String>,
    /// The operation (`PutItem`, `Publish`, a route key, …) when known.
    pub operation: Option<String>,
    pub status: u16,
    pub latency_ms: f64,
    pub request_id: Option<String>,
    /// The error code of a failed AWS call.
    pub error: Option<String>,
}

/// What a recording site knows about a request it served.
#[derive(Debug, Clone, Default)]
pub struct Served<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub service: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub status: u16,
    pub request_id: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Debug, Default)]
struct Ring {
    next_seq: u64,
    entries: VecDeque<RequestRecord>,
}

/// The bounded in-memory request log of an instance (`Emu::requests`).
#[derive(Debug, Default)]
pub struct RequestLog(Mutex<Ring>);

impl RequestLog {
    /// Records a request that arrived at `time` and was answered `started.elapsed()` later.
    /// Requests to the emulator's own routes are ignored.
    pub fn record(&self, time: chrono::DateTime<chrono::Utc>, started: Instant, served: Served<'_>) {
        if !recorded(served.path_and_query) {
            return;
        }
        let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        let mut ring = self.0.lock().expect("request log lock");
        ring.next_seq += 1;
        let entry = RequestRecord {
            seq: ring.next_seq,
            time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            method: served.method.to_string(),
            path: redact(served.path_and_query),
            service: own(served.service),
            operation: own(served.operation),
            status: served.status,
            latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            request_id: own(served.request_id),
            error: own(served.error),
        };
        if ring.entries.len() == CAPACITY {
            ring.entries.pop_front();
        }
        ring.entries.push_back(entry);
    }

    /// Entries with `seq > since`, newest first, at most `limit`.
    pub fn newest(&self, since: u64, limit: usize) -> Vec<RequestRecord> {
        let ring = self.0.lock().expect("request log lock");
        ring.entries.iter().rev().take_while(|e| e.seq > since).take(limit).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("request log lock").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a request to this path belongs in the log (not the emulator's own routes).
fn recorded(path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or("");
    !["/_emulator", "/_app"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// The path with the values of secret query parameters replaced by `***`.
pub fn redact(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[derive(Deserialize)]
pub(super) struct RequestsQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

/// `GET /console/requests?since=&limit=`: newest first.
pub(super) async fn list(State(emu): Shared, Query(q): Query<RequestsQuery>) -> Response {
    let requests = emu.requests.newest(q.since.unwrap_or(0), q.limit.unwrap_or(CAPACITY).min(CAPACITY));
    axum::Json(json!({ "capacity": CAPACITY, "requests": requests })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_query_are_removed_and_the_rest_kept() {
        assert_eq!(
            redact("/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F2026&X-Amz-Signature=abc&x-id=GetObject"),
            "/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***&X-Amz-Signature=***&x-id=GetObject"
        );
        assert_eq!(redact("/prod?token=eyJhbGc"), "/prod?token=***");
        assert_eq!(redact("/?Action=ConfirmSubscription&Token=t1"), "/?Action=ConfirmSubscription&Token=***");
        assert_eq!(redact("/plain/path"), "/plain/path");
    }

    #[test]
    fn own_routes_are_not_recorded_and_the_log_is_bounded() {
        let log = RequestLog::default();
        let t = chrono::Utc::now();
        for path in ["/_emulator/health", "/_emulator", "/_app/index.html"] {
            log.record(t, Instant::now(), Served { method: "GET", path_and_query: path, ..Default::default() });
        }
        assert!(log.is_empty());
        log.record(t, Instant::now(), Served { method: "GET", path_and_query: "/_emulatorish", ..Default::default() });
        assert_eq!(log.len(), 1);
        for _ in 0..CAPACITY + 10 {
            log.record(t, Instant::now(), Served { method: "GET", path_and_query: "/b", ..Default::default() });
        }
        assert_eq!(log.len(), CAPACITY);
        let newest = log.newest(0, 3);
        assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [511, 510, 509]);
        assert_eq!(log.newest(509, 100).len(), 2, "since= returns only newer entries");
    }
}
