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
//! | `kms`   | KMS Encrypt under `keyId` with the function's credentials; `{"ok"}` or `{"error"}` |
//!
//! A Cognito PreSignUp event (`triggerSource` `PreSignUp_*`) comes back with `autoConfirmUser`.
//!
//! API Gateway events are read through `aws_lambda_events`' types (so a shape the emulator
//! gets wrong fails to deserialize, as it would in a real function):
//!
//! | event                   | answer                                                          |
//! |-------------------------|-----------------------------------------------------------------|
//! | HTTP API (2.0)          | 200 with route key, path/query parameters, JWT claims, body      |
//! | REST proxy (1.0)        | 200 with resource, path parameters, Cognito claims, body         |
//! | REQUEST authorizer      | Allow when the `token` query parameter is `good`, else Deny      |
//! | WebSocket `$connect`    | 403 when the query has `deny`, else 200; prints `CONNECT id`     |
//! | WebSocket message `echo`| posts `{"echo": body}` back through `@connections` (SDK)         |
//! | WebSocket message other | returns its connection id (a route response, if configured)      |
//! | WebSocket `$disconnect` | prints `DISCONNECT id status`                                    |
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
    if payload["type"] == "REQUEST" {
        return Ok(request_authorizer(&payload));
    }
    if payload["requestContext"]["eventType"].is_string() {
        return websocket(payload).await;
    }
    if payload["version"] == "2.0" {
        let e: aws_lambda_events::apigw::ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
        let claims = e.request_context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| j.claims.clone());
        let out = json!({
            "routeKey": e.route_key,
            "rawPath": e.raw_path,
            "method": e.request_context.http.method.as_str(),
            "path": e.path_parameters,
            "rawQuery": e.raw_query_string,
            "claims": claims,
            "body": e.body,
            "stage": e.request_context.stage,
        });
        return Ok(json!({ "statusCode": 200, "headers": { "x-route": e.route_key }, "body": out.to_string() }));
    }
    if payload["httpMethod"].is_string() {
        let e: aws_lambda_events::apigw::ApiGatewayProxyRequest = serde_json::from_value(payload)?;
        let out = json!({
            "resource": e.resource,
            "path": e.path,
            "params": e.path_parameters,
            "claims": e.request_context.authorizer.fields.get("claims"),
            "body": e.body,
        });
        return Ok(json!({ "statusCode": 201, "body": out.to_string() }));
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
        "kms" => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .load()
                .await;
            let kms = aws_sdk_kms::Client::new(&config);
            let key = payload["keyId"].as_str().unwrap_or_default();
            let out = kms.encrypt().key_id(key).plaintext(aws_sdk_kms::primitives::Blob::new("x")).send().await;
            Ok(match out {
                Ok(_) => json!({ "ok": true }),
                Err(e) => json!({ "error": aws_sdk_kms::error::ProvideErrorMetadata::code(&e) }),
            })
        }
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

fn request_authorizer(event: &Value) -> Value {
    let good = event["queryStringParameters"]["token"] == "good";
    json!({
        "principalId": "alice",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": if good { "Allow" } else { "Deny" }, "Resource": event["methodArn"] }],
        },
        "context": { "user": "alice" },
    })
}

async fn websocket(payload: Value) -> Result<Value, Error> {
    let e: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest = serde_json::from_value(payload)?;
    let ctx = &e.request_context;
    let id = ctx.connection_id.clone().unwrap_or_default();
    match ctx.event_type.as_deref() {
        Some("CONNECT") => {
            if e.query_string_parameters.first("deny").is_some() {
                return Ok(json!({ "statusCode": 403 }));
            }
            let user = ctx.authorizer.fields.get("user").and_then(|u| u.as_str()).map(str::to_string);
            println!("CONNECT {id} {}", user.unwrap_or_default());
            Ok(json!({ "statusCode": 200 }))
        }
        Some("DISCONNECT") => {
            println!("DISCONNECT {id} {}", ctx.disconnect_status_code.unwrap_or_default());
            Ok(json!({ "statusCode": 200 }))
        }
        _ if ctx.route_key.as_deref() == Some("echo") => {
            // The management endpoint as a backend builds it: the SDK endpoint plus the stage.
            let base = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
            let stage = ctx.stage.clone().unwrap_or_default();
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(format!("{base}/{stage}"))
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .load()
                .await;
            let mgmt = aws_sdk_apigatewaymanagement::Client::new(&config);
            let body = json!({ "echo": e.body.unwrap_or_default() }).to_string();
            mgmt.post_to_connection()
                .connection_id(&id)
                .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(body))
                .send()
                .await?;
            Ok(json!({ "statusCode": 200 }))
        }
        _ => Ok(json!({ "statusCode": 200, "body": id })),
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
