//! Lambda: functions run as real child processes speaking the Lambda Runtime API, invoked
//! through the Invoke API (restJson1, `/2015-03-31/functions/…`) or in process by other
//! services (Cognito triggers, stream mappings) through [`crate::invoke::LambdaInvoker`].
//!
//! | file           | what                                                                 |
//! |----------------|----------------------------------------------------------------------|
//! | `mod.rs`       | routing of the Invoke API, the in-process invoker                     |
//! | `functions.rs` | function configurations (SQLite) and their description documents     |
//! | `pool.rs`      | per-function instances: processes, scaling, timeouts, crashes         |
//! | `runtime.rs`   | the Runtime API each instance polls (`/2018-06-01/runtime/…`)          |
//! | `logs.rs`      | function output: prefixed on the emulator's stderr, kept for `/_emulator/logs` |
//! | `invocations.rs` | the last invocations of every function: timing, outcome, trigger    |
//! | `api.rs`       | Invoke, GetFunction, ListFunctions                                     |
//! | `mappings.rs`  | event source mappings: DynamoDB stream pollers feeding functions       |

mod api;
pub mod functions;
pub mod invocations;
pub mod logs;
pub mod mappings;
mod pool;
mod runtime;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::response::Response;
use http::Method;
use serde_json::Value;

pub use functions::FunctionSpec;
pub use pool::{Outcome, PoolStats};

use crate::error::{AwsError, Result};
use crate::invoke::{InvokeError, InvokeFuture, LambdaInvoker};
use crate::protocol::HttpRequest;
use crate::state::{Ctx, Emu};

/// The path prefix of the Invoke API's function operations.
pub const PATH_PREFIX: &str = "/2015-03-31/functions";
/// The path prefix of the event source mapping operations.
pub const MAPPINGS_PREFIX: &str = mappings::PATH_PREFIX;

/// Running instances of every function, created on first use.
#[derive(Debug, Default)]
pub struct Functions {
    pools: Mutex<HashMap<String, Arc<pool::Pool>>>,
    /// The poller task of every enabled event source mapping, by uuid.
    pollers: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    pub logs: Arc<logs::Logs>,
    /// Recent invocations per function; kept across instance restarts and reconfiguration.
    pub invocations: Arc<invocations::Invocations>,
}

impl Functions {
    /// The pool of a function, started lazily with the configuration stored now.
    async fn pool(&self, emu: &Arc<Emu>, name: &str) -> Result<Arc<pool::Pool>> {
        if let Some(p) = self.pools.lock().expect("pools lock").get(name) {
            return Ok(p.clone());
        }
        let spec = functions::load(emu, name).await?.ok_or_else(|| functions::not_found(emu, name))?;
        let fresh = pool::Pool::new(emu, spec, self.logs.clone(), self.invocations.clone());
        Ok(self.pools.lock().expect("pools lock").entry(name.to_string()).or_insert(fresh).clone())
    }

    /// How busy a function's instances are; `None` before its first invocation.
    pub fn stats(&self, name: &str) -> Option<PoolStats> {
        self.pools.lock().expect("pools lock").get(name).map(|p| p.stats())
    }

    /// Stops a function's instances (its configuration changed or it was removed).
    pub fn retire(&self, name: &str) {
        if let Some(p) = self.pools.lock().expect("pools lock").remove(name) {
            p.shutdown();
        }
    }

    /// Starts (or restarts) the poller of an event source mapping.
    pub fn start_poller(&self, emu: &Arc<Emu>, uuid: &str) {
        let task = tokio::spawn(mappings::poll(emu.clone(), uuid.to_string()));
        if let Some(old) = self.pollers.lock().expect("pollers lock").insert(uuid.to_string(), task.abort_handle()) {
            old.abort();
        }
    }

    pub fn stop_poller(&self, uuid: &str) {
        if let Some(p) = self.pollers.lock().expect("pollers lock").remove(uuid) {
            p.abort();
        }
    }

    /// Stops every poller and instance (reset, shutdown).
    pub fn stop_all(&self) {
        for (_, p) in self.pollers.lock().expect("pollers lock").drain() {
            p.abort();
        }
        for (_, p) in self.pools.lock().expect("pools lock").drain() {
            p.shutdown();
        }
    }

    /// Starts the pollers of the mappings stored in an existing state directory.
    pub async fn resume(&self, emu: &Arc<Emu>) -> Result<()> {
        for uuid in mappings::enabled(emu).await? {
            self.start_poller(emu, &uuid);
        }
        Ok(())
    }

    /// Runs an invocation in the background (`Event`): on a function error it is retried twice,
    /// as Lambda does (after 1 s and 2 s here rather than a minute and two, so local work is
    /// not held up).
    pub fn invoke_async(&self, emu: &Arc<Emu>, name: &str, payload: bytes::Bytes) {
        let emu = emu.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            for (attempt, pause) in [0u64, 1, 2].into_iter().enumerate() {
                tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
                match emu.functions.invoke(&emu, &name, payload.clone()).await {
                    Ok(Outcome::Ok(_)) => return,
                    Ok(Outcome::Error { body }) => {
                        tracing::warn!(function = %name, attempt, error = %String::from_utf8_lossy(&body), "asynchronous invocation failed");
                    }
                    Err(e) => {
                        tracing::warn!(function = %name, error = %e.message, "asynchronous invocation could not run");
                        return;
                    }
                }
            }
        });
    }

    /// Runs one invocation synchronously.
    pub async fn invoke(&self, emu: &Arc<Emu>, name: &str, payload: bytes::Bytes) -> Result<Outcome> {
        let pool = self.pool(emu, name).await?;
        Ok(pool.invoke(payload).await)
    }
}

/// Registers (or replaces) a function; its running instances are retired.
pub async fn register(emu: &Arc<Emu>, spec: FunctionSpec) -> Result<Value> {
    let out = functions::save(emu, &spec).await?;
    emu.functions.retire(&spec.name);
    Ok(out)
}

/// Dispatch of the Lambda API by method and path.
pub async fn handle(ctx: &Ctx, req: &HttpRequest) -> Result<Response> {
    if let Some(rest) = req.uri.path().strip_prefix(MAPPINGS_PREFIX) {
        return api::mapping_operation(ctx, req, rest.trim_matches('/')).await;
    }
    let path = req.uri.path().strip_prefix(PATH_PREFIX).unwrap_or("");
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let decoded: Vec<String> =
        segments.iter().map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    match (&req.method, decoded.as_slice()) {
        (&Method::GET, []) => api::list_functions(ctx, req).await,
        (&Method::GET, [name]) => api::get_function(ctx, name, req).await,
        (&Method::GET, [name, c]) if c == "configuration" => api::get_function_configuration(ctx, name, req).await,
        (&Method::POST, [name, i]) if i == "invocations" => api::invoke(ctx, name, req).await,
        _ => Err(AwsError::new(http::StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation")),
    }
}

/// The function name in a name, a partial ARN (`123456789012:function:name`) or a full ARN.
pub fn function_name(reference: &str) -> &str {
    match reference.rsplit_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => reference,
    }
}

/// The emulator's own functions as other services see them.
pub struct LocalInvoker(pub Weak<Emu>);

impl LambdaInvoker for LocalInvoker {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            let emu = self.0.upgrade().ok_or_else(|| InvokeError::Unavailable("the emulator is stopping".into()))?;
            let outcome = emu
                .functions
                .invoke(&emu, function_name(function), payload.to_string().into())
                .await
                .map_err(|e| InvokeError::Unavailable(e.message))?;
            match outcome {
                Outcome::Ok(body) => serde_json::from_slice(&body)
                    .map_err(|e| InvokeError::Unavailable(format!("the function's response is not JSON: {e}"))),
                Outcome::Error { body, .. } => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    Err(InvokeError::Function {
                        error_type: v["errorType"].as_str().unwrap_or("Unhandled").to_string(),
                        message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
                    })
                }
            }
        })
    }
}
