//! Fault injection (`/_emulator/faults`) as the official SDK clients meet it: each service's
//! error in its own wire shape and status, the SDK's standard retries absorbing a short run of
//! throttles and giving up on a longer one, added latency, reproducible percentages, and
//! GoneException from the WebSocket management API on a live connection.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};

use crate::apigw::{log_line, management, next_text, websocket_api};
use crate::common;

/// The SDK's standard retry mode (3 attempts) with a short backoff, so tests do not wait.
fn sdk(url: &str) -> SdkConfig {
    common::sdk_config(url)
        .into_builder()
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(5)))
        .build()
}

async fn inject(url: &str, fault: Value) -> Value {
    let resp = common::http().post(format!("{url}/_emulator/faults")).json(&fault).send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "inject {fault}: {body}");
    body
}

async fn fault(url: &str, id: &str) -> Value {
    common::http().get(format!("{url}/_emulator/faults/{id}")).send().await.unwrap().json().await.unwrap()
}

async fn put(db: &aws_sdk_dynamodb::Client, pk: &str) -> Result<(), String> {
    db.put_item()
        .table_name("tbl")
        .item("pk", AttributeValue::S(pk.into()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{} {:?}", common::code(&e), e.raw_response().map(|r| r.status().as_u16())))
}

async fn stored(db: &aws_sdk_dynamodb::Client, pk: &str) -> bool {
    db.get_item().table_name("tbl").key("pk", AttributeValue::S(pk.into())).send().await.unwrap().item.is_some()
}

#[tokio::test]
async fn standard_retries_absorb_two_throttles_and_surface_a_longer_run() {
    let emu = common::start().await;
    let url = emu.url();
    let db = aws_sdk_dynamodb::Client::new(&sdk(url));
    common::pk_table(&db, "tbl").await;

    // Two throttles: the SDK's third attempt goes through.
    inject(
        url,
        json!({"id": "two", "service": "dynamodb", "operation": "PutItem", "count": 2,
               "error": {"code": "ProvisionedThroughputExceededException"}}),
    )
    .await;
    put(&db, "a").await.expect("the SDK retries through two throttles");
    assert!(stored(&db, "a").await);
    let two = fault(url, "two").await;
    assert_eq!(
        (two["hits"].as_u64(), two["remaining"].as_u64(), two["active"].as_bool()),
        (Some(2), Some(0), Some(false))
    );
    assert_eq!(two["error"]["status"], 400, "the default status of the code");

    // Five throttles: all three attempts fail and the SDK reports the error as sent.
    inject(
        url,
        json!({"id": "five", "service": "dynamodb", "operation": "PutItem", "count": 5,
               "error": {"code": "ProvisionedThroughputExceededException", "message": "slow down"}}),
    )
    .await;
    let e = put(&db, "b").await.unwrap_err();
    assert_eq!(e, "ProvisionedThroughputExceededException Some(400)");
    assert!(!stored(&db, "b").await, "a failed call writes nothing");
    let five = fault(url, "five").await;
    assert_eq!((five["hits"].as_u64(), five["remaining"].as_u64()), (Some(3), Some(2)), "{five}");
    // GetItem was never affected: the fault names PutItem only.
    assert_eq!(five["matched"], 3);

    // On the wire: awsJson1_0's `__type` with DynamoDB's namespace, and the request id.
    let raw = common::http()
        .post(url)
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .header("content-type", "application/x-amz-json-1.0")
        .body(r#"{"TableName":"tbl","Item":{"pk":{"S":"c"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.headers().contains_key("x-amzn-requestid"));
    let body: Value = raw.json().await.unwrap();
    assert_eq!(
        body,
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow down"})
    );

    // Cleared: calls go through again.
    let cleared = common::http().delete(format!("{url}/_emulator/faults")).send().await.unwrap();
    assert_eq!(cleared.status(), 200);
    put(&db, "d").await.unwrap();
    let left: Value = common::http().get(format!("{url}/_emulator/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(left["faults"], json!([]));
}

#[tokio::test]
async fn sns_and_s3_render_the_fault_in_their_own_protocol() {
    let emu = common::start().await;
    let url = emu.url();
    let cfg = sdk(url);

    // SNS (awsQuery): `<ErrorResponse>` with Sender/Receiver by status.
    let sns = aws_sdk_sns::Client::new(&cfg);
    let topic = sns.create_topic().name("t").send().await.unwrap().topic_arn.unwrap();
    inject(
        url,
        json!({"id": "sns", "service": "sns", "operation": "Publish", "count": 1,
               "error": {"code": "AuthorizationError", "status": 403, "message": "not today"}}),
    )
    .await;
    let e = sns.publish().topic_arn(&topic).message("m").send().await.unwrap_err();
    assert_eq!((common::code(&e), common::message(&e)), ("AuthorizationError".into(), "not today".into()));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    let body = std::str::from_utf8(e.raw_response().unwrap().body().bytes().unwrap()).unwrap().to_string();
    assert!(body.contains("<ErrorResponse") && body.contains("<Type>Sender</Type>"), "{body}");
    assert_eq!(fault(url, "sns").await["hits"], 1, "a 403 is not retried");
    sns.publish().topic_arn(&topic).message("m").send().await.expect("the fault is used up");

    // S3 (restXml): a bare `<Error>`; 503 SlowDown is retried by the SDK, then surfaces.
    let s3 = common::s3_with(&cfg);
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object().bucket("bkt").key("k").body(b"v".to_vec().into()).send().await.unwrap();
    inject(url, json!({"id": "s3", "service": "s3", "operation": "GetObject", "error": {"code": "SlowDown"}})).await;
    let e = s3.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(common::code(&e), "SlowDown");
    assert_eq!(common::status(&e), Some(503));
    let body = std::str::from_utf8(e.raw_response().unwrap().body().bytes().unwrap()).unwrap().to_string();
    assert!(body.contains("<Error><Code>SlowDown</Code>"), "{body}");
    let s3_fault = fault(url, "s3").await;
    assert_eq!((s3_fault["hits"].as_u64(), s3_fault["remaining"].as_u64()), (Some(3), None), "{s3_fault}");
    // Other operations of the service are untouched.
    s3.head_object().bucket("bkt").key("k").send().await.unwrap();
    let deleted = common::http().delete(format!("{url}/_emulator/faults/s3")).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    s3.get_object().bucket("bkt").key("k").send().await.unwrap();
}

#[tokio::test]
async fn latency_is_added_before_the_answer() {
    let emu = common::start().await;
    let url = emu.url();
    let kms = aws_sdk_kms::Client::new(&sdk(url));
    inject(url, json!({"service": "kms", "operation": "CreateKey", "latencyMs": 400, "count": 1})).await;
    let t = Instant::now();
    let key = kms.create_key().send().await.expect("latency alone does not fail the call");
    assert!(t.elapsed() >= Duration::from_millis(400), "{:?}", t.elapsed());
    assert!(key.key_metadata.is_some());
    let listed: Value =
        common::http().get(format!("{url}/_emulator/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["faults"][0]["hits"], 1);
    assert_eq!(listed["faults"][0]["id"], "f1");
}

/// Which of 30 GetItem calls fail under a 40 % fault, on a fresh instance with `seed`.
async fn failures(seed: u64, fault_seed: Option<u64>) -> Vec<bool> {
    let emu = common::builder().seed(seed).start().await.unwrap();
    let url = emu.url();
    let db = aws_sdk_dynamodb::Client::new(&sdk(url));
    common::pk_table(&db, "tbl").await;
    let mut spec = json!({"service": "dynamodb", "operation": "GetItem", "percent": 40,
                          "error": {"code": "AccessDeniedException"}});
    if let Some(s) = fault_seed {
        spec["seed"] = json!(s);
    }
    inject(url, spec).await;
    let mut out = Vec::new();
    for _ in 0..30 {
        let r = db.get_item().table_name("tbl").key("pk", AttributeValue::S("x".into())).send().await;
        out.push(r.is_err_and(|e| common::code(&e) == "AccessDeniedException"));
    }
    out
}

#[tokio::test]
async fn percentages_reproduce_under_the_same_seed() {
    let a = failures(42, None).await;
    assert_eq!(a, failures(42, None).await, "same seed, same failures");
    let n = a.iter().filter(|f| **f).count();
    assert!((3..=25).contains(&n), "some but not all of 30 fail at 40 %: {n}");
    assert_ne!(a, failures(42, Some(7)).await, "the fault's own seed changes the draws");
}

#[tokio::test]
async fn post_to_connection_answers_gone_for_a_live_connection() {
    let emu = common::start().await;
    let url = emu.url();
    let (api_id, ws_url) = websocket_api(url).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    let connected = log_line(url, "CONNECT ").await.expect("$connect ran");
    let id = connected.split(' ').nth(1).unwrap().to_string();

    inject(
        url,
        json!({"service": "execute-api", "operation": "PostToConnection", "count": 2,
                       "error": {"code": "GoneException"}}),
    )
    .await;
    // Through the stage's URL and through `{endpoint}/{stage}` (the backend's form).
    let root = aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(&sdk(url)).endpoint_url(format!("{url}/prod")).build(),
    );
    for mgmt in [management(url, &api_id), root.clone()] {
        let e = mgmt.post_to_connection().connection_id(&id).data(Blob::new("x")).send().await.unwrap_err();
        assert_eq!(common::code(&e), "GoneException");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(410));
    }
    // The connection itself was never closed: the next post arrives.
    root.post_to_connection().connection_id(&id).data(Blob::new("still here")).send().await.unwrap();
    assert_eq!(next_text(&mut ws).await, "still here");
}

#[tokio::test]
async fn bad_fault_requests_are_refused_with_a_reason() {
    let emu = common::start().await;
    let url = emu.url();
    let http = common::http();
    for (body, says) in [
        ("not json", "not JSON"),
        (r#"{"service": "dynamodb", "latency": 5}"#, "unknown field `latency`"),
        (r#"{"service": "ec2", "latencyMs": 5}"#, "unknown service"),
        (r#"{"service": "s3"}"#, "give `error`"),
        (r#"{"service": "s3", "latencyMs": 5, "percent": 0}"#, "`percent`"),
        (r#"{"service": "s3", "latencyMs": 5, "count": -1}"#, "not a fault"),
        (r#"[{"service": "s3", "latencyMs": 5}, {"service": "s3", "error": {"code": "X", "status": 302}}]"#, "302"),
    ] {
        let resp = http.post(format!("{url}/_emulator/faults")).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    // A bad list adds nothing; a good list adds all.
    let listed: Value = http.get(format!("{url}/_emulator/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["faults"], json!([]));
    let added =
        inject(url, json!([{"service": "s3", "latencyMs": 1}, {"id": "x", "service": "cognito", "latencyMs": 1}]))
            .await;
    assert_eq!(added["faults"][1]["service"], "cognito-idp");
    let missing = http.delete(format!("{url}/_emulator/faults/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}
