//! Fault injection: calls to a service, or to one operation of it, fail with a chosen AWS error
//! or answer late — the next N of them, a percentage of them, or all until cleared.
//!
//! Why: retry loops, timeouts and error paths only run when AWS misbehaves, which on AWS is rare
//! and impossible to arrange on demand. A fault makes the emulator misbehave exactly as asked:
//!
//! - It is applied in the gateway **after classification**, so the error is rendered by the
//!   request's own protocol — a JSON `__type`, a query `<ErrorResponse>`, an S3 `<Error>`, a
//!   restJson `X-Amzn-ErrorType` — with the chosen HTTP status, exactly as an SDK would see it
//!   from AWS; and **before dispatch**, so a failed call changes no state (as a throttled call
//!   on AWS does not).
//! - Percentages draw from a generator of the fault's own, seeded from the instance's `--seed`
//!   and the fault's id (or the fault's own `seed`): the same requests meet the same failures
//!   on every run, and drawing never shifts the instance RNG behind ids, keys and codes.
//! - Exhausted faults stay listed (`remaining: 0`) with their counters until cleared, so a test
//!   can tell how many calls a client made — e.g. that the SDK's retries absorbed two throttles.
//!
//! Faults are managed at `/_emulator/faults` ([`crate::admin`]) and can be loaded at start from
//! a YAML or JSON file (`--faults FILE`, [`load_file`]).

use std::sync::Mutex;
use std::time::Duration;

use http::StatusCode;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AwsError;

/// The services a fault may name: the gateway's names for them (as the request log shows).
pub const SERVICES: &[&str] =
    &["s3", "kms", "sns", "cognito-idp", "dynamodb", "dynamodbstreams", "lambda", "execute-api"];

/// The longest latency a fault may add.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// A fault as given to `POST /_emulator/faults` or in a faults file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Names the fault (for `DELETE /_emulator/faults/{id}`); default `f1`, `f2`, … A fault with
    /// the id of an existing one replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// One of [`SERVICES`] (`cognito` and `apigatewaymanagementapi` are accepted as aliases).
    pub service: String,
    /// The operation (`PutItem`, `Publish`, `GetObject`, `PostToConnection`, `Invoke`, …) as
    /// the request log names it; for `execute-api` also an HTTP API's route key
    /// (`POST /users/{userId}/messages`). Absent: every operation of the service. Compared
    /// without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The error to answer with; absent: the call goes through after `latencyMs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSpec>,
    /// Delay before the call is answered (or fails), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Affect this many calls, then stop; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Affect each matching call with this probability, in percent (0 < p ≤ 100); absent: 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Seed of this fault's draws for `percent`; default: derived from `--seed` and the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// The AWS error a fault answers with.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorSpec {
    /// The error code the SDK reports, e.g. `ThrottlingException`.
    pub code: String,
    /// HTTP status (400–599); default from the code ([`default_status`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A fault as listed by `GET /_emulator/faults`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultView {
    pub id: String,
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Calls still to affect; `None`: unlimited.
    pub remaining: Option<u64>,
    /// Calls of the service/operation that reached this fault.
    pub matched: u64,
    /// Calls it affected.
    pub hits: u64,
    /// Whether it will affect further calls.
    pub active: bool,
}

impl FaultView {
    /// The fault as it stands, as a spec that recreates it: what is left of its count (its
    /// percentage draws start afresh).
    pub fn as_spec(&self) -> FaultSpec {
        FaultSpec {
            id: Some(self.id.clone()),
            service: self.service.clone(),
            operation: self.operation.clone(),
            error: self.error.clone(),
            latency_ms: self.latency_ms,
            count: self.remaining,
            percent: self.percent,
            seed: None,
        }
    }
}

/// What the gateway does to one call.
#[derive(Debug, Clone)]
pub struct Injection {
    pub fault: String,
    pub latency: Option<Duration>,
    pub error: Option<AwsError>,
}

impl Injection {
    /// A one-call fault doing exactly this to `service`'s `operation`: what the journal keeps,
    /// so that a replay meets the same fault at the same call.
    pub fn as_spec(&self, service: &str, operation: Option<&str>) -> FaultSpec {
        FaultSpec {
            id: Some(self.fault.clone()),
            service: service.to_string(),
            operation: operation.map(str::to_string),
            error: self.error.as_ref().map(|e| ErrorSpec {
                code: e.code.to_string(),
                status: Some(e.status.as_u16()),
                message: Some(e.message.clone()),
            }),
            latency_ms: self.latency.map(|d| d.as_millis() as u64),
            count: Some(1),
            percent: None,
            seed: None,
        }
    }
}

impl Injection {
    /// Waits out the latency; the error to answer with, if any.
    pub async fn apply(self) -> Option<AwsError> {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        self.error
    }
}

#[derive(Debug)]
struct Fault {
    view: FaultView,
    error: Option<AwsError>,
    rng: ChaCha20Rng,
}

/// The faults of one instance, in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    faults: Vec<Fault>,
    added: u64,
}

/// The status an error code has on AWS when the fault does not say.
pub fn default_status(code: &str) -> u16 {
    match code {
        "InternalServerError"
        | "InternalFailure"
        | "InternalError"
        | "InternalErrorException"
        | "KMSInternalException"
        | "ServiceException" => 500,
        "ServiceUnavailable" | "ServiceUnavailableException" | "SlowDown" => 503,
        "GoneException" => 410,
        "TooManyRequestsException" | "LimitExceededException" => 429,
        "RequestTimeout" => 408,
        _ => 400,
    }
}

fn canonical_service(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "cognito" => "cognito-idp",
        "apigatewaymanagementapi" => "execute-api",
        other => other,
    };
    SERVICES.iter().copied().find(|s| *s == name)
}

impl Faults {
    /// Adds (or, for a known id, replaces) a fault. `instance_seed` is the instance's `--seed`.
    pub fn add(&self, spec: FaultSpec, instance_seed: Option<u64>) -> Result<FaultView, String> {
        let service = canonical_service(&spec.service)
            .ok_or_else(|| format!("unknown service {:?}; one of: {}", spec.service, SERVICES.join(", ")))?;
        if spec.operation.as_deref().is_some_and(|o| o.trim().is_empty()) {
            return Err("`operation` is empty; leave it out to affect every operation".into());
        }
        if spec.error.is_none() && spec.latency_ms.is_none() {
            return Err("give `error` ({\"code\": …}), `latencyMs`, or both".into());
        }
        if spec.latency_ms.is_some_and(|ms| ms > MAX_LATENCY_MS) {
            return Err(format!("`latencyMs` is at most {MAX_LATENCY_MS}"));
        }
        if spec.count == Some(0) {
            return Err("`count` must be at least 1".into());
        }
        if let Some(p) = spec.percent
            && !(p > 0.0 && p <= 100.0)
        {
            return Err("`percent` must be greater than 0 and at most 100".into());
        }
        let error = match &spec.error {
            None => None,
            Some(e) => {
                if e.code.is_empty() || !e.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') {
                    return Err(format!("error code {:?} must be a non-empty name of letters and digits", e.code));
                }
                let status = e.status.unwrap_or_else(|| default_status(&e.code));
                let status = StatusCode::from_u16(status)
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .ok_or_else(|| format!("error status {status} is not an HTTP error status (400–599)"))?;
                Some((e, status))
            }
        };
        let mut inner = self.inner.lock().expect("faults lock");
        inner.added += 1;
        let id = spec.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| format!("f{}", inner.added));
        let error = error.map(|(e, status)| {
            let message = e.message.clone().unwrap_or_else(|| format!("Injected fault {id}: {}", e.code));
            AwsError::new(status, e.code.clone(), message)
        });
        let seed = spec.seed.unwrap_or_else(|| {
            let base = instance_seed.unwrap_or_else(rand::random);
            let digest = Sha256::digest(format!("fault:{base}:{id}").as_bytes());
            u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
        });
        let view = FaultView {
            id: id.clone(),
            service: service.to_string(),
            operation: spec.operation.clone().map(|o| o.trim().to_string()),
            error: spec.error.clone().map(|e| ErrorSpec { status: error.as_ref().map(|x| x.status.as_u16()), ..e }),
            latency_ms: spec.latency_ms,
            percent: spec.percent,
            remaining: spec.count,
            matched: 0,
            hits: 0,
            active: true,
        };
        let fault = Fault { view: view.clone(), error, rng: ChaCha20Rng::seed_from_u64(seed) };
        match inner.faults.iter_mut().find(|f| f.view.id == id) {
            Some(existing) => *existing = fault,
            None => inner.faults.push(fault),
        }
        Ok(view)
    }

    pub fn list(&self) -> Vec<FaultView> {
        self.inner.lock().expect("faults lock").faults.iter().map(|f| f.view.clone()).collect()
    }

    /// Removes every fault.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().expect("faults lock");
        inner.faults.clear();
    }

    /// Removes one fault; false if there was none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.inner.lock().expect("faults lock");
        let before = inner.faults.len();
        inner.faults.retain(|f| f.view.id != id);
        inner.faults.len() != before
    }

    /// What to do to a call of `service`'s `operation`: the first active fault that matches and
    /// fires (by its percentage) is used up by one; `None` lets the call through untouched.
    pub fn check(&self, service: &str, operation: Option<&str>) -> Option<Injection> {
        let mut inner = self.inner.lock().expect("faults lock");
        for fault in inner.faults.iter_mut() {
            let v = &mut fault.view;
            if !v.active || v.service != service {
                continue;
            }
            if let Some(want) = &v.operation
                && !operation.is_some_and(|op| op.eq_ignore_ascii_case(want))
            {
                continue;
            }
            v.matched += 1;
            if let Some(p) = v.percent
                && fault.rng.gen_range(0.0..100.0) >= p
            {
                continue;
            }
            v.hits += 1;
            if let Some(r) = v.remaining.as_mut() {
                *r -= 1;
                v.active = *r > 0;
            }
            return Some(Injection {
                fault: v.id.clone(),
                latency: v.latency_ms.map(Duration::from_millis),
                error: fault.error.clone(),
            });
        }
        None
    }
}

/// The faults in a YAML or JSON file: a list of [`FaultSpec`]s, or a map with a `faults` list.
pub fn load_file(path: &std::path::Path) -> anyhow::Result<Vec<FaultSpec>> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_specs(&text).with_context(|| format!("{}", path.display()))
}

/// [`load_file`]'s format, from text.
pub fn parse_specs(text: &str) -> anyhow::Result<Vec<FaultSpec>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        faults: Vec<FaultSpec>,
    }
    // Decoding by shape keeps serde's precise message (which field) for the shape given.
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
    Ok(match value {
        serde_yaml_ng::Value::Sequence(_) => serde_yaml_ng::from_value(value)?,
        _ => serde_yaml_ng::from_value::<File>(value)?.faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> FaultSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn count_is_used_up_and_the_fault_stays_listed() {
        let faults = Faults::default();
        let v = faults
            .add(spec(serde_json::json!({"service": "dynamodb", "operation": "PutItem", "error": {"code": "ThrottlingException"}, "count": 2})), Some(1))
            .unwrap();
        assert_eq!(v.id, "f1");
        assert_eq!(v.error.unwrap().status, Some(400));
        assert!(faults.check("dynamodb", Some("GetItem")).is_none());
        assert!(faults.check("s3", Some("PutItem")).is_none());
        let first = faults.check("dynamodb", Some("putitem")).unwrap();
        assert_eq!(first.error.unwrap().code, "ThrottlingException");
        assert!(faults.check("dynamodb", Some("PutItem")).is_some());
        assert!(faults.check("dynamodb", Some("PutItem")).is_none());
        let listed = &faults.list()[0];
        assert_eq!((listed.remaining, listed.hits, listed.matched, listed.active), (Some(0), 2, 2, false));
    }

    #[test]
    fn percentages_reproduce_under_the_same_seed() {
        let draw = |seed| {
            let faults = Faults::default();
            faults.add(spec(serde_json::json!({"service": "s3", "latencyMs": 1, "percent": 30})), seed).unwrap();
            (0..200).map(|_| faults.check("s3", None).is_some()).collect::<Vec<_>>()
        };
        let a = draw(Some(7));
        assert_eq!(a, draw(Some(7)));
        assert_ne!(a, draw(Some(8)));
        let hits = a.iter().filter(|h| **h).count();
        assert!((40..=80).contains(&hits), "about 30% of 200: {hits}");
    }

    #[test]
    fn bad_specs_are_refused_with_reasons() {
        let faults = Faults::default();
        for (json, says) in [
            (serde_json::json!({"service": "ec2", "latencyMs": 5}), "unknown service"),
            (serde_json::json!({"service": "s3"}), "give `error`"),
            (serde_json::json!({"service": "s3", "latencyMs": 5, "count": 0}), "`count`"),
            (serde_json::json!({"service": "s3", "latencyMs": 5, "percent": 150}), "`percent`"),
            (serde_json::json!({"service": "s3", "error": {"code": "X", "status": 200}}), "not an HTTP error status"),
            (serde_json::json!({"service": "s3", "error": {"code": "<X>"}}), "error code"),
        ] {
            let e = faults.add(spec(json), None).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        assert!(faults.list().is_empty());
    }

    #[test]
    fn files_hold_a_list_or_a_faults_map() {
        let list = parse_specs("- service: sns\n  operation: Publish\n  error: {code: Throttling}\n").unwrap();
        assert_eq!(list[0].operation.as_deref(), Some("Publish"));
        let map = parse_specs("faults:\n  - {service: kms, latencyMs: 10}\n").unwrap();
        assert_eq!(map[0].latency_ms, Some(10));
        let e = parse_specs("- service: kms\n  latency: 10\n").unwrap_err();
        assert!(format!("{e:#}").contains("latency"), "{e:#}");
    }
}
