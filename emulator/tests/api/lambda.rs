//! Lambda through `aws_sdk_lambda`: a real `lambda_runtime` binary (the test function in
//! `tests/functions/`) runs as a child process under the emulator's Runtime API.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::common;

/// The test function's executable. `cargo test` builds examples next to the test binaries;
/// when a filtered run did not, it is built once into a separate target directory (the main
/// one is locked by the running `cargo test`).
pub fn test_function() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
        let built = profile_dir.join("examples").join("lambda_test_function");
        if built.exists() {
            return built;
        }
        let target = profile_dir.parent().unwrap().join("test-functions");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "emulator", "--example", "lambda_test_function", "--target-dir"])
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the test function");
        target.join("debug").join("examples").join("lambda_test_function")
    })
}

fn lambda(url: &str) -> Client {
    Client::new(&common::sdk_config(url))
}

/// Registers the test function as `name` with extra configuration.
pub async fn register(url: &str, name: &str, extra: Value) {
    let mut spec = json!({ "name": name, "binary": test_function(), "environment": { "GREETING": "hello" } });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let resp = common::http().post(format!("{url}/_emulator/lambda/functions")).json(&spec).send().await.unwrap();
    assert!(resp.status().is_success(), "register: {}", resp.text().await.unwrap());
}

/// `/_emulator/logs` lines of one function.
pub async fn function_logs(url: &str, function: &str) -> Vec<Value> {
    let v: Value = common::http()
        .get(format!("{url}/_emulator/logs?function={function}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["lines"].as_array().cloned().unwrap_or_default()
}

async fn call(db: &Client, name: &str, payload: Value) -> (Value, Option<String>) {
    let out = db.invoke().function_name(name).payload(Blob::new(payload.to_string())).send().await.unwrap();
    let body: Value = serde_json::from_slice(out.payload.as_ref().unwrap().as_ref()).unwrap();
    (body, out.function_error)
}

#[tokio::test]
async fn invoke_runs_the_runtime_binary_with_lambdas_environment() {
    let emu = common::start().await;
    register(emu.url(), "echo", json!({ "memoryMb": 256 })).await;
    let lam = lambda(emu.url());
    let out = lam
        .invoke()
        .function_name("echo")
        .payload(Blob::new(json!({ "action": "echo", "n": 1 }).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 200);
    assert_eq!(out.executed_version.as_deref(), Some("$LATEST"));
    assert!(out.function_error.is_none());
    let body: Value = serde_json::from_slice(out.payload.unwrap().as_ref()).unwrap();
    assert_eq!(body["event"], json!({ "action": "echo", "n": 1 }));
    assert_eq!(body["functionArn"], "arn:aws:lambda:us-east-1:000000000000:function:echo");
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_ENDPOINT_URL"], emu.url());
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["GREETING"], "hello", "the function's Environment reaches the process");
    assert!(body["deadlineMs"].as_u64().unwrap() > 0);

    // By ARN too; and the function's output comes back with LogType=Tail and in /_emulator/logs.
    let out = lam
        .invoke()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:echo")
        .log_type(LogType::Tail)
        .payload(Blob::new(json!({ "action": "print", "line": "written by the function" }).to_string()))
        .send()
        .await
        .unwrap();
    let tail =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(out.log_result.unwrap()).unwrap()).unwrap();
    assert!(tail.contains("START RequestId: "), "{tail}");
    assert!(tail.contains("written by the function"), "{tail}");
    assert!(tail.contains("REPORT RequestId: "), "{tail}");
    let logs = function_logs(emu.url(), "echo").await;
    assert!(logs.iter().any(|l| l["message"] == "written by the function"));

    let f = lam.get_function().function_name("echo").send().await.unwrap();
    let c = f.configuration.unwrap();
    assert_eq!((c.timeout, c.memory_size), (Some(3), Some(256)));
    assert_eq!(c.environment.unwrap().variables.unwrap()["GREETING"], "hello");
    let listed = lam.list_functions().send().await.unwrap();
    assert_eq!(listed.functions().len(), 1);
}

#[tokio::test]
async fn function_errors_and_bad_requests_have_lambdas_shapes() {
    let emu = common::start().await;
    register(emu.url(), "fn", json!({})).await;
    let lam = lambda(emu.url());
    let (body, error) = call(&lam, "fn", json!({ "action": "fail", "why": "testing" })).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert!(body["errorMessage"].as_str().unwrap().contains("asked to fail: testing"), "{body}");
    assert!(body["errorType"].is_string());

    let e = lam.invoke().function_name("missing").send().await.unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(common::message(&e), "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing");
    let e = lam.invoke().function_name("fn").payload(Blob::new("{not json")).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidRequestContentException");
    let e = lam.get_function().function_name("fn").qualifier("7").send().await.unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
    let dry = lam.invoke().function_name("fn").invocation_type(InvocationType::DryRun).send().await.unwrap();
    assert_eq!(dry.status_code, 204);
}

#[tokio::test]
async fn a_timed_out_invocation_kills_its_instance_and_the_next_one_starts_fresh() {
    let emu = common::start().await;
    register(emu.url(), "slow", json!({ "timeoutSecs": 1 })).await;
    let lam = lambda(emu.url());
    let (first, _) = call(&lam, "slow", json!({ "action": "pid" })).await;
    let started = std::time::Instant::now();
    let (body, error) = call(&lam, "slow", json!({ "action": "sleep", "ms": 5000 })).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "the caller is released at the timeout");
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert!(body["errorMessage"].as_str().unwrap().ends_with("Task timed out after 1.00 seconds"), "{body}");
    let (after, error) = call(&lam, "slow", json!({ "action": "pid" })).await;
    assert!(error.is_none());
    assert_ne!(after["pid"], first["pid"], "the timed-out instance was replaced");
}

#[tokio::test]
async fn a_crashing_instance_fails_its_invocation_with_runtime_exit_error() {
    let emu = common::start().await;
    register(emu.url(), "crashy", json!({})).await;
    let lam = lambda(emu.url());
    let (body, error) = call(&lam, "crashy", json!({ "action": "crash" })).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(body["errorMessage"].as_str().unwrap().contains("Runtime exited with error: exit status 3"), "{body}");
    let (body, error) = call(&lam, "crashy", json!({ "action": "echo" })).await;
    assert!(error.is_none(), "a new instance serves the next invocation: {body}");

    // A binary that cannot start fails the invocation instead of hanging it.
    let resp = common::http()
        .post(format!("{}/_emulator/lambda/functions", emu.url()))
        .json(&json!({ "name": "broken", "binary": "/bin/false" }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (body, error) = call(&lam, "broken", json!({})).await;
    assert_eq!((error.as_deref(), body["errorType"].as_str()), (Some("Unhandled"), Some("Runtime.ExitError")));
}

#[tokio::test]
async fn instances_scale_out_under_load_up_to_the_limit_and_stay_warm() {
    let emu = common::start().await;
    register(emu.url(), "busy", json!({ "maxConcurrency": 3 })).await;
    let lam = lambda(emu.url());
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let lam = lam.clone();
        calls.spawn(async move { call(&lam, "busy", json!({ "action": "sleep", "ms": 600 })).await });
    }
    let results = calls.join_all().await;
    let elapsed = started.elapsed();
    let pids: HashSet<u64> = results
        .iter()
        .map(|(b, e)| {
            assert!(e.is_none(), "{b}");
            b["pid"].as_u64().unwrap()
        })
        .collect();
    assert!(pids.len() >= 2 && pids.len() <= 3, "between 2 and the limit of 3 instances, got {pids:?}");
    assert!(elapsed < std::time::Duration::from_millis(6 * 600), "invocations ran in parallel ({elapsed:?})");
    for _ in 0..4 {
        let (b, _) = call(&lam, "busy", json!({ "action": "pid" })).await;
        assert!(pids.contains(&b["pid"].as_u64().unwrap()), "warm instances are reused");
    }

    // An asynchronous invocation is accepted at once and runs in the background.
    let out = lam
        .invoke()
        .function_name("busy")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(json!({ "action": "print", "line": "from an event" }).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 202);
    let mut seen = false;
    for _ in 0..50 {
        let logs = function_logs(emu.url(), "busy").await;
        if logs.iter().any(|l| l["message"] == "from an event") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the event ran");
}

#[tokio::test]
async fn cognito_triggers_run_the_registered_function() {
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, LambdaConfigType};
    let emu = common::start().await;
    register(emu.url(), "pre-sign-up", json!({})).await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&common::sdk_config(emu.url()));
    let pool = idp
        .create_user_pool()
        .pool_name("triggered")
        .lambda_config(
            LambdaConfigType::builder()
                .pre_sign_up("arn:aws:lambda:us-east-1:000000000000:function:pre-sign-up")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    let out = idp
        .sign_up()
        .client_id(&client)
        .username("ada")
        .password("Correct-Horse-9")
        .user_attributes(AttributeType::builder().name("email").value("ada@example.com").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.user_confirmed, "the function's autoConfirmUser took effect");
    let logs = function_logs(emu.url(), "pre-sign-up").await;
    assert!(logs.iter().any(|l| l["message"].as_str().unwrap().starts_with("START")));
}

#[tokio::test]
async fn functions_sign_as_their_execution_role() {
    let emu = common::start().await;
    let url = emu.url();
    let role = "arn:aws:iam::000000000000:role/chat-backend";
    register(url, "with-role", json!({ "role": role })).await;
    register(url, "without-role", json!({})).await;
    // Only the role may encrypt; an administrator manages the key.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::000000000000:user/admin" }, "Action": "kms:*", "Resource": "*" },
            { "Effect": "Allow", "Principal": { "AWS": role }, "Action": "kms:Encrypt", "Resource": "*" },
        ],
    });
    let key = common::kms(url)
        .create_key()
        .policy(policy.to_string())
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let lam = lambda(url);
    let (out, _) = call(&lam, "with-role", json!({ "action": "kms", "keyId": key })).await;
    assert_eq!(out, json!({ "ok": true }), "the role's key policy grant applies to the function");
    let (out, _) = call(&lam, "without-role", json!({ "action": "kms", "keyId": key })).await;
    assert_eq!(out, json!({ "error": "AccessDeniedException" }));
}
