//! A local emulator of the AWS services a serverless chat uses, on one port, state in SQLite.
//!
//! The official AWS SDKs and CLI work against it unmodified, by endpoint override.
//!
//! # Map of the crate
//!
//! ```text
//!  socket ─▶ gateway ──classify──▶ protocol decode ─▶ services::<svc> ─▶ store (SQLite)
//!              │  (target header,    (aws_json,          (handlers)
//!              │   query Action,      aws_query,
//!              │   SigV4 scope,       rest_xml, sigv4)
//!              │   path)
//!              └─▶ admin (/_emulator/*) ─▶ console (/_emulator/ui, /_emulator/console/*)
//! ```
//!
//! - [`gateway`]: the single axum entry point; picks the service, authenticates, renders errors.
//! - [`protocol`]: one module per AWS wire protocol, shared by all services.
//! - [`services`]: S3, KMS, SNS — operation handlers over the store; no HTTP framing.
//! - [`store`]: SQLite (WAL) through sqlx; migrations in `emulator/migrations/`.
//! - [`admin`]: health, reset, mailbox, clock for developers and tests.
//! - [`console`]: the read-only web console at `/_emulator/ui` and its JSON views; the request
//!   log the gateway feeds.
//! - [`invoke`]: how a service calls a Lambda function (Cognito triggers).
//! - [`template`]: CloudFormation/SAM templates read, their intrinsic functions evaluated, and
//!   their resources provisioned into a running instance ([`template::provision`]).
//! - [`up`]: `emulator up` — start an instance, provision a template, report where things are.
//! - [`webapp`]: the application's static web client at `/_app/`, configured from the stack.
//! - [`faults`]: injected failures and latency (`/_emulator/faults`), applied by the gateway
//!   after classification and before dispatch.
//! - [`fixtures`]: a world in one YAML document — exact state (every table's rows, clock, RNG
//!   position, faults) as `export` writes it, plus hand-written tables and user pools loaded
//!   through the services' handlers; [`store::dump`] is the generic table dump beneath it.
//! - [`journal`], [`replay`]: `--record FILE` journals every API exchange (secrets redacted
//!   unless asked for); `emulator replay FILE` sends a journal again to a fresh instance with
//!   the same seed and clock and reports the first response that differs.
//! - [`clock`], [`rng`]: the one injectable clock and the one seedable RNG behind every id,
//!   key and timestamp, so a run can be reproduced exactly.
//!
//! # Use as a library
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let emu = emulator::Emulator::builder().in_memory().port(0).start().await?;
//! println!("SDK endpoint: {}", emu.url());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod clock;
pub mod config;
pub mod console;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod gateway;
pub mod invoke;
pub mod journal;
pub mod protocol;
pub mod replay;
pub mod rng;
pub mod services;
pub mod state;
pub mod store;
pub mod template;
pub mod up;
pub mod webapp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, Credential, StateLocation};

use crate::clock::Clock;
use crate::rng::Rng;
use crate::state::Emu;
use crate::store::Store;

/// Entry point: `Emulator::builder()…start()`.
pub struct Emulator;

impl Emulator {
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder { config: Config::default(), lambda: None }
    }
}

/// Chooses the [`Config`] of an instance, then starts it.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    config: Config,
    lambda: Option<Arc<dyn invoke::LambdaInvoker>>,
}

impl EmulatorBuilder {
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.config.host = host.into();
        self
    }
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }
    pub fn in_memory(mut self) -> Self {
        self.config.state = StateLocation::InMemory;
        self
    }
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.state = StateLocation::Dir(dir.into());
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }
    pub fn clock(mut self, at: DateTime<Utc>) -> Self {
        self.config.clock = Some(at);
        self
    }
    pub fn strict_auth(mut self, on: bool) -> Self {
        self.config.strict_auth = on;
        self
    }
    pub fn credential(mut self, access_key: &str, secret_key: &str, principal_arn: &str) -> Self {
        self.config.credentials.push(Credential {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            principal_arn: principal_arn.into(),
        });
        self
    }
    /// Who runs Lambda functions for other services (Cognito triggers).
    pub fn lambda_invoker(mut self, invoker: Arc<dyn invoke::LambdaInvoker>) -> Self {
        self.lambda = Some(invoker);
        self
    }
    pub fn cognito_aws_issuer(mut self, on: bool) -> Self {
        self.config.cognito_aws_issuer = on;
        self
    }
    /// How long a WebSocket connection may stay silent before it is closed.
    pub fn ws_idle_timeout(mut self, after: std::time::Duration) -> Self {
        self.config.ws_idle_timeout = after;
        self
    }
    /// Loads `fixture` once started (see [`fixtures`]).
    pub fn fixture(mut self, fixture: fixtures::Fixture) -> Self {
        self.config.fixture = Some(fixture);
        self
    }
    /// Loads the fixture in `file` once started, and names the file in the journal's header.
    pub fn fixture_file(mut self, file: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let file = file.into();
        self.config.fixture = Some(fixtures::read(&file)?);
        self.config.fixture_file = Some(std::path::absolute(&file).unwrap_or(file));
        Ok(self)
    }
    /// Journals every API request and response to `path` (see [`journal`]).
    pub fn record(mut self, path: impl Into<PathBuf>, secrets: bool) -> Self {
        self.config.record = Some(path.into());
        self.config.record_secrets = secrets;
        self
    }
    /// A fault in force from the start (see [`faults`]).
    pub fn fault(mut self, spec: faults::FaultSpec) -> Self {
        self.config.faults.push(spec);
        self
    }
    pub fn auto_confirm_subscriptions(mut self, on: bool) -> Self {
        self.config.auto_confirm_subscriptions = on;
        self
    }

    /// Opens the store, binds the port and starts serving in the background.
    pub async fn start(self) -> anyhow::Result<EmulatorHandle> {
        let started = Instant::now();
        let config = self.config;
        let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", config.host, config.port))?;
        let addr = listener.local_addr()?;
        let store = Store::open(&config.state).await?;
        let clock = match config.clock {
            Some(at) => Clock::frozen(at),
            None => Clock::wall(),
        };
        let endpoint = format!("http://{}", display_addr(&config.host, addr));
        let journal = match &config.record {
            Some(path) => {
                Some(journal::Journal::create(path, &journal::Journal::header(&config, clock.now(), &endpoint))?)
            }
            None => None,
        };
        let given = self.lambda;
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(15)).build()?;
        let emu = Arc::new_cyclic(|me| Emu {
            rng: Rng::new(config.seed),
            clock,
            store,
            started,
            http,
            endpoint: endpoint.clone(),
            config,
            // Other services run functions here unless an embedder supplied its own runner.
            lambda: Some(given.unwrap_or_else(|| Arc::new(services::lambda::LocalInvoker(me.clone())))),
            functions: Default::default(),
            stream_writes: tokio::sync::Notify::new(),
            ttl_quiet: Default::default(),
            kms_deletions: Default::default(),
            sockets: Default::default(),
            role_keys: Default::default(),
            requests: Default::default(),
            web_app: Default::default(),
            faults: Default::default(),
            journal,
        });
        for spec in emu.config.faults.clone() {
            emu.faults.add(spec, emu.config.seed).map_err(|e| anyhow::anyhow!("fault: {e}"))?;
        }
        emu.functions.resume(&emu).await?;
        if let Some(fixture) = &emu.config.fixture {
            fixtures::load(&emu, fixture).await.map_err(|e| anyhow::anyhow!("fixture: {e}"))?;
        }
        let app = gateway::router(emu.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server stopped");
            }
        });
        Ok(EmulatorHandle { addr, url: endpoint, emu, shutdown: Some(tx), task })
    }
}

/// `localhost` stays `localhost` (so virtual-host S3 URLs work); other hosts show the bound address.
fn display_addr(host: &str, addr: SocketAddr) -> String {
    if host == "localhost" { format!("localhost:{}", addr.port()) } else { addr.to_string() }
}

/// A running instance. Dropping it stops serving.
pub struct EmulatorHandle {
    addr: SocketAddr,
    url: String,
    emu: Arc<Emu>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl EmulatorHandle {
    /// The endpoint for SDKs and the CLI, e.g. `http://127.0.0.1:4566`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Direct access to the instance (tests use it to read the clock or the store).
    pub fn state(&self) -> &Arc<Emu> {
        &self.emu
    }

    /// Stops accepting requests, lets in-flight ones finish, closes the database.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open WebSockets would hold graceful shutdown forever.
        self.emu.sockets.close_all();
        let _ = (&mut self.task).await;
        self.emu.functions.stop_all();
        self.emu.store.close().await;
    }

    /// Serves until the process gets Ctrl-C / SIGTERM.
    pub async fn wait_for_signal(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        self.shutdown().await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
