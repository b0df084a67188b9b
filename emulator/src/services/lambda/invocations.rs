//! Recent invocations of every function: when each started, how long the caller waited, how
//! it ended and what triggered it — what CloudWatch's invocation metrics and the REPORT lines
//! tell on AWS, kept in memory for `/_emulator` views. Bounded per function; the oldest go
//! first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pool::Outcome;

/// Invocations kept per function.
pub const PER_FUNCTION: usize = 100;

/// Characters of an error message kept.
const MESSAGE_MAX: usize = 500;

/// One finished invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub request_id: String,
    /// When it was asked for (emulator clock, RFC 3339).
    pub started_at: String,
    /// From the request to the outcome, queueing and a cold start included.
    pub duration_ms: f64,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// `Unhandled`, `Task timed out`, `Runtime.ExitError`, the function's own error type, …
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// What sent the event, as far as its shape tells: `DynamoDB stream`, `SNS`,
    /// `HTTP API GET /x`, `WebSocket $connect`, `Cognito PreSignUp_SignUp`, `direct`, …
    pub trigger: String,
}

#[derive(Debug, Default)]
pub struct Invocations(Mutex<HashMap<String, VecDeque<Invocation>>>);

impl Invocations {
    pub fn record(&self, function: &str, invocation: Invocation) {
        let mut all = self.0.lock().expect("invocations lock");
        let ring = all.entry(function.to_string()).or_default();
        if ring.len() == PER_FUNCTION {
            ring.pop_front();
        }
        ring.push_back(invocation);
    }

    /// The newest `limit` invocations of a function, newest first.
    pub fn recent(&self, function: &str, limit: usize) -> Vec<Invocation> {
        let all = self.0.lock().expect("invocations lock");
        all.get(function).map(|r| r.iter().rev().take(limit).cloned().collect()).unwrap_or_default()
    }
}

impl Invocation {
    pub fn new(request_id: String, started_at: String, duration_ms: f64, outcome: &Outcome, trigger: String) -> Self {
        let (outcome, error_type, error_message) = match outcome {
            Outcome::Ok(_) => ("ok", None, None),
            Outcome::Error { body } => {
                let doc: Value = serde_json::from_slice(body).unwrap_or_default();
                let message = doc["errorMessage"].as_str().unwrap_or_default().to_string();
                let kind = match doc["errorType"].as_str() {
                    Some(t) => t.to_string(),
                    None if message.contains("Task timed out") => "Task timed out".into(),
                    None => "Unhandled".into(),
                };
                ("error", Some(kind), Some(message.chars().take(MESSAGE_MAX).collect()))
            }
        };
        Invocation { request_id, started_at, duration_ms, outcome, error_type, error_message, trigger }
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Records")]
    records: Option<Vec<RecordProbe>>,
    #[serde(rename = "triggerSource")]
    trigger_source: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "requestContext")]
    request_context: Option<ContextProbe>,
    #[serde(rename = "httpMethod")]
    http_method: Option<String>,
    resource: Option<String>,
}

#[derive(Deserialize)]
struct RecordProbe {
    #[serde(rename = "eventSource", alias = "EventSource")]
    event_source: Option<String>,
}

#[derive(Deserialize)]
struct ContextProbe {
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    #[serde(rename = "routeKey")]
    route_key: Option<String>,
    http: Option<Value>,
}

/// What kind of event a payload is, read from the fields each AWS event type carries.
pub fn trigger_of(payload: &[u8]) -> String {
    let Ok(p) = serde_json::from_slice::<Probe>(payload) else { return "direct".into() };
    if let Some(source) = p.records.as_ref().and_then(|r| r.first()).and_then(|r| r.event_source.as_deref()) {
        return match source {
            "aws:dynamodb" => "DynamoDB stream".into(),
            "aws:sns" => "SNS".into(),
            other => other.to_string(),
        };
    }
    if let Some(t) = p.trigger_source {
        return format!("Cognito {t}");
    }
    if p.kind.as_deref() == Some("REQUEST") {
        return "authorizer".into();
    }
    if let Some(ctx) = p.request_context {
        let route = ctx.route_key.unwrap_or_default();
        if ctx.event_type.is_some() {
            return format!("WebSocket {route}");
        }
        if ctx.http.is_some() {
            return format!("HTTP API {route}");
        }
        if let (Some(m), Some(r)) = (p.http_method, p.resource) {
            return format!("REST API {m} {r}");
        }
    }
    "direct".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_told_by_the_event_shape() {
        let t = |v: Value| trigger_of(v.to_string().as_bytes());
        assert_eq!(t(serde_json::json!({ "Records": [{ "eventSource": "aws:dynamodb" }] })), "DynamoDB stream");
        assert_eq!(t(serde_json::json!({ "Records": [{ "EventSource": "aws:sns" }] })), "SNS");
        assert_eq!(t(serde_json::json!({ "triggerSource": "PreSignUp_SignUp" })), "Cognito PreSignUp_SignUp");
        assert_eq!(
            t(serde_json::json!({ "requestContext": { "eventType": "CONNECT", "routeKey": "$connect" } })),
            "WebSocket $connect"
        );
        assert_eq!(
            t(serde_json::json!({ "requestContext": { "routeKey": "GET /x", "http": { "method": "GET" } } })),
            "HTTP API GET /x"
        );
        assert_eq!(t(serde_json::json!({ "action": "echo" })), "direct");
        assert_eq!(trigger_of(b"[1, 2]"), "direct");
    }

    #[test]
    fn errors_are_classified_and_the_ring_is_bounded() {
        let err = |body: &str| Outcome::Error { body: bytes::Bytes::from(body.to_string()) };
        let timed_out = Invocation::new(
            "r".into(),
            "t".into(),
            1.0,
            &err(r#"{"errorMessage":"x Task timed out after 3.00 seconds"}"#),
            "direct".into(),
        );
        assert_eq!(timed_out.error_type.as_deref(), Some("Task timed out"));
        let exit = Invocation::new(
            "r".into(),
            "t".into(),
            1.0,
            &err(r#"{"errorType":"Runtime.ExitError","errorMessage":"m"}"#),
            "direct".into(),
        );
        assert_eq!((exit.outcome, exit.error_type.as_deref()), ("error", Some("Runtime.ExitError")));
        let log = Invocations::default();
        for i in 0..PER_FUNCTION + 5 {
            let ok = Outcome::Ok(bytes::Bytes::new());
            log.record("f", Invocation::new(i.to_string(), "t".into(), 1.0, &ok, "direct".into()));
        }
        let recent = log.recent("f", 1000);
        assert_eq!(recent.len(), PER_FUNCTION);
        assert_eq!(recent[0].request_id, (PER_FUNCTION + 4).to_string(), "newest first");
        assert!(log.recent("other", 10).is_empty());
    }
}
