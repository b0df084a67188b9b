//! A Lambda function for the emulator's tests, run as an unmodified `lambda_runtime` binary.
//! What it does is chosen by the event's `action`:
//!
//! | action  | behaviour                                                        |
//! |---------|------------------------------------------------------------------|
//! | `echo`  | returns the event, its request id, ARN and selected environment   |
//! | `sleep` | sleeps `ms` milliseconds, then returns the process id             |
//! | `fail`  | returns a handler error (`errorType` `TestFailure`)               |
//! | `crash` | exits the process with status 3 mid-invocation                    |
//! | `print` | writes `line` to stdout and returns                               |
//! | `pid`   | returns the process id (tells warm reuse from new instances)      |
//!
//! A Cognito PreSignUp event (`triggerSource` `PreSignUp_*`) comes back with `autoConfirmUser`.
//!
//! An event with `Records` (DynamoDB stream batch, SNS notification) prints one `RECORD {json}`
//! line per record. A stream record whose new image has `fail` = `error` fails the batch;
//! `fail` = `report` reports it in `batchItemFailures` instead.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[derive(Debug)]
struct TestFailure(String);

impl std::fmt::Display for TestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestFailure {}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (mut payload, ctx) = event.into_parts();
    if payload["triggerSource"].as_str().is_some_and(|t| t.starts_with("PreSignUp_")) {
        payload["response"]["autoConfirmUser"] = true.into();
        return Ok(payload);
    }
    if let Some(records) = payload["Records"].as_array() {
        return records_batch(records);
    }
    match payload["action"].as_str().unwrap_or("echo") {
        "sleep" => {
            let ms = payload["ms"].as_u64().unwrap_or(100);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(json!({ "pid": std::process::id() }))
        }
        "fail" => Err(Box::new(TestFailure(format!("asked to fail: {}", payload["why"].as_str().unwrap_or(""))))),
        "crash" => std::process::exit(3),
        "print" => {
            println!("{}", payload["line"].as_str().unwrap_or(""));
            Ok(json!({ "printed": true }))
        }
        "pid" => Ok(json!({ "pid": std::process::id() })),
        _ => {
            let env: serde_json::Map<String, Value> = [
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_REGION",
                "AWS_ENDPOINT_URL",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "_HANDLER",
                "GREETING",
            ]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), Value::String(v))))
            .collect();
            Ok(json!({
                "event": payload,
                "requestId": ctx.request_id,
                "functionArn": ctx.invoked_function_arn,
                "deadlineMs": ctx.deadline,
                "env": env,
            }))
        }
    }
}

fn records_batch(records: &[Value]) -> Result<Value, Error> {
    let mut errors = false;
    let mut reported = Vec::new();
    for r in records {
        let seq = r["dynamodb"]["SequenceNumber"].clone();
        println!(
            "RECORD {}",
            json!({
                "source": r["eventSource"].as_str().or(r["EventSource"].as_str()),
                "event": r["eventName"],
                "keys": r["dynamodb"]["Keys"],
                "seq": seq,
                "sourceArn": r["eventSourceARN"],
                "subject": r["Sns"]["Subject"],
                "message": r["Sns"]["Message"],
                "attributes": r["Sns"]["MessageAttributes"],
            })
        );
        match r["dynamodb"]["NewImage"]["fail"]["S"].as_str() {
            Some("error") => errors = true,
            Some("report") => reported.push(json!({ "itemIdentifier": seq })),
            _ => {}
        }
    }
    if errors {
        return Err(Box::new(TestFailure("a record asked to fail".into())));
    }
    Ok(json!({ "batchItemFailures": reported }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
