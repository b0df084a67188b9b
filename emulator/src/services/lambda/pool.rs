//! The instances of one function and how invocations reach them.
//!
//! An instance is a child process running the function's executable with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a Runtime API listener of its own (so the emulator knows
//! which instance asks for work and which one dies). Invocations queue in the pool; an instance
//! blocked in `next` takes the oldest. A new instance starts when an invocation finds none idle
//! and the function is below its concurrency limit; idle instances stay warm and are reused.
//!
//! Failure handling follows Lambda: past the timeout the instance is killed and the invocation
//! fails with `Task timed out after N.00 seconds`; an instance that exits while running an
//! invocation fails it with `Runtime.ExitError`; one that exits before taking any work (an init
//! crash) fails the oldest queued invocation the same way so callers never wait forever.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, oneshot};

use super::functions::{self, FunctionSpec};
use super::invocations::{self, Invocation, Invocations};
use super::logs::{Line, Logs};
use crate::state::Emu;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function's response payload.
    Ok(Bytes),
    /// `X-Amz-Function-Error: Unhandled`: the error document as the caller receives it.
    Error { body: Bytes },
}

impl Outcome {
    fn error(error_type: Option<&str>, message: String) -> Outcome {
        let mut doc = json!({ "errorMessage": message });
        if let Some(t) = error_type {
            doc["errorType"] = t.into();
        }
        Outcome::Error { body: doc.to_string().into() }
    }
}

/// An invocation waiting for an instance.
struct Pending {
    request_id: String,
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

/// An invocation as an instance receives it.
pub(super) struct Work {
    pub request_id: String,
    pub payload: Bytes,
}

struct Running {
    instance: u64,
    reply: oneshot::Sender<Outcome>,
    started: Instant,
}

struct InstanceInfo {
    kill: Arc<Notify>,
    /// The invocation it is running, for log attribution.
    current: Option<String>,
    served: u64,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Pending>,
    idle: VecDeque<(u64, oneshot::Sender<Pending>)>,
    instances: HashMap<u64, InstanceInfo>,
    running: HashMap<String, Running>,
    closed: bool,
}

/// What every instance of the function is started with.
struct Launch {
    spec: FunctionSpec,
    arn: String,
    env: Vec<(String, String)>,
}

pub struct Pool {
    launch: Launch,
    state: Mutex<State>,
    next_instance: AtomicU64,
    logs: Arc<Logs>,
    invocations: Arc<Invocations>,
    emu: std::sync::Weak<Emu>,
}

/// How busy a function's instances are right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    /// Processes alive (idle or running an invocation).
    pub instances: usize,
    /// Invocations running.
    pub busy: usize,
    /// Instances waiting for work.
    pub idle: usize,
    /// Invocations waiting for an instance.
    pub queued: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("function", &self.launch.spec.name).finish()
    }
}

impl Pool {
    pub fn new(emu: &Arc<Emu>, spec: FunctionSpec, logs: Arc<Logs>, invocations: Arc<Invocations>) -> Arc<Pool> {
        // A function with an execution role signs as that role; without one, as the first
        // configured credential (the account root by default).
        let cred = match &spec.role {
            Some(role) => Some(emu.role_credential(role)),
            None => emu.config.credentials.first().cloned(),
        };
        let mut env: Vec<(String, String)> = vec![
            ("AWS_ENDPOINT_URL".into(), emu.endpoint.clone()),
            ("AWS_REGION".into(), emu.config.region.clone()),
            ("AWS_DEFAULT_REGION".into(), emu.config.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), cred.as_ref().map_or("test".into(), |c| c.access_key.clone())),
            ("AWS_SECRET_ACCESS_KEY".into(), cred.as_ref().map_or("test".into(), |c| c.secret_key.clone())),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), spec.memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", spec.name)),
            ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{}", spec.runtime)),
            ("_HANDLER".into(), spec.handler.clone()),
            ("LAMBDA_TASK_ROOT".into(), spec.binary.parent().map(|p| p.display().to_string()).unwrap_or_default()),
        ];
        if spec.role.is_some() {
            // Lambda's execution-role sessions always carry a token; SDKs send it along.
            env.push(("AWS_SESSION_TOKEN".into(), format!("local-session-{}", spec.name)));
        }
        env.extend(spec.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        let arn = functions::arn(emu, &spec.name);
        Arc::new(Pool {
            launch: Launch { spec, arn, env },
            state: Mutex::default(),
            next_instance: AtomicU64::new(1),
            logs,
            invocations,
            emu: Arc::downgrade(emu),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("pool lock")
    }

    fn now_ms(&self) -> i64 {
        self.emu.upgrade().map_or(0, |e| e.clock.now().timestamp_millis())
    }

    fn log(&self, request_id: Option<&str>, message: String) {
        self.logs.push(Line {
            timestamp: self.now_ms(),
            function: self.launch.spec.name.clone(),
            request_id: request_id.map(str::to_string),
            message,
        });
    }

    pub fn arn(&self) -> &str {
        &self.launch.arn
    }

    pub fn stats(&self) -> PoolStats {
        let st = self.lock();
        PoolStats {
            instances: st.instances.len(),
            busy: st.running.len(),
            idle: st.idle.len(),
            queued: st.waiting.len(),
        }
    }

    /// Runs one invocation and waits for its outcome.
    pub async fn invoke(self: &Arc<Self>, payload: Bytes) -> Outcome {
        self.invoke_with_id(invocation_id(), payload).await
    }

    /// Runs one invocation under a given request id; every outcome is recorded in the
    /// function's recent invocations.
    pub async fn invoke_with_id(self: &Arc<Self>, request_id: String, payload: Bytes) -> Outcome {
        let started = Instant::now();
        let started_at = self
            .emu
            .upgrade()
            .map(|e| e.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let trigger = invocations::trigger_of(&payload);
        let outcome = self.run(request_id.clone(), payload).await;
        let ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
        self.invocations.record(&self.launch.spec.name, Invocation::new(request_id, started_at, ms, &outcome, trigger));
        outcome
    }

    async fn run(self: &Arc<Self>, request_id: String, payload: Bytes) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let pending = Pending { request_id: request_id.clone(), payload, reply };
        let start_one = {
            let mut st = self.lock();
            if st.closed {
                return Outcome::error(Some("ServiceException"), "The function is being replaced".into());
            }
            let unplaced = dispatch(&mut st, pending);
            unplaced && st.instances.len() < self.launch.spec.max_concurrency.max(1)
        };
        if start_one && let Err(message) = self.start_instance().await {
            // Nothing can run it: say so where function output goes, and fail the oldest
            // waiting invocation (possibly this one).
            self.log(None, message.clone());
            if let Some(p) = self.lock().waiting.pop_front() {
                let _ = p.reply.send(Outcome::error(Some("Runtime.InvalidEntrypoint"), message));
            }
        }
        outcome.await.unwrap_or_else(|_| {
            Outcome::error(Some("ServiceException"), format!("RequestId: {request_id} was dropped"))
        })
    }

    /// Starts one instance: its Runtime API listener, then the process.
    async fn start_instance(self: &Arc<Self>) -> Result<(), String> {
        let id = self.next_instance.fetch_add(1, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let kill = Arc::new(Notify::new());
        self.lock().instances.insert(id, InstanceInfo { kill: kill.clone(), current: None, served: 0 });
        let mut cmd = tokio::process::Command::new(&self.launch.spec.binary);
        cmd.envs(self.launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = self.launch.spec.binary.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(dir);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.lock().instances.remove(&id);
                return Err(format!(
                    "RequestId: - Error: Couldn't find valid bootstrap(s): [{}]: {e}",
                    self.launch.spec.binary.display()
                ));
            }
        };
        let (stop_api, api_stopped) = oneshot::channel::<()>();
        let app = super::runtime::router(self.clone(), id);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = api_stopped.await;
                })
                .await;
        });
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let pool = self.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let current = pool.lock().instances.get(&id).and_then(|i| i.current.clone());
                    pool.log(current.as_deref(), line);
                }
            });
        }
        let pool = self.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                _ = kill.notified() => {
                    let _ = child.kill().await;
                    None
                }
            };
            let _ = stop_api.send(());
            pool.instance_ended(id, status);
        });
        Ok(())
    }

    /// Bookkeeping when an instance's process is gone (exited or killed).
    fn instance_ended(self: &Arc<Self>, id: u64, status: Option<std::process::ExitStatus>) {
        let mut st = self.lock();
        let served = st.instances.remove(&id).map_or(0, |i| i.served);
        st.idle.retain(|(i, _)| *i != id);
        let reason = match status {
            Some(s) => match s.code() {
                Some(code) => format!("exit status {code}"),
                None => format!("{s}"),
            },
            None => "signal: killed".into(),
        };
        let lost: Vec<String> = st.running.iter().filter(|(_, r)| r.instance == id).map(|(k, _)| k.clone()).collect();
        for rid in &lost {
            if let Some(r) = st.running.remove(rid) {
                let _ = r.reply.send(Outcome::error(
                    Some("Runtime.ExitError"),
                    format!("RequestId: {rid} Error: Runtime exited with error: {reason}"),
                ));
            }
        }
        if status.is_some() && served == 0 && lost.is_empty() && !st.closed {
            // Died during init: fail the oldest waiting invocation rather than retry forever.
            if let Some(p) = st.waiting.pop_front() {
                let _ = p.reply.send(Outcome::error(
                    Some("Runtime.ExitError"),
                    format!("RequestId: {} Error: Runtime exited with error: {reason}", p.request_id),
                ));
            }
        }
        let replace = !st.closed && !st.waiting.is_empty() && st.idle.is_empty() && st.instances.is_empty();
        drop(st);
        if status.is_some() || !lost.is_empty() {
            self.log(None, format!("instance {id} ended: {reason}"));
        }
        if replace {
            let pool = self.clone();
            tokio::spawn(async move {
                if let Err(message) = pool.start_instance().await
                    && let Some(p) = pool.lock().waiting.pop_front()
                {
                    let _ = p.reply.send(Outcome::error(Some("Runtime.InvalidEntrypoint"), message));
                }
            });
        }
    }

    /// An instance asks for work (`next`): the oldest waiting invocation, or wait for one.
    pub(super) async fn next(self: &Arc<Self>, instance: u64) -> Option<Work> {
        let rx = {
            let mut st = self.lock();
            if st.closed || !st.instances.contains_key(&instance) {
                return None;
            }
            match st.waiting.pop_front() {
                Some(p) => return Some(self.begin(&mut st, instance, p)),
                None => {
                    let (tx, rx) = oneshot::channel();
                    st.idle.push_back((instance, tx));
                    rx
                }
            }
        };
        let p = rx.await.ok()?;
        let mut st = self.lock();
        Some(self.begin(&mut st, instance, p))
    }

    /// Hands `p` to `instance`: it is running from now on, under the function's timeout.
    fn begin(self: &Arc<Self>, st: &mut State, instance: u64, p: Pending) -> Work {
        let Pending { request_id, payload, reply } = p;
        st.running.insert(request_id.clone(), Running { instance, reply, started: Instant::now() });
        if let Some(i) = st.instances.get_mut(&instance) {
            i.current = Some(request_id.clone());
            i.served += 1;
        }
        self.log(Some(&request_id), format!("START RequestId: {request_id} Version: $LATEST"));
        let timeout = Duration::from_secs(self.launch.spec.timeout_secs);
        let pool = self.clone();
        let rid = request_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            pool.time_out(&rid);
        });
        Work { request_id, payload }
    }

    fn time_out(self: &Arc<Self>, request_id: &str) {
        let mut st = self.lock();
        let Some(r) = st.running.remove(request_id) else { return };
        if let Some(i) = st.instances.get(&r.instance) {
            i.kill.notify_one();
        }
        drop(st);
        let secs = self.launch.spec.timeout_secs;
        let at =
            self.emu.upgrade().map(|e| e.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_default();
        self.log(Some(request_id), format!("{at} {request_id} Task timed out after {secs}.00 seconds"));
        self.report(request_id, r.started);
        let _ = r.reply.send(Outcome::error(None, format!("{at} {request_id} Task timed out after {secs}.00 seconds")));
    }

    /// The instance answered (`response` or `error`). `false` when the id is not running.
    pub(super) fn finish(self: &Arc<Self>, instance: u64, request_id: &str, outcome: Outcome) -> bool {
        let mut st = self.lock();
        let Some(r) = st.running.remove(request_id).filter(|r| r.instance == instance) else { return false };
        if let Some(i) = st.instances.get_mut(&instance) {
            i.current = None;
        }
        drop(st);
        self.report(request_id, r.started);
        let _ = r.reply.send(outcome);
        true
    }

    fn report(&self, request_id: &str, started: Instant) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.log(Some(request_id), format!("END RequestId: {request_id}"));
        self.log(
            Some(request_id),
            format!(
                "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB",
                ms.ceil() as u64,
                self.launch.spec.memory_mb
            ),
        );
    }

    /// The Runtime API's deadline header for an invocation starting now.
    pub(super) fn deadline_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        wall.as_millis() as i64 + self.launch.spec.timeout_secs as i64 * 1000
    }

    pub(super) fn init_error(&self, instance: u64, body: &[u8]) {
        self.log(None, format!("instance {instance} init error: {}", String::from_utf8_lossy(body)));
    }

    /// Kills every instance and fails what is queued; the pool takes no more work.
    pub fn shutdown(&self) {
        let mut st = self.lock();
        st.closed = true;
        for i in st.instances.values() {
            i.kill.notify_one();
        }
        for p in st.waiting.drain(..) {
            let _ = p.reply.send(Outcome::error(Some("ServiceException"), "The function is being replaced".into()));
        }
        st.idle.clear();
    }
}

/// Gives `p` to an idle instance if one is still listening; otherwise queues it. Returns
/// whether it had to be queued.
fn dispatch(st: &mut State, mut p: Pending) -> bool {
    while let Some((_, tx)) = st.idle.pop_front() {
        match tx.send(p) {
            Ok(()) => return false,
            Err(back) => p = back,
        }
    }
    st.waiting.push_back(p);
    true
}

/// A Lambda request id (a random UUID). Drawn outside the seeded generator, like HTTP request
/// ids, so invocations do not shift the seeded sequence of ids and keys.
pub fn invocation_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
