//! `emulator replay FILE`: sends a journal ([`crate::journal`]) again, request by request, to a
//! fresh in-memory instance started as the recording one was — same seed, same frozen clock
//! (advanced to each entry's time before it is sent), region, account, credentials, endpoint
//! and fixture (the file the header names, or [`ReplayOptions::fixture`]) — and compares each
//! response with the recorded one.
//!
//! Status, headers and body must match exactly once request ids (`x-amzn-RequestId`,
//! `x-amz-request-id`, `x-amz-id-2` and their occurrences in the body) and the `Date` header are
//! set aside: nothing else is normalised. The first difference is reported as a unified diff.
//!
//! - Requests are sent as recorded, signatures included; the replaying instance does not verify
//!   signatures (as by default), so a redacted signature does not matter. A request whose body
//!   lost a secret to redaction cannot be sent again: the replay stops there and says so.
//! - The endpoint is part of the state (Cognito's token issuer is `{endpoint}/{pool}`), so the
//!   replay listens where the recording did unless told otherwise.
//! - A call that met an injected fault in the recording meets the same fault again.
//! - Requests to API stages (`observed` entries: HTTP requests, WebSocket upgrades, frames and
//!   disconnections) are not sent: no function runs in a replay, and the calls the functions
//!   made are in the journal themselves — except `@connections` calls on the recording's
//!   WebSocket connections, which no client holds open in a replay: they are skipped too.
//! - Journals of a seeded instance with a frozen clock replay exactly; others are replayed with a
//!   warning, and ids or timestamps will differ.
//!
//! A journal recorded on the client's side (`recordedAgainst`: moto, LocalStack, AWS or an
//! unseeded emulator — the conformance suite writes them), or replayed with
//! [`ReplayOptions::map_ids`], is replayed with its ids paired up instead ([`correspond`]): each
//! recorded value the other side generated stands for the one this instance generated in its
//! place, requests are rewritten with them, responses are compared member by member, and the
//! replay goes on to the end, reporting every request whose answer differs beyond its ids.

pub mod correspond;

use std::path::Path;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::config::{Config, Credential, StateLocation};
use crate::journal::{self, Entry, Header};

/// How to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Listen here instead of the recorded endpoint's port (0: any free port).
    pub port: Option<u16>,
    /// Load this fixture at start instead of the one the journal's header names.
    pub fixture: Option<std::path::PathBuf>,
    /// Pair recorded ids with this instance's instead of expecting the same bytes (always so
    /// for a journal recorded against another implementation).
    pub map_ids: bool,
}

/// How a replay ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every response matched.
    Identical,
    /// Entry `seq` answered differently; `diff` is recorded → replayed.
    Diverged { seq: u64, step: String, diff: String },
    /// Entry `seq` cannot be sent again (a secret was redacted from it).
    NotReplayable { seq: u64, step: String, reason: String },
    /// With ids paired: the entries whose answers differ beyond their ids (or that could not
    /// be sent), in journal order.
    Differences(Vec<EntryDifferences>),
}

/// One entry of a replay with ids paired whose answer differs.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryDifferences {
    pub seq: u64,
    pub step: String,
    pub differences: Vec<correspond::Difference>,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// Entries sent and matched before the outcome.
    pub matched: usize,
    pub total: usize,
    pub outcome: Outcome,
    pub warnings: Vec<String>,
    /// With ids paired: how many recorded values were paired with this instance's.
    pub paired: Option<usize>,
}

impl Report {
    pub fn identical(&self) -> bool {
        self.outcome == Outcome::Identical
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        match &self.outcome {
            Outcome::Identical if self.paired.is_some() => writeln!(
                f,
                "replayed {} of {} requests with {} recorded values paired: every response equivalent",
                self.matched,
                self.total,
                self.paired.unwrap_or_default()
            ),
            Outcome::Identical => {
                writeln!(f, "replayed {} of {} requests: every response identical", self.matched, self.total)
            }
            Outcome::Differences(entries) => {
                writeln!(
                    f,
                    "replayed {} requests with {} recorded values paired: {} equivalent, {} differ",
                    self.total,
                    self.paired.unwrap_or_default(),
                    self.matched,
                    entries.len()
                )?;
                for e in entries {
                    writeln!(f, "step {} ({}):", e.seq, e.step)?;
                    for d in &e.differences {
                        writeln!(f, "  {d}")?;
                    }
                }
                Ok(())
            }
            Outcome::Diverged { seq, step, diff } => {
                writeln!(f, "step {seq} ({step}) differs after {} identical responses:", self.matched)?;
                write!(f, "{diff}")
            }
            Outcome::NotReplayable { seq, step, reason } => {
                writeln!(
                    f,
                    "step {seq} ({step}) cannot be replayed after {} identical responses: {reason}",
                    self.matched
                )
            }
        }
    }
}

/// Replays the journal at `path`.
pub async fn replay(path: &Path, options: &ReplayOptions) -> anyhow::Result<Report> {
    let (header, entries) = journal::read(path)?;
    if header.recorded_against.is_some() || options.map_ids {
        return replay_pairing_ids(header, entries, options).await;
    }
    let mut warnings = Vec::new();
    if header.seed.is_none() {
        warnings.push("recorded without --seed: generated ids, keys and codes will differ".to_string());
    }
    if !header.frozen {
        warnings.push("recorded with a running clock (no --clock): timestamps may differ".to_string());
    }
    if header.version != env!("CARGO_PKG_VERSION") {
        warnings.push(format!("recorded by version {}, replayed by {}", header.version, env!("CARGO_PKG_VERSION")));
    }
    let endpoint: http::Uri = header.endpoint.parse()?;
    let config = Config {
        host: endpoint.host().unwrap_or("127.0.0.1").to_string(),
        port: options.port.or(endpoint.port_u16()).unwrap_or(0),
        ..config_of(&header)
    };
    let handle = start(config, &header, options).await?;
    let result = run(&handle, &header, &entries).await;
    handle.shutdown().await;
    let (matched, outcome) = result?;
    Ok(Report { matched, total: entries.len(), outcome, warnings, paired: None })
}

/// The instance a journal's header describes (in memory; listening where the caller says).
fn config_of(header: &Header) -> Config {
    Config {
        state: StateLocation::InMemory,
        seed: header.seed,
        clock: Some(header.clock),
        region: header.region.clone(),
        account: header.account.clone(),
        auto_confirm_subscriptions: header.auto_confirm_subscriptions,
        cognito_aws_issuer: header.cognito_aws_issuer,
        credentials: header
            .credentials
            .iter()
            .map(|c| Credential {
                access_key: c.access_key.clone(),
                // Without the secret, the key still maps to its principal; signatures are not checked.
                secret_key: c.secret_key.clone().unwrap_or_default(),
                principal_arn: c.principal_arn.clone(),
            })
            .collect(),
        ..Config::default()
    }
}

async fn start(config: Config, header: &Header, options: &ReplayOptions) -> anyhow::Result<crate::EmulatorHandle> {
    let mut builder = crate::Emulator::builder().config(config);
    if let Some(file) = options.fixture.as_ref().or(header.fixture.as_ref()) {
        builder = builder.fixture(crate::fixtures::read(file)?);
    }
    builder.start().await
}

/// The step's name in reports: service and operation, or the request line.
fn step_name(entry: &Entry) -> String {
    match &entry.operation {
        Some(op) => format!("{} {op}", entry.service),
        None => format!("{} {} {}", entry.service, entry.request.method, entry.request.path),
    }
}

/// The WebSocket connections the recording's clients opened (journaled `$connect`s).
fn recorded_sockets(entries: &[Entry]) -> std::collections::HashSet<&str> {
    entries.iter().filter(|e| e.observed).filter_map(|e| e.connection_id.as_deref()).collect()
}

/// Whether `entry` is an `@connections` call on one of those connections: it cannot be
/// answered as recorded, since no socket is open in a replay (frames are not sent again).
fn on_recorded_socket(entry: &Entry, sockets: &std::collections::HashSet<&str>) -> bool {
    let path = entry.request.path.split('?').next().unwrap_or_default();
    entry.service == "execute-api"
        && path.rsplit_once("/@connections/").is_some_and(|(_, id)| {
            sockets.contains(percent_encoding::percent_decode_str(id).decode_utf8_lossy().as_ref())
        })
}

/// Why an entry cannot be sent again, if it cannot.
fn unsendable(entry: &Entry) -> Option<&'static str> {
    if entry.request.redacted {
        Some("its secrets were redacted when it was recorded (record with --record-secrets to replay)")
    } else if entry.request.body_unrecorded {
        Some("its body was streamed when it was recorded and not kept")
    } else {
        None
    }
}

/// Replays a journal whose ids are not this instance's, pairing them up ([`correspond`]).
async fn replay_pairing_ids(header: Header, entries: Vec<Entry>, options: &ReplayOptions) -> anyhow::Result<Report> {
    let mut warnings = Vec::new();
    if let Some(other) = &header.recorded_against {
        warnings.push(format!("recorded against {other}: ids are paired with this emulator's as they appear"));
    }
    let mut config = Config { port: options.port.unwrap_or(0), ..config_of(&header) };
    if header.account.is_empty() {
        config.account = Config::default().account;
    }
    let handle = start(config, &header, options).await?;
    let result = run_pairing_ids(&handle, &header, &entries).await;
    handle.shutdown().await;
    let (pairs, differing) = result?;
    let matched = entries.iter().filter(|e| !e.observed).count() - differing.len();
    let outcome = if differing.is_empty() { Outcome::Identical } else { Outcome::Differences(differing) };
    Ok(Report { matched, total: entries.len(), outcome, warnings, paired: Some(pairs) })
}

/// Response headers compared in a replay with ids paired: what SDKs read beyond the body.
fn compared_header(name: &str) -> bool {
    // Beyond the per-run ids: a checksum of a body whose ids differ, and tracing.
    const SET_ASIDE: &[&str] = &["x-amz-crc32", "x-amzn-trace-id"];
    let per_run = PER_RUN_HEADERS.contains(&name) || SET_ASIDE.contains(&name);
    (name.starts_with("x-amz") && !per_run && !name.starts_with("x-amz-cf-"))
        || matches!(name, "etag" | "content-type" | "content-range")
}

async fn run_pairing_ids(
    handle: &crate::EmulatorHandle,
    header: &Header,
    entries: &[Entry],
) -> anyhow::Result<(usize, Vec<EntryDifferences>)> {
    use correspond::{Correspondence, Difference};
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let port = handle.addr().port();
    let mut pairs = Correspondence::new();
    pairs.insert(header.endpoint.trim_end_matches('/'), handle.url().trim_end_matches('/'));
    let mut differing = Vec::new();
    for entry in entries.iter().filter(|e| !e.observed) {
        let step = step_name(entry);
        if let Some(reason) = unsendable(entry) {
            let d =
                Difference { at: "request".into(), recorded: "sent".into(), replayed: format!("not sent: {reason}") };
            differing.push(EntryDifferences { seq: entry.seq, step, differences: vec![d] });
            continue;
        }
        let clock = &handle.state().clock;
        let now = clock.now();
        if entry.time > now {
            clock.advance(entry.time - now);
        }
        let mut request = entry.clone();
        request.request.path = pairs.rewrite_path(&entry.request.path);
        for (k, v) in request.request.headers.iter_mut() {
            if !matches!(k.to_ascii_lowercase().as_str(), "authorization" | "x-amz-date" | "host") {
                *v = pairs.rewrite(v);
            }
        }
        let body = entry.request.body.bytes()?;
        let form =
            entry.request.headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("content-type") && v.starts_with("application/x-www-form-urlencoded")
            });
        // An S3 object's bytes are the client's: their checksums were sent with them.
        let rewritten = match std::str::from_utf8(&body) {
            Ok(text) if form => pairs.rewrite_form(text).into_bytes(),
            Ok(text) if entry.service != "s3" || text.trim_start().starts_with('<') => pairs.rewrite(text).into_bytes(),
            _ => body,
        };
        request.request.body = journal::Body::from_bytes(&rewritten);
        let (status, headers, body) = match send(&http, handle.url(), port, &request).await {
            Ok(answer) => answer,
            Err(e) => {
                let d = Difference {
                    at: "response".into(),
                    recorded: format!("HTTP {}", entry.response.status),
                    replayed: format!("none: {e:#}"),
                };
                differing.push(EntryDifferences { seq: entry.seq, step, differences: vec![d] });
                continue;
            }
        };

        let mut found = Vec::new();
        if status != entry.response.status {
            found.push(Difference {
                at: "status".into(),
                recorded: entry.response.status.to_string(),
                replayed: status.to_string(),
            });
        }
        let replayed_headers = headers.pairs();
        let recorded_headers = entry.response.headers.pairs();
        let mut names: Vec<&str> = recorded_headers.iter().chain(&replayed_headers).map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let value = |hs: &[(String, String)], name: &str| hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        for name in names.into_iter().filter(|n| compared_header(n)) {
            let (r, p) = (value(&recorded_headers, name), value(&replayed_headers, name));
            pairs.compare_header(name, r.as_deref(), p.as_deref(), &mut found);
        }
        if !entry.response.body_unrecorded {
            pairs.compare_bodies(&entry.response.body.bytes()?, &body, &mut found);
        }
        if !found.is_empty() {
            differing.push(EntryDifferences { seq: entry.seq, step, differences: found });
        }
    }
    Ok((pairs.len(), differing))
}

async fn run(handle: &crate::EmulatorHandle, header: &Header, entries: &[Entry]) -> anyhow::Result<(usize, Outcome)> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let port = handle.addr().port();
    let sockets = recorded_sockets(entries);
    for (i, entry) in entries.iter().enumerate() {
        let step = step_name(entry);
        if entry.observed || on_recorded_socket(entry, &sockets) {
            // An API stage's request: its functions' calls follow in the journal and are sent.
            // A call on a WebSocket connection of the recording: no client holds it here.
            continue;
        }
        if let Some(reason) = unsendable(entry) {
            return Ok((i, Outcome::NotReplayable { seq: entry.seq, step, reason: reason.into() }));
        }
        let clock = &handle.state().clock;
        let now = clock.now();
        if entry.time > now {
            clock.advance(entry.time - now);
        }
        let fault = match &entry.fault {
            Some(spec) => Some(handle.state().faults.add(spec.clone(), header.seed).map_err(|e| anyhow::anyhow!(e))?),
            None => None,
        };
        let (status, headers, body) = send(&http, handle.url(), port, entry).await?;
        if let Some(fault) = fault {
            handle.state().faults.remove(&fault.id);
        }
        let recorded_body = entry.response.body.bytes()?;
        let body = match header.secrets {
            true => body,
            false => journal::redact_body(&entry.service, &body).unwrap_or(body),
        };
        let replayed_headers = journal::redact_headers(&headers);
        let recorded = |pretty| document(entry.response.status, &entry.response.headers, &recorded_body, pretty);
        let replayed = |pretty| document(status, &replayed_headers, &body, pretty);
        if recorded(false) != replayed(false) {
            let diff = |a: &str, b: &str| {
                similar::TextDiff::from_lines(a, b)
                    .unified_diff()
                    .context_radius(3)
                    .header("recorded", "replayed")
                    .to_string()
            };
            let mut shown = diff(&recorded(true), &replayed(true));
            if shown.is_empty() {
                // Equal as JSON, different as bytes (member order): show the bytes.
                shown = diff(&recorded(false), &replayed(false));
            }
            return Ok((i, Outcome::Diverged { seq: entry.seq, step, diff: shown }));
        }
    }
    Ok((entries.len(), Outcome::Identical))
}

/// Headers a client sets per connection, not per request.
const CONNECTION_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection", "expect"];

async fn send(
    http: &reqwest::Client,
    base: &str,
    port: u16,
    entry: &Entry,
) -> anyhow::Result<(u16, HeaderMap, Vec<u8>)> {
    let req = &entry.request;
    let method = Method::from_bytes(req.method.as_bytes())?;
    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = HeaderName::from_bytes(k.as_bytes())?;
        if name == http::header::HOST {
            // Virtual-host S3 addressing lives in the host name; the port is this instance's,
            // and AWS's domain is this instance's `localhost` one.
            let authority: http::uri::Authority = v.parse()?;
            let host = authority.host();
            let host = host.strip_suffix(".amazonaws.com").map_or(host.to_string(), |h| format!("{h}.localhost"));
            headers.insert(name, HeaderValue::from_str(&format!("{host}:{port}"))?);
        } else if !CONNECTION_HEADERS.contains(&name.as_str()) {
            headers.append(name, HeaderValue::from_str(v)?);
        }
    }
    let resp =
        http.request(method, format!("{base}{}", req.path)).headers(headers).body(req.body.bytes()?).send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?.to_vec();
    Ok((status, headers, body))
}

/// Response headers that differ on every run by design.
const PER_RUN_HEADERS: &[&str] = &["date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "apigw-requestid"];

/// A response as text for comparison: status, sorted headers, body with its request ids
/// replaced. `pretty` (for showing a diff only) pretty-prints JSON and splits XML between
/// elements, so a diff points at the member that changed.
fn document<H: AsHeaders + ?Sized>(status: u16, headers: &H, body: &[u8], pretty: bool) -> String {
    let headers = headers.pairs();
    let ids: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "x-amzn-requestid" | "x-amz-request-id" | "x-amz-id-2"))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect();
    let mut shown: Vec<String> = headers
        .iter()
        .filter(|(k, _)| !PER_RUN_HEADERS.contains(&k.as_str()) && k != "content-length")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    shown.sort();
    let body = match std::str::from_utf8(body) {
        Ok(text) => {
            let mut text = text.to_string();
            for id in &ids {
                text = text.replace(id, "{request-id}");
            }
            if !pretty {
                return format!("HTTP {status}\n{}\n\n{text}\n", shown.join("\n"));
            }
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => serde_json::to_string_pretty(&v).unwrap_or(text),
                _ if text.trim_start().starts_with('<') => text.replace("><", ">\n<"),
                _ => text,
            }
        }
        Err(_) => {
            use sha2::Digest;
            format!("<{} bytes, sha256 {}>", body.len(), hex::encode(sha2::Sha256::digest(body)))
        }
    };
    format!("HTTP {status}\n{}\n\n{body}\n", shown.join("\n"))
}

/// Headers as (lowercase name, value) pairs, from a journal or a live response.
trait AsHeaders {
    fn pairs(&self) -> Vec<(String, String)>;
}

impl AsHeaders for [(String, String)] {
    fn pairs(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect()
    }
}

impl AsHeaders for HeaderMap {
    fn pairs(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
    }
}

impl AsHeaders for Vec<(String, String)> {
    fn pairs(&self) -> Vec<(String, String)> {
        self.as_slice().pairs()
    }
}
