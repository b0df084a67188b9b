//! Journals recorded on the client's side (`CONFORMANCE_RECORD_DIR`): every request a
//! scenario's SDK clients send and the response they get, in the emulator's journal format
//! (`emulator::journal`), one file per scenario. Recorded against moto, LocalStack or AWS, a
//! journal says `recordedAgainst`, and `emulator replay` sends it to a fresh emulator with the
//! other side's ids paired with its own, reporting every answer that differs beyond them (the
//! conformance report does so for every journal of a run).
//!
//! The recorder is an SDK interceptor, so it sees what travels on the wire whatever the
//! target — no proxy in between, and signatures to AWS stay valid. It keeps:
//! - the signed request (signature and session token redacted; bodies kept, secrets included:
//!   they are the scenarios' own test passwords and keys, and a replay needs them);
//! - the response as the SDK read it; a streamed response body (an S3 object) is handed to the
//!   caller unread, so it is marked unrecorded and a replay compares its status and headers.
//!
//! Each attempt is one entry (a retried call shows twice, as it went).

use std::path::Path;
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use chrono::{DateTime, Utc};
use emulator::journal::{self, Body, Entry, Header, Journal, Request, Response};

use crate::target::Target;

/// Writes one scenario's journal (the emulator's own journal writer); cloned into every client
/// of the scenario.
#[derive(Debug, Clone)]
pub struct Recorder {
    journal: Arc<Journal>,
}

/// The request of the attempt in flight, kept between transmit and its response.
#[derive(Debug, Clone)]
struct Sent {
    time: DateTime<Utc>,
    request: Request,
}

impl Storable for Sent {
    type Storer = StoreReplace<Sent>;
}

/// The account a target's ARNs carry by default (AWS's is whatever the credentials belong to:
/// empty, unknown).
pub fn default_account(target: Target) -> &'static str {
    match target {
        Target::Moto => "123456789012",
        Target::Emulator | Target::LocalStack => "000000000000",
        Target::Aws => "",
    }
}

impl Recorder {
    /// Creates (truncates) `path` with the header of a journal recorded against `target` at
    /// `endpoint` (`None`: AWS's own endpoints) in `region`, whose ARNs carry `account` (empty
    /// when unknown: a replay then pairs it like any id).
    pub fn create(
        path: &Path,
        target: Target,
        endpoint: Option<&str>,
        region: &str,
        account: &str,
    ) -> anyhow::Result<Recorder> {
        use anyhow::Context as _;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let header = Header {
            journal: journal::FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            seed: None,
            clock: Utc::now(),
            frozen: false,
            region: region.to_string(),
            account: account.to_string(),
            endpoint: endpoint.unwrap_or("https://amazonaws.com").to_string(),
            auto_confirm_subscriptions: false,
            cognito_aws_issuer: false,
            credentials: Vec::new(),
            secrets: true,
            fixture: None,
            recorded_against: Some(target.name().to_string()),
        };
        Ok(Recorder { journal: Arc::new(Journal::create(path, &header)?) })
    }
}

/// The emulator's name for a service (the journal's `service`), from the SDK's
/// (`Cognito Identity Provider`, `ApiGatewayManagementApi`, `DynamoDB Streams`, …).
fn service_name(sdk: &str) -> String {
    let squashed: String = sdk.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    match squashed.as_str() {
        "cognitoidentityprovider" => "cognito-idp".into(),
        s if s.starts_with("apigatewaymanagement") => "execute-api".into(),
        _ => squashed,
    }
}

fn header_pairs(headers: &aws_smithy_runtime_api::http::Headers) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect()
}

fn body_of(body: &aws_smithy_types::body::SdkBody) -> (Body, bool) {
    match body.bytes() {
        Some(bytes) => (Body::from_bytes(bytes), false),
        None => (Body::default(), true),
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "ConformanceJournal"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request();
        let url = reqwest::Url::parse(req.uri())?;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut headers = header_pairs(req.headers());
        if !headers.iter().any(|(k, _)| k == "host") {
            // Added by the connection below the SDK; a replay needs it for virtual-host S3.
            let host = url.host_str().unwrap_or_default();
            let host = url.port().map_or(host.to_string(), |p| format!("{host}:{p}"));
            headers.insert(0, ("host".into(), host));
        }
        let (body, body_unrecorded) = body_of(req.body());
        let request = Request {
            method: req.method().to_string(),
            path,
            headers: journal::redact_header_pairs(headers),
            body,
            redacted: false,
            body_unrecorded,
        };
        cfg.interceptor_state().store_put(Sent { time: Utc::now(), request });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // No response (the connection failed): nothing answered, nothing to replay against.
        let (Some(resp), Some(sent)) = (context.response(), cfg.load::<Sent>().cloned()) else {
            return Ok(());
        };
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(m) => (service_name(m.service()), Some(m.name().to_string())),
            None => ("unknown".to_string(), None),
        };
        let (body, body_unrecorded) = body_of(resp.body());
        let status = resp.status().as_u16();
        self.journal.append(|seq| Entry {
            seq,
            time: sent.time,
            service,
            operation,
            request: sent.request,
            response: Response { status, headers: header_pairs(resp.headers()), body, body_unrecorded },
            status,
            request_id: None,
            fault: None,
            observed: false,
            connection_id: None,
        });
        Ok(())
    }
}

/// The journals' directory for `target` in a results directory.
pub fn journals_dir(results: &Path, target: Target) -> std::path::PathBuf {
    results.join(format!("journals-{}", target.name()))
}

/// Detail shown per journal in the report: differing steps, and differences per step.
const SHOWN_STEPS: usize = 3;
const SHOWN_DIFFERENCES: usize = 3;

/// The report's section on journals: every journal recorded in `results` (by target, then
/// scenario) replayed on a fresh emulator with ids paired, and where the answers differ.
/// `None` when no journal was recorded.
pub async fn replay_section(results: &Path) -> Option<String> {
    use emulator::replay::{Outcome, ReplayOptions};
    use std::fmt::Write as _;
    let mut table = String::new();
    let mut details = String::new();
    for target in Target::ALL {
        let Ok(dir) = std::fs::read_dir(journals_dir(results, target)) else { continue };
        let mut files: Vec<_> =
            dir.flatten().map(|e| e.path()).filter(|p| p.extension() == Some("jsonl".as_ref())).collect();
        files.sort();
        for file in files {
            let scenario = file.file_stem().map(|s| s.to_string_lossy().replace("__", "::")).unwrap_or_default();
            let report = match emulator::replay::replay(&file, &ReplayOptions::default()).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = writeln!(table, "| {target} | {scenario} | could not be replayed: {e:#} | | |");
                    continue;
                }
            };
            let differing = match &report.outcome {
                Outcome::Differences(d) => d.as_slice(),
                _ => &[],
            };
            let _ = writeln!(
                table,
                "| {target} | {scenario} | {} | {} | {} |",
                report.matched + differing.len(),
                report.matched,
                differing.len()
            );
            if differing.is_empty() {
                continue;
            }
            let _ = writeln!(details, "\n### {target}: {scenario}\n");
            for step in differing.iter().take(SHOWN_STEPS) {
                let _ = writeln!(details, "- step {} ({})", step.seq, step.step);
                for d in step.differences.iter().take(SHOWN_DIFFERENCES) {
                    let _ = writeln!(details, "  - {}", d.to_string().replace('|', "\\|"));
                }
                if step.differences.len() > SHOWN_DIFFERENCES {
                    let _ = writeln!(details, "  - … {} more", step.differences.len() - SHOWN_DIFFERENCES);
                }
            }
            if differing.len() > SHOWN_STEPS {
                let _ = writeln!(
                    details,
                    "- … {} more steps (`emulator replay {}` shows them all)",
                    differing.len() - SHOWN_STEPS,
                    file.display()
                );
            }
        }
    }
    if table.is_empty() {
        return None;
    }
    Some(format!(
        "## Journals replayed on the emulator\n\n\
         Every call each scenario's clients made, recorded on the client's side and sent again to a fresh \
         emulator with the target's generated values (ids, ARNs, account, tokens, ciphertexts) paired with \
         the emulator's. A request whose answer differs beyond those values is listed below; values a client \
         learnt outside the API (mailed codes, delivered SNS tokens, WebSocket connection ids) cannot be \
         paired, so the requests that use them differ on every target.\n\n\
         | target | scenario | requests | equivalent | differ |\n|---|---|---|---|---|\n{table}{details}"
    ))
}
