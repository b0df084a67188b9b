//! Lambda functions: configuration, instances (alive, busy, idle, queued), the most recent
//! invocations (Lambda's own record, [`crate::services::lambda::invocations`]) and the most
//! recent log lines.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Shared, from_aws};
use crate::services::lambda::{functions, invocations};

#[derive(Deserialize)]
pub(super) struct FunctionsQuery {
    invocations: Option<usize>,
    logs: Option<usize>,
}

/// `GET /console/functions?invocations=&logs=`: every function, newest invocations first,
/// log lines oldest first (as a terminal shows them).
pub(super) async fn functions(State(emu): Shared, Query(q): Query<FunctionsQuery>) -> Response {
    let max_invocations = q.invocations.unwrap_or(20).min(invocations::PER_FUNCTION);
    let max_logs = q.logs.unwrap_or(50).min(1000);
    let mut out: Vec<Value> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let (configs, next) = match functions::list(&emu, marker.as_deref(), 50).await {
            Ok(page) => page,
            Err(e) => return from_aws(e),
        };
        for c in configs {
            let name = c["FunctionName"].as_str().unwrap_or_default().to_string();
            out.push(json!({
                "name": name,
                "arn": c["FunctionArn"],
                "runtime": c["Runtime"],
                "handler": c["Handler"],
                "memoryMb": c["MemorySize"],
                "timeoutSecs": c["Timeout"],
                "role": c["Role"],
                "lastModified": c["LastModified"],
                "environment": c["Environment"]["Variables"],
                "instances": emu.functions.stats(&name).unwrap_or_default(),
                "invocations": emu.functions.invocations.recent(&name, max_invocations),
                "logs": emu.functions.logs.recent(Some(&name), max_logs),
            }));
        }
        match next {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    axum::Json(json!({ "functions": out })).into_response()
}
