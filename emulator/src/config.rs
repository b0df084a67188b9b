//! Run-time configuration of one emulator instance.
//!
//! Everything a test or the CLI can choose lives here, so that an instance is fully described
//! by its `Config` (plus the state directory it is pointed at).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// Where the SQLite database and any blob files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A directory holding `emulator.db` (created if missing). State survives restarts.
    Dir(PathBuf),
    /// Throwaway state: a private temporary database, deleted when the instance stops.
    InMemory,
}

/// A known access key: its secret (used to verify signatures) and the principal it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    /// IAM principal ARN requests signed with this key act as, e.g.
    /// `arn:aws:iam::000000000000:role/chat-backend`.
    pub principal_arn: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub state: StateLocation,
    /// Seed for the one RNG behind every id, key, nonce and code. `None`: seeded from the OS.
    pub seed: Option<u64>,
    /// Freeze the clock at this instant (it then moves only through `/_emulator/clock`).
    /// `None`: wall-clock time (plus any advance).
    pub clock: Option<DateTime<Utc>>,
    pub region: String,
    pub account: String,
    /// Verify SigV4 signatures against `credentials`; unknown keys and bad signatures are
    /// rejected with each protocol's own error. Off by default: any access key is accepted.
    pub strict_auth: bool,
    /// Access keys with their secrets and principals. Keys not listed map to the account root
    /// (unless `strict_auth`).
    pub credentials: Vec<Credential>,
    /// Confirm e-mail/SMS subscriptions at once instead of mailing a confirmation link.
    pub auto_confirm_subscriptions: bool,
    /// Issue Cognito tokens with AWS's issuer (`https://cognito-idp.{region}.amazonaws.com/{pool}`)
    /// instead of this emulator's URL + `/{pool}`.
    pub cognito_aws_issuer: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// WebSocket connections without traffic are closed after this long (AWS: 10 minutes).
    pub ws_idle_timeout: std::time::Duration,
    /// Faults in force from the start (`--faults FILE`; see [`crate::faults`]).
    pub faults: Vec<crate::faults::FaultSpec>,
    /// Journal every API request and response to this file (`--record`; see [`crate::journal`]).
    pub record: Option<PathBuf>,
    /// Keep secrets (passwords, tokens, plaintexts, signatures) in the journal.
    pub record_secrets: bool,
    /// A fixture loaded once the instance has started (`--fixture`; see [`crate::fixtures`]).
    pub fixture: Option<crate::fixtures::Fixture>,
    /// The file `fixture` came from, for the journal's header (a replay loads it again).
    pub fixture_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 4566,
            state: StateLocation::Dir(PathBuf::from(".emulator")),
            seed: None,
            clock: None,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            strict_auth: false,
            credentials: vec![Credential {
                access_key: "test".into(),
                secret_key: "test".into(),
                principal_arn: "arn:aws:iam::000000000000:root".into(),
            }],
            auto_confirm_subscriptions: false,
            cognito_aws_issuer: false,
            max_body_bytes: 512 * 1024 * 1024,
            ws_idle_timeout: std::time::Duration::from_secs(600),
            faults: Vec::new(),
            record: None,
            record_secrets: false,
            fixture: None,
            fixture_file: None,
        }
    }
}

impl Config {
    /// The ARN of the account root, the principal of unmapped access keys.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account)
    }

    pub fn credential(&self, access_key: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.access_key == access_key)
    }
}
