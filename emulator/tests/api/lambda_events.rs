//! Event sources feeding real function processes: DynamoDB stream mappings (starting position,
//! batches, retries, partial batch failures, Create/Get/List/Update/Delete through
//! `aws_sdk_lambda`) and SNS `lambda` subscriptions.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest, ScalarAttributeType,
    StreamSpecification, StreamViewType, WriteRequest,
};
use aws_sdk_lambda::types::{EventSourcePosition, FunctionResponseType};
use serde_json::{Value, json};

use crate::common;
use crate::lambda::{function_logs, register};

fn dynamo(url: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&common::sdk_config(url))
}

fn lambda(url: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&common::sdk_config(url))
}

/// A table keyed by `id` with a NEW_AND_OLD_IMAGES stream; returns the stream ARN.
async fn table_with_stream(db: &aws_sdk_dynamodb::Client, name: &str) -> String {
    let out = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    out.table_description.unwrap().latest_stream_arn.unwrap()
}

async fn put(db: &aws_sdk_dynamodb::Client, table: &str, id: &str, fail: Option<&str>) {
    let mut req = db.put_item().table_name(table).item("id", AttributeValue::S(id.into()));
    if let Some(f) = fail {
        req = req.item("fail", AttributeValue::S(f.into()));
    }
    req.send().await.unwrap();
}

/// The `RECORD` lines a function printed, parsed, oldest first.
async fn records(url: &str, function: &str) -> Vec<Value> {
    function_logs(url, function)
        .await
        .iter()
        .filter_map(|l| l["message"].as_str()?.strip_prefix("RECORD ").map(|j| serde_json::from_str(j).unwrap()))
        .collect()
}

/// Waits until `function` has printed at least `n` records; returns them.
async fn await_records(url: &str, function: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = records(url, function).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["keys"]["id"]["S"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn stream_mapping_delivers_batches_from_its_starting_position() {
    let emu = common::start().await;
    let url = emu.url();
    let db = dynamo(url);
    let lam = lambda(url);
    let arn = table_with_stream(&db, "orders").await;
    register(url, "from-latest", json!({})).await;
    register(url, "from-horizon", json!({})).await;
    put(&db, "orders", "before", None).await;

    let latest = lam
        .create_event_source_mapping()
        .function_name("from-latest")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .batch_size(10)
        .send()
        .await
        .unwrap();
    assert_eq!(latest.state(), Some("Creating"));
    assert_eq!(latest.batch_size(), Some(10));
    assert_eq!(latest.maximum_retry_attempts(), Some(-1), "retries until the records expire, by default");
    assert!(latest.function_arn().unwrap().ends_with(":function:from-latest"));
    lam.create_event_source_mapping()
        .function_name("from-horizon")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();

    put(&db, "orders", "a", None).await;
    put(&db, "orders", "b", None).await;
    db.update_item()
        .table_name("orders")
        .key("id", AttributeValue::S("a".into()))
        .update_expression("SET n = :n")
        .expression_attribute_values(":n", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();

    let got = await_records(url, "from-latest", 3).await;
    assert_eq!(ids(&got), ["a", "b", "a"], "writes after the mapping, in order, nothing from before");
    let events: Vec<&str> = got.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["INSERT", "INSERT", "MODIFY"]);
    assert!(got.iter().all(|r| r["source"] == "aws:dynamodb" && r["sourceArn"] == arn.as_str()));
    let seqs: Vec<u128> = got.iter().map(|r| r["seq"].as_str().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers increase: {seqs:?}");

    let horizon = await_records(url, "from-horizon", 4).await;
    assert_eq!(ids(&horizon), ["before", "a", "b", "a"], "TRIM_HORIZON starts at the oldest record");

    // Nothing is delivered twice once the checkpoint has moved.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(records(url, "from-latest").await.len(), 3);
    let got = lam.get_event_source_mapping().uuid(latest.uuid().unwrap()).send().await.unwrap();
    assert_eq!(got.state(), Some("Enabled"));
    assert_eq!(got.last_processing_result(), Some("OK"));
}

#[tokio::test]
async fn failing_batches_are_retried_then_discarded_and_partial_failures_checkpoint() {
    let emu = common::start().await;
    let url = emu.url();
    let db = dynamo(url);
    let lam = lambda(url);
    let arn = table_with_stream(&db, "jobs").await;
    register(url, "worker", json!({})).await;
    lam.create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .maximum_retry_attempts(2)
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .send()
        .await
        .unwrap();

    // A failing batch runs once and twice more, then the stream moves on.
    put(&db, "jobs", "poison", Some("error")).await;
    let got = await_records(url, "worker", 3).await;
    assert_eq!(ids(&got), ["poison"; 3]);
    put(&db, "jobs", "next", None).await;
    let got = await_records(url, "worker", 4).await;
    assert_eq!(ids(&got)[3..], ["next"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(records(url, "worker").await.len(), 4, "the discarded batch is not retried again");

    // batchItemFailures: records before the first reported one are checkpointed; the rest retry.
    let writes = ["ok-1", "bad", "ok-2"].map(|id| {
        let mut item = PutRequest::builder().item("id", AttributeValue::S(id.into()));
        if id == "bad" {
            item = item.item("fail", AttributeValue::S("report".into()));
        }
        WriteRequest::builder().put_request(item.build().unwrap()).build()
    });
    db.batch_write_item().request_items("jobs", writes.to_vec()).send().await.unwrap();
    let got = await_records(url, "worker", 4 + 3 + 2 + 2).await;
    let later = ids(&got[4..]);
    assert_eq!(later.iter().filter(|i| *i == "ok-1").count(), 1, "checkpointed before the failure: {later:?}");
    assert_eq!(later.iter().filter(|i| *i == "bad").count(), 3, "first try and two retries: {later:?}");
}

#[tokio::test]
async fn mapping_api_validates_lists_updates_and_deletes() {
    let emu = common::start().await;
    let url = emu.url();
    let db = dynamo(url);
    let lam = lambda(url);
    let arn = table_with_stream(&db, "things").await;
    register(url, "f", json!({})).await;

    let e = lam
        .create_event_source_mapping()
        .function_name("missing")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
    let e = lam
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn("arn:aws:sqs:us-east-1:000000000000:q")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameterValueException");
    let e = lam
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .batch_size(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    let m = lam
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .send()
        .await
        .unwrap();
    let uuid = m.uuid().unwrap().to_string();
    let e = lam
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ResourceConflictException");
    assert!(common::message(&e).contains(&uuid));

    let listed = lam.list_event_source_mappings().function_name("f").send().await.unwrap();
    assert_eq!(listed.event_source_mappings().len(), 1);
    assert_eq!(listed.event_source_mappings()[0].uuid(), Some(uuid.as_str()));
    let none = lam.list_event_source_mappings().event_source_arn(format!("{arn}x")).send().await.unwrap();
    assert!(none.event_source_mappings().is_empty());

    let updated = lam.update_event_source_mapping().uuid(&uuid).batch_size(5).enabled(false).send().await.unwrap();
    assert_eq!(updated.batch_size(), Some(5));
    put(&db, "things", "while-disabled", None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(records(url, "f").await.is_empty(), "a disabled mapping delivers nothing");
    lam.update_event_source_mapping().uuid(&uuid).enabled(true).send().await.unwrap();
    let got = await_records(url, "f", 1).await;
    assert_eq!(ids(&got), ["while-disabled"], "re-enabled, it resumes from its checkpoint");

    let deleted = lam.delete_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(deleted.state(), Some("Deleting"));
    put(&db, "things", "after-delete", None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(records(url, "f").await.len(), 1);
    let e = lam.get_event_source_mapping().uuid(&uuid).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn sns_lambda_subscription_invokes_the_function_with_the_sns_event() {
    let emu = common::start().await;
    let url = emu.url();
    register(url, "notified", json!({})).await;
    let sns = common::sns(url);
    let topic = sns.create_topic().name("news").send().await.unwrap().topic_arn.unwrap();
    let function_arn = "arn:aws:lambda:us-east-1:000000000000:function:notified";
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint(function_arn)
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .subject("Hello")
        .message("a new message")
        .message_attributes(
            "kind",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("chat")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = await_records(url, "notified", 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["source"], "aws:sns");
    assert_eq!(got[0]["subject"], "Hello");
    assert_eq!(got[0]["message"], "a new message");
    assert_eq!(got[0]["attributes"]["kind"], json!({ "Type": "String", "Value": "chat" }));
    assert!(sub.subscription_arn().unwrap().starts_with(&topic));
}

#[tokio::test]
async fn a_mapping_resumes_after_restart_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let url = emu.url().to_string();
    let db = dynamo(&url);
    let arn = table_with_stream(&db, "durable").await;
    register(&url, "durable-fn", json!({})).await;
    lambda(&url)
        .create_event_source_mapping()
        .function_name("durable-fn")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();
    put(&db, "durable", "one", None).await;
    put(&db, "durable", "two", None).await;
    assert_eq!(ids(&await_records(&url, "durable-fn", 2).await), ["one", "two"]);
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let url = emu.url().to_string();
    let db = dynamo(&url);
    put(&db, "durable", "three", None).await;
    let got = await_records(&url, "durable-fn", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids(&records(&url, "durable-fn").await), ["three"], "handled records are not delivered again: {got:?}");
}
