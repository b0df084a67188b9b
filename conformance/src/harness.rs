//! Runs one scenario: support check, execution on the binary's shared runtime, clean-up,
//! normalisation, snapshot comparison, result line.
//!
//! The snapshots in `tests/snapshots/` are insta's files, one per scenario, shared by every
//! target. On the emulator (the reference) the comparison goes through
//! `insta::assert_json_snapshot!`, so `cargo insta review` / `INSTA_UPDATE` work as usual;
//! on a peer the snapshot is only read, never written, and a difference is a failure with a
//! diff (or a known peer bug, when the scenario declares one for that target).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Instant;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use futures_util::FutureExt;
use serde_json::{Value, json};

use crate::normalize::Normalizer;
use crate::results::{self, Outcome, Record};
use crate::run::Run;
use crate::target::{Service, Target};

pub type ScenarioFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// What every scenario of one test binary shares: the runtime, the target, its SDK config and,
/// for the emulator, the instance itself (started once, on an ephemeral port).
pub struct Context {
    pub runtime: tokio::runtime::Runtime,
    pub target: Target,
    pub region: String,
    pub endpoint: Option<String>,
    pub sdk: SdkConfig,
    _emulator: Option<emulator::EmulatorHandle>,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

/// The shared context, set up on first use. Panics (failing the test with the reason) when the
/// target is unknown or is `aws` without `CONFORMANCE_ALLOW_AWS=1`.
pub fn context() -> &'static Context {
    CONTEXT.get_or_init(|| {
        let target = Target::from_env().unwrap_or_else(|e| panic!("{e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (endpoint, emulator) = match target {
            Target::Emulator => {
                let emu = runtime
                    .block_on(emulator::Emulator::builder().in_memory().port(0).start())
                    .expect("the in-process emulator starts");
                (Some(emu.url().to_string()), Some(emu))
            }
            Target::Aws => {
                assert!(
                    std::env::var("CONFORMANCE_ALLOW_AWS").as_deref() == Ok("1"),
                    "refusing to run against real AWS: set CONFORMANCE_ALLOW_AWS=1 to create (and delete) \
                     resources in the account of the default credential chain"
                );
                (None, None)
            }
            peer => {
                let url = std::env::var("CONFORMANCE_ENDPOINT")
                    .ok()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| peer.default_endpoint().unwrap_or_default().to_string());
                (Some(url.trim_end_matches('/').to_string()), None)
            }
        };
        let (sdk, region) = match &endpoint {
            Some(url) => {
                let region = "us-east-1".to_string();
                let sdk = SdkConfig::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(region.clone()))
                    .endpoint_url(url)
                    .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                        "test",
                        "test",
                        None,
                        None,
                        "conformance",
                    )))
                    .http_client(aws_smithy_http_client::Builder::new().build_http())
                    .build();
                (sdk, region)
            }
            None => aws_sdk_config(&runtime),
        };
        Context { runtime, target, region, endpoint, sdk, _emulator: emulator }
    })
}

#[cfg(feature = "aws")]
fn aws_sdk_config(runtime: &tokio::runtime::Runtime) -> (SdkConfig, String) {
    use aws_smithy_http_client::tls;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let sdk = runtime.block_on(aws_config::defaults(BehaviorVersion::latest()).http_client(client).load());
    let region = sdk.region().map(|r| r.to_string()).expect("the aws target needs a region (AWS_REGION or a profile)");
    (sdk, region)
}

#[cfg(not(feature = "aws"))]
fn aws_sdk_config(_: &tokio::runtime::Runtime) -> (SdkConfig, String) {
    panic!("the aws target needs HTTPS: run with `--features aws`")
}

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("snapshots")
}

/// The JSON content of an insta snapshot file (after its `---` header).
pub fn read_snapshot(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(snapshot_dir().join(format!("{name}.snap"))).ok()?;
    let body = text.strip_prefix("---\n").and_then(|rest| rest.split_once("\n---\n")).map(|(_, b)| b)?;
    serde_json::from_str(body).ok()
}

/// Unified diff of two JSON documents, pretty-printed, shortened to `max` lines.
pub fn diff(expected: &Value, actual: &Value, max: usize) -> String {
    let a = serde_json::to_string_pretty(expected).unwrap_or_default();
    let b = serde_json::to_string_pretty(actual).unwrap_or_default();
    let text =
        similar::TextDiff::from_lines(&a, &b).unified_diff().context_radius(2).header("snapshot", "target").to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > max { format!("{}\n… {} more lines", lines[..max].join("\n"), lines.len() - max) } else { text }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// The body of every `scenario!` test.
pub fn execute(
    module: &str,
    name: &str,
    services: &[Service],
    body: impl for<'a> FnOnce(&'a mut Run) -> ScenarioFuture<'a>,
) {
    let ctx = context();
    let group = module.rsplit("::").next().unwrap_or(module);
    let scenario = format!("{group}::{name}");
    let snapshot = format!("{group}__{name}");
    let target = ctx.target;
    let started = Instant::now();
    let record = |outcome, reason: Option<String>, diff: Option<String>| {
        results::append(&Record {
            scenario: scenario.clone(),
            target: target.name().into(),
            outcome,
            reason,
            diff,
            millis: started.elapsed().as_millis() as u64,
        })
    };

    for s in services {
        if let Err(reason) = target.supports(*s) {
            println!("SKIPPED: {scenario} on {target}: {reason}");
            record(Outcome::Skipped, Some(reason), None);
            return;
        }
    }

    let mut run = Run::new(target, ctx.region.clone(), ctx.endpoint.clone(), ctx.sdk.clone());
    if let Some(dir) = std::env::var_os("CONFORMANCE_RECORD_DIR").filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(format!("{snapshot}.jsonl"));
        let account = crate::journal::default_account(target);
        let recorder = crate::journal::Recorder::create(&path, target, ctx.endpoint.as_deref(), &ctx.region, account)
            .unwrap_or_else(|e| panic!("cannot record {}: {e:#}", path.display()));
        run.recorder = Some(recorder);
    }
    let outcome = ctx.runtime.block_on(async {
        let outcome = AssertUnwindSafe(body(&mut run)).catch_unwind().await;
        run.run_cleanups().await;
        outcome
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => run.steps.push(json!({ "aborted": format!("{e:#}") })),
        Err(p) => run.steps.push(json!({ "aborted": format!("panic: {}", panic_message(p.as_ref())) })),
    }

    let mut normalizer = Normalizer::new().literal(&run.prefix, "<p>").region(&run.region);
    if let Some(e) = &ctx.endpoint {
        normalizer = normalizer.literal(e, "<endpoint>");
    }
    let transcript = normalizer.normalize(&Value::Array(run.steps.clone()));
    let expected = read_snapshot(&snapshot);
    let difference = match &expected {
        Some(e) if *e == transcript => None,
        Some(e) => Some(diff(e, &transcript, 80)),
        None => Some(format!("no snapshot tests/snapshots/{snapshot}.snap yet (written from the emulator target)")),
    };

    if target.is_reference() {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(snapshot_dir());
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(format!("conformance/tests/scenarios/{group}.rs"));
        let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_json_snapshot!(snapshot.as_str(), &transcript));
        }));
        match checked {
            Ok(()) => record(Outcome::Pass, None, None),
            Err(p) => {
                record(Outcome::Fail, Some("differs from the snapshot".into()), difference);
                std::panic::resume_unwind(p);
            }
        }
        return;
    }

    let bug = run.known_bugs.iter().find(|b| b.target == target);
    let Some(difference) = difference else {
        let note = bug.map(|b| format!("passes although declared a known peer bug ({})", b.reason));
        if let Some(n) = &note {
            println!("NOTE: {scenario} on {target}: {n}");
        }
        record(Outcome::Pass, note, None);
        return;
    };
    let differing = expected.as_ref().map(|e| differing_steps(e, &transcript)).unwrap_or_default();
    match bug {
        Some(b) if b.covers(&differing) => {
            println!("KNOWN PEER BUG: {scenario} on {target} in steps {differing:?}: {}\n{difference}", b.reason);
            record(Outcome::KnownPeerBug, Some(b.reason.clone()), Some(difference));
        }
        Some(b) => {
            let outside: Vec<&String> = differing.iter().filter(|d| !b.covers(std::slice::from_ref(*d))).collect();
            let reason = format!("differs from the snapshot in steps {outside:?}, beyond its known peer bug's steps");
            record(Outcome::Fail, Some(reason.clone()), Some(difference.clone()));
            panic!("{scenario} on {target} {reason}:\n{difference}");
        }
        None => {
            record(Outcome::Fail, Some("differs from the snapshot".into()), Some(difference.clone()));
            panic!("{scenario} on {target} differs from tests/snapshots/{snapshot}.snap:\n{difference}");
        }
    }
}

/// The `op` names of the steps where two transcripts differ, compared position by position (a
/// step present in only one of them differs).
pub fn differing_steps(expected: &Value, actual: &Value) -> Vec<String> {
    let empty = Vec::new();
    let a = expected.as_array().unwrap_or(&empty);
    let b = actual.as_array().unwrap_or(&empty);
    let mut ops = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x == y {
            continue;
        }
        for step in [x, y].into_iter().flatten() {
            let op = match (step["op"].as_str(), step["aborted"].as_str()) {
                (Some(op), _) => op.to_string(),
                (None, Some(_)) => "aborted".to_string(),
                (None, None) => "?".to_string(),
            };
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::KnownBug;

    #[test]
    fn only_the_steps_that_differ_are_named_and_a_mark_covers_only_its_steps() {
        let snapshot = json!([
            { "op": "CreateKey", "out": { "KeyUsage": "ENCRYPT_DECRYPT" } },
            { "op": "Encrypt", "out": { "ok": true } },
            { "op": "Decrypt garbage", "error": { "code": "InvalidCiphertextException", "status": 400 } },
        ]);
        let peer = json!([
            { "op": "CreateKey", "out": { "KeyUsage": null } },
            { "op": "Encrypt", "out": { "ok": true } },
            { "op": "Decrypt garbage", "error": { "code": "AccessDeniedException", "status": 400 } },
            { "aborted": "panic: boom" },
        ]);
        let differing = differing_steps(&snapshot, &peer);
        assert_eq!(differing, ["CreateKey", "Decrypt garbage", "aborted"]);

        let mut bug = KnownBug { target: Target::Moto, reason: "r".into(), steps: None };
        assert!(bug.covers(&differing), "an unrestricted mark covers everything");
        bug.in_steps(&["CreateKey", "Decrypt garbage"]);
        assert!(!bug.covers(&differing), "the abort is outside the marked steps");
        assert!(bug.covers(&differing[..2]));
    }
}
