//! Shared state of a running instance ([`Emu`]) and the per-request view handlers get ([`Ctx`]).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::rng::Rng;
use crate::store::Store;

/// Everything one emulator instance owns. Handlers reach it through [`Ctx`].
#[derive(Debug)]
pub struct Emu {
    pub config: Config,
    pub store: Store,
    pub clock: Clock,
    pub rng: Rng,
    pub started: Instant,
    /// Outbound HTTP (SNS deliveries to http subscribers).
    pub http: reqwest::Client,
    /// The URL clients reach this instance at (`http://host:port`), known once bound.
    pub endpoint: String,
    /// Runs Lambda functions for other services (Cognito triggers); `None` until one is set.
    pub lambda: Option<Arc<dyn crate::invoke::LambdaInvoker>>,
    /// Lambda functions' running instances.
    pub functions: crate::services::lambda::Functions,
    /// Woken after every committed DynamoDB write, so stream pollers need not spin.
    pub stream_writes: tokio::sync::Notify,
    /// Until when the DynamoDB expiry sweeper has nothing to do, as far as it knows.
    pub ttl_quiet: crate::store::horizon::Horizon,
    /// Until when no KMS key is due for deletion, as far as the sweeper knows.
    pub kms_deletions: crate::store::horizon::Horizon,
    /// Live API Gateway WebSocket connections.
    pub sockets: crate::services::apigw::websocket::Connections,
    /// Access keys handed to Lambda functions for their execution roles, by access key.
    pub role_keys: std::sync::Mutex<std::collections::HashMap<String, crate::config::Credential>>,
    /// The last requests served (SDK calls, API stages, WebSocket messages), for the console.
    pub requests: crate::console::requests::RequestLog,
    /// The static web client served at `/_app/`, once `emulator up` sets one.
    pub web_app: std::sync::RwLock<Option<Arc<crate::webapp::WebApp>>>,
    /// Injected failures and latency (`/_emulator/faults`).
    pub faults: crate::faults::Faults,
    /// Where API requests and responses are journaled (`--record`), if anywhere.
    pub journal: Option<crate::journal::Journal>,
}

impl Emu {
    /// The credential of an access key: configured, or a function's execution-role key.
    pub fn credential(&self, access_key: &str) -> Option<crate::config::Credential> {
        self.config
            .credential(access_key)
            .cloned()
            .or_else(|| self.role_keys.lock().expect("role keys lock").get(access_key).cloned())
    }

    /// The temporary credential a function running as `role_arn` gets, as Lambda hands out
    /// its execution role's session. Derived from the ARN, so it is stable across restarts,
    /// and registered so requests signed with it act as that role (key policies see it).
    pub fn role_credential(&self, role_arn: &str) -> crate::config::Credential {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("execution-role:{role_arn}").as_bytes());
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let id: String = digest[..16].iter().map(|b| ALPHABET[(*b as usize) % 32] as char).collect();
        let cred = crate::config::Credential {
            access_key: format!("ASIA{id}"),
            secret_key: hex::encode(&digest[16..]),
            principal_arn: role_arn.to_string(),
        };
        self.role_keys.lock().expect("role keys lock").insert(cred.access_key.clone(), cred.clone());
        cred
    }
}

/// Who is calling: the access key from the SigV4 signature and the principal it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key: String,
    /// e.g. `arn:aws:iam::000000000000:root` or `arn:aws:iam::000000000000:role/x`.
    pub arn: String,
    /// The account the principal belongs to (from its ARN).
    pub account: String,
}

impl Principal {
    pub fn from_arn(access_key: &str, arn: &str) -> Self {
        let account = arn.split(':').nth(4).unwrap_or_default().to_string();
        Self { access_key: access_key.to_string(), arn: arn.to_string(), account }
    }
}

/// One request's context: the instance, who is calling, and the request id.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub emu: Arc<Emu>,
    pub request_id: String,
    pub principal: Principal,
    /// The region the caller signed for (falls back to the configured region).
    pub region: String,
}

impl Ctx {
    /// A context acting as the account root, as unmapped SDK credentials do: for work the
    /// emulator does itself through the services' handlers (provisioning, demo data).
    pub fn internal(emu: &Arc<Emu>) -> Ctx {
        use rand::RngCore;
        // Request ids are not drawn from the seeded RNG, as in the gateway.
        let mut id = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut id);
        Ctx {
            emu: emu.clone(),
            request_id: hex::encode_upper(id),
            principal: Principal::from_arn("", &emu.config.root_arn()),
            region: emu.config.region.clone(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.emu.store
    }

    pub fn rng(&self) -> &Rng {
        &self.emu.rng
    }

    pub fn config(&self) -> &Config {
        &self.emu.config
    }

    pub fn account(&self) -> &str {
        &self.emu.config.account
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.emu.clock.now()
    }

    /// `now` as fractional epoch seconds (AWS JSON protocols' timestamp form).
    pub fn epoch(&self) -> f64 {
        self.now().timestamp_millis() as f64 / 1000.0
    }

    /// `now` as RFC 3339 with milliseconds, the form stored in the database.
    pub fn now_rfc3339(&self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}
