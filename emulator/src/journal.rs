//! The request journal (`--record FILE`): every API request the gateway serves and the response
//! it got, one JSON object per line, so a session can be kept, read, and replayed
//! ([`crate::replay`]).
//!
//! The first line is a [`Header`]: what a replay needs to start an identical instance (seed,
//! clock, region, account, endpoint, credentials' principals, the fixture file loaded at start,
//! version). Each further line is an
//! [`Entry`]: the emulator-clock time the request arrived, service and operation (as the request
//! log names them), the request (method, path and query, headers, body) and the response
//! (status, headers, body). Bodies are UTF-8 text where they are valid UTF-8, else base64
//! (`bodyBase64`).
//!
//! Secrets are redacted unless the instance runs with `--record-secrets`:
//! - the signature in `Authorization` (the credential scope stays: it decides which service a
//!   request is for), `X-Amz-Security-Token`, and presigned URLs' `X-Amz-Signature` and
//!   `X-Amz-Security-Token`;
//! - in Cognito bodies, passwords (`Password`, `PreviousPassword`, `ProposedPassword`,
//!   `TemporaryPassword`, challenge responses' `PASSWORD`/`NEW_PASSWORD`/`SECRET_HASH`),
//!   tokens (`AccessToken`, `RefreshToken`, `IdToken`, `Session`), `SecretHash` and
//!   `ClientSecret`; in KMS bodies, `Plaintext`.
//!
//! A request whose body lost a secret is marked `"redacted": true`: it cannot be sent again as
//! it was, so a replay stops there and says so. Journals meant for replay are recorded with
//! `--record-secrets` (and then hold passwords, tokens and plaintexts: treat them as secrets).
//!
//! A call that met an injected fault carries it (`fault`), so a replay injects the same fault
//! for that call.
//!
//! HTTP requests to API stages (`/_aws/execute-api/…`) are journaled too, marked `observed`:
//! what a client asked the application and what it answered. A replay does not send them again,
//! since the calls their functions made to the services are journaled after them in their own
//! right (the functions themselves do not run in a replay). So are WebSocket sessions: the
//! upgrade (`$connect`, with the connection id it opened), each client frame with the route it
//! selected and what came back on the socket for it, and the disconnection ([`Frame`]), each
//! carrying `connectionId`. `/_emulator/*` calls are not journaled (the clock's advances show as
//! the entries' times).

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;

/// The journal format's version, in every header.
pub const FORMAT: u32 = 1;

/// What replaces a secret.
pub const REDACTED: &str = "REDACTED";

/// The first line of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub journal: u32,
    /// The emulator's version.
    pub version: String,
    pub seed: Option<u64>,
    /// The emulator clock when recording began.
    pub clock: DateTime<Utc>,
    /// Whether the clock was frozen (`--clock`); only then is a replay exact.
    pub frozen: bool,
    pub region: String,
    pub account: String,
    /// Where the instance answered (token issuers and URLs in responses contain it).
    pub endpoint: String,
    pub auto_confirm_subscriptions: bool,
    pub cognito_aws_issuer: bool,
    /// Known access keys and the principals they act as (secrets only with `secrets`).
    pub credentials: Vec<JournalCredential>,
    /// Whether secrets were recorded (`--record-secrets`).
    pub secrets: bool,
    /// The fixture the instance loaded at start (`--fixture`), which a replay loads again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixture: Option<std::path::PathBuf>,
    /// Set when the journal was recorded on the client's side (by the conformance suite): what
    /// answered — `moto`, `localstack`, `aws`, or an `emulator` run without a seed. Its ids are
    /// not those a fresh instance generates, so a replay pairs them up
    /// ([`crate::replay::correspond`]) instead of comparing bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_against: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalCredential {
    pub access_key: String,
    pub principal_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: u64,
    /// The emulator clock when the request arrived.
    pub time: DateTime<Utc>,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub request: Request,
    pub response: Response,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The injected fault this call met ([`crate::faults`]), as a one-call fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<crate::faults::FaultSpec>,
    /// A request to an API stage: kept for reading, not sent again by a replay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observed: bool,
    /// The WebSocket connection of a `$connect` upgrade, a frame or a `$disconnect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    /// Path and query, as received.
    pub path: String,
    pub headers: Vec<(String, String)>,
    #[serde(flatten)]
    pub body: Body,
    /// A secret was removed from the body: the request cannot be replayed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// The body was streamed by the client and not kept: the request cannot be replayed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_unrecorded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    #[serde(flatten)]
    pub body: Body,
    /// The body was streamed to the client and not kept (an S3 object recorded on the
    /// client's side): a replay compares status and headers only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_unrecorded: bool,
}

/// A body: `body` (UTF-8 text) or `bodyBase64`; neither when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl Body {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Body::default();
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Body { body: Some(text.to_string()), body_base64: None },
            Err(_) => Body { body: None, body_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)) },
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match (&self.body, &self.body_base64) {
            (Some(text), _) => Ok(text.as_bytes().to_vec()),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64),
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// What the gateway tells the journal about a request it served, beyond the HTTP messages
/// (passed as a response extension to the journal layer).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub arrived: DateTime<Utc>,
    pub service: &'static str,
    pub operation: Option<String>,
    pub request_id: String,
    pub request_body: bytes::Bytes,
    pub fault: Option<crate::faults::FaultSpec>,
    /// An API stage's request ([`Entry::observed`]).
    pub observed: bool,
    /// The connection a WebSocket upgrade opened.
    pub connection_id: Option<String>,
}

/// A WebSocket event after the upgrade, journaled as an `observed` entry with method `WS`: a
/// client's frame (operation: the route it selected) with what the route answered on the
/// socket, or the connection's end (`$disconnect`, answered by its close code and reason).
/// Frames are the application's own payloads and are journaled as they are.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub arrived: DateTime<Utc>,
    /// The stage's path (`/_aws/execute-api/{api}/{stage}`).
    pub path: String,
    pub connection_id: &'a str,
    pub operation: String,
    pub body: &'a [u8],
    pub status: u16,
    pub answer: &'a [u8],
}

/// An open journal (`Emu::journal`).
#[derive(Debug)]
pub struct Journal {
    secrets: bool,
    out: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: std::io::LineWriter<std::fs::File>,
    seq: u64,
}

impl Journal {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path, header: &Header) -> anyhow::Result<Journal> {
        use anyhow::Context as _;
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut file = std::io::LineWriter::new(file);
        writeln!(file, "{}", serde_json::to_string(header)?)?;
        Ok(Journal { secrets: header.secrets, out: Mutex::new(Writer { file, seq: 0 }) })
    }

    /// The header of an instance with `config`, at `clock`, answering at `endpoint`.
    pub fn header(config: &Config, clock: DateTime<Utc>, endpoint: &str) -> Header {
        Header {
            journal: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            seed: config.seed,
            clock,
            frozen: config.clock.is_some(),
            region: config.region.clone(),
            account: config.account.clone(),
            endpoint: endpoint.to_string(),
            auto_confirm_subscriptions: config.auto_confirm_subscriptions,
            cognito_aws_issuer: config.cognito_aws_issuer,
            credentials: config
                .credentials
                .iter()
                .map(|c| JournalCredential {
                    access_key: c.access_key.clone(),
                    principal_arn: c.principal_arn.clone(),
                    secret_key: config.record_secrets.then(|| c.secret_key.clone()),
                })
                .collect(),
            secrets: config.record_secrets,
            fixture: config.fixture_file.clone(),
            recorded_against: None,
        }
    }

    /// Appends one exchange, redacting secrets unless they are recorded.
    pub fn record(
        &self,
        exchange: Exchange,
        req: &http::request::Parts,
        resp: &http::response::Parts,
        resp_body: &[u8],
    ) {
        let service = exchange.service;
        let req_body: &[u8] = &exchange.request_body;
        let path = req.uri.path_and_query().map_or(req.uri.path(), |p| p.as_str());
        let mut body = Body::from_bytes(req_body);
        let mut redacted = false;
        let mut response_body = Body::from_bytes(resp_body);
        let (path, req_headers, resp_headers) = if self.secrets {
            (path.to_string(), headers(&req.headers), headers(&resp.headers))
        } else {
            if let Some(clean) = redact_body(service, req_body) {
                body = Body::from_bytes(&clean);
                redacted = true;
            }
            if let Some(clean) = redact_body(service, resp_body) {
                response_body = Body::from_bytes(&clean);
            }
            let (path, in_query) = redact_query(path);
            redacted |= in_query;
            (path, redact_headers(&req.headers), redact_headers(&resp.headers))
        };
        self.append(|seq| Entry {
            seq,
            time: exchange.arrived,
            service: service.to_string(),
            operation: exchange.operation,
            request: Request {
                method: req.method.to_string(),
                path,
                headers: req_headers,
                body,
                redacted,
                body_unrecorded: false,
            },
            response: Response {
                status: resp.status.as_u16(),
                headers: resp_headers,
                body: response_body,
                body_unrecorded: false,
            },
            status: resp.status.as_u16(),
            request_id: Some(exchange.request_id),
            fault: exchange.fault,
            observed: exchange.observed,
            connection_id: exchange.connection_id,
        });
    }

    /// Appends a WebSocket frame or disconnection ([`Frame`]).
    pub fn record_frame(&self, frame: Frame<'_>) {
        self.append(|seq| Entry {
            seq,
            time: frame.arrived,
            service: "execute-api".into(),
            operation: Some(frame.operation),
            request: Request {
                method: "WS".into(),
                path: frame.path,
                headers: Vec::new(),
                body: Body::from_bytes(frame.body),
                redacted: false,
                body_unrecorded: false,
            },
            response: Response {
                status: frame.status,
                headers: Vec::new(),
                body: Body::from_bytes(frame.answer),
                body_unrecorded: false,
            },
            status: frame.status,
            request_id: None,
            fault: None,
            observed: true,
            connection_id: Some(frame.connection_id.to_string()),
        });
    }

    /// Writes the entry `build` makes with the next sequence number (also the way a journal
    /// recorded outside the gateway — the conformance suite's, on the client's side — is written).
    pub fn append(&self, build: impl FnOnce(u64) -> Entry) {
        let mut out = self.out.lock().expect("journal lock");
        out.seq += 1;
        let entry = build(out.seq);
        let written =
            serde_json::to_string(&entry).map_err(std::io::Error::other).and_then(|line| writeln!(out.file, "{line}"));
        if let Err(e) = written {
            tracing::error!(error = %e, "journal write failed");
        }
    }
}

fn headers(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// Headers with signatures and session tokens replaced.
pub fn redact_headers(map: &http::HeaderMap) -> Vec<(String, String)> {
    redact_header_pairs(headers(map))
}

/// Header pairs (lowercase names) with signatures and session tokens replaced.
pub fn redact_header_pairs(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "authorization" => {
                    crate::protocol::sigv4::redact_authorization(&v, REDACTED).unwrap_or_else(|| REDACTED.to_string())
                }
                "x-amz-security-token" => REDACTED.to_string(),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

/// A path whose query's presigned signature, session token and bearer tokens (a WebSocket
/// `$connect` carries its JWT as `?token=`) are replaced; whether any was.
fn redact_query(path_and_query: &str) -> (String, bool) {
    const SECRET: [&str; 2] = ["X-Amz-Signature", "X-Amz-Security-Token"];
    let Some((path, query)) = path_and_query.split_once('?') else {
        return (path_and_query.to_string(), false);
    };
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
        return (path_and_query.to_string(), false);
    };
    let secret = |k: &str, v: &str| SECRET.contains(&k) || is_jwt(v);
    if !pairs.iter().any(|(k, v)| secret(k, v)) {
        return (path_and_query.to_string(), false);
    }
    let pairs: Vec<(String, String)> =
        pairs.into_iter().map(|(k, v)| if secret(&k, &v) { (k, REDACTED.to_string()) } else { (k, v) }).collect();
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    (format!("{path}?{query}"), true)
}

/// A JSON Web Token: three base64url parts, the first a JSON object (`eyJ`).
pub fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Members whose values are secrets, per service.
fn secret_members(service: &str) -> &'static [&'static str] {
    match service {
        "cognito-idp" => &[
            "Password",
            "PreviousPassword",
            "ProposedPassword",
            "TemporaryPassword",
            "PASSWORD",
            "NEW_PASSWORD",
            "SECRET_HASH",
            "AccessToken",
            "RefreshToken",
            "IdToken",
            "Session",
            "SecretHash",
            "ClientSecret",
        ],
        "kms" => &["Plaintext"],
        _ => &[],
    }
}

/// The JSON body with its secrets replaced, or `None` when it has none (or is not JSON).
pub fn redact_body(service: &str, body: &[u8]) -> Option<Vec<u8>> {
    let names = secret_members(service);
    if names.is_empty() || body.is_empty() {
        return None;
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    fn walk(v: &mut Value, names: &[&str]) -> bool {
        match v {
            Value::Object(map) => {
                let mut changed = false;
                for (k, v) in map.iter_mut() {
                    if names.contains(&k.as_str()) && !v.is_null() {
                        *v = Value::String(REDACTED.into());
                        changed = true;
                    } else {
                        changed |= walk(v, names);
                    }
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |c, v| walk(v, names) | c),
            _ => false,
        }
    }
    walk(&mut value, names).then(|| serde_json::to_vec(&value).unwrap_or_default())
}

/// Reads a journal: its header and entries.
pub fn read(path: &Path) -> anyhow::Result<(Header, Vec<Entry>)> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().with_context(|| format!("{}: empty journal", path.display()))?;
    let header: Header =
        serde_json::from_str(first).with_context(|| format!("{}:1: not a journal header", path.display()))?;
    if header.journal != FORMAT {
        anyhow::bail!("{}: journal format {} (this emulator reads {FORMAT})", path.display(), header.journal);
    }
    let entries = lines
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}: not a journal entry", path.display(), i + 1))
        })
        .collect::<anyhow::Result<Vec<Entry>>>()?;
    Ok((header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_and_kms_secrets_are_redacted_and_nothing_else() {
        let body =
            br#"{"ClientId":"c","Username":"u","Password":"p","ChallengeResponses":{"PASSWORD":"x","USERNAME":"u"}}"#;
        let clean: Value = serde_json::from_slice(&redact_body("cognito-idp", body).unwrap()).unwrap();
        assert_eq!(clean["Password"], REDACTED);
        assert_eq!(clean["ChallengeResponses"]["PASSWORD"], REDACTED);
        assert_eq!(clean["ChallengeResponses"]["USERNAME"], "u");
        assert!(redact_body("cognito-idp", br#"{"UserPoolId":"p"}"#).is_none());
        assert!(redact_body("dynamodb", br#"{"Item":{"Password":{"S":"kept"}}}"#).is_none());
        let kms = redact_body("kms", br#"{"KeyId":"k","Plaintext":"aGk="}"#).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&kms).unwrap()["Plaintext"], REDACTED);
    }

    #[test]
    fn signatures_are_redacted_but_the_scope_stays() {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef";
        let mut h = http::HeaderMap::new();
        h.insert("authorization", auth.parse().unwrap());
        h.insert("x-amz-security-token", "tok".parse().unwrap());
        let clean = redact_headers(&h);
        assert_eq!(
            clean[0].1,
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=REDACTED"
        );
        assert_eq!(clean[1].1, REDACTED);
        let (path, redacted) = redact_query("/b/k?X-Amz-Credential=a%2Fb&X-Amz-Signature=ff");
        assert!(redacted && path.ends_with("X-Amz-Signature=REDACTED"), "{path}");
        assert_eq!(redact_query("/b/k?x-id=GetObject"), ("/b/k?x-id=GetObject".to_string(), false));
        let (path, redacted) =
            redact_query("/_aws/execute-api/a/prod?token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln&x=1");
        assert!(redacted && path.ends_with("?token=REDACTED&x=1"), "{path}");
    }

    #[test]
    fn bodies_are_text_or_base64() {
        assert_eq!(Body::from_bytes(b"hi").body.as_deref(), Some("hi"));
        let bin = Body::from_bytes(&[0xff, 0x00]);
        assert_eq!(bin.body_base64.as_deref(), Some("/wA="));
        assert_eq!(bin.bytes().unwrap(), vec![0xff, 0x00]);
        assert_eq!(Body::from_bytes(b""), Body::default());
    }
}
