//! DynamoDB UpdateTable and DynamoDB Streams through `aws_sdk_dynamodb` and
//! `aws_sdk_dynamodbstreams`: index backfill, stream records per view type, iterators of every
//! kind, TTL deletions in the stream, retention, restart survival, and the poller hook.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection,
    ProjectionType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};

use crate::common;

fn dynamo(url: &str) -> Client {
    Client::new(&common::sdk_config(url))
}

fn streams(url: &str) -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::new(&common::sdk_config(url))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn def(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(t).build().unwrap()
}

fn key(name: &str, t: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(t).build().unwrap()
}

/// `pk` (S) + `sk` (S), on demand, with a stream of `view` if given.
async fn table(db: &Client, name: &str, view: Option<StreamViewType>) {
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def("pk", ScalarAttributeType::S))
        .attribute_definitions(def("sk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range));
    if let Some(view) = view {
        req = req.stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(view).build().unwrap(),
        );
    }
    req.send().await.unwrap();
}

async fn put(db: &Client, table: &str, pk: &str, sk: &str, body: &str) {
    db.put_item().table_name(table).item("pk", s(pk)).item("sk", s(sk)).item("body", s(body)).send().await.unwrap();
}

async fn stream_arn(db: &Client, table: &str) -> String {
    db.describe_table().table_name(table).send().await.unwrap().table.unwrap().latest_stream_arn.unwrap()
}

/// The stream's single shard id.
async fn shard(st: &aws_sdk_dynamodbstreams::Client, arn: &str) -> String {
    let d = st.describe_stream().stream_arn(arn).send().await.unwrap().stream_description.unwrap();
    d.shards()[0].shard_id.clone().unwrap()
}

async fn iterator(
    st: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    let shard_id = shard(st, arn).await;
    st.get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard_id)
        .shard_iterator_type(kind)
        .set_sequence_number(seq.map(str::to_string))
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap()
}

/// Every record from `it` on, following NextShardIterator until a page comes back empty.
async fn drain(st: &aws_sdk_dynamodbstreams::Client, mut it: String) -> (Vec<Record>, Option<String>) {
    let mut out = Vec::new();
    loop {
        let page = st.get_records().shard_iterator(&it).limit(2).send().await.unwrap();
        let n = page.records().len();
        out.extend(page.records().iter().cloned());
        match page.next_shard_iterator {
            Some(next) if n > 0 => it = next,
            next => return (out, next),
        }
    }
}

fn summary(r: &Record) -> (String, String, Option<String>, Option<String>) {
    let d = r.dynamodb.as_ref().unwrap();
    let body = |img: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        img.and_then(|i| i.get("body")).map(|v| v.as_s().unwrap().clone())
    };
    (
        r.event_name.as_ref().unwrap().as_str().to_string(),
        d.keys().unwrap()["sk"].as_s().unwrap().clone(),
        body(d.old_image()),
        body(d.new_image()),
    )
}

fn t(name: &str, sk: &str, old: Option<&str>, new: Option<&str>) -> (String, String, Option<String>, Option<String>) {
    (name.to_string(), sk.to_string(), old.map(str::to_string), new.map(str::to_string))
}

#[tokio::test]
async fn stream_records_every_change_in_order_with_both_images() {
    let emu = common::start().await;
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    table(&db, "chat", Some(StreamViewType::NewAndOldImages)).await;
    let arn = stream_arn(&db, "chat").await;
    assert!(arn.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/chat/stream/"), "{arn}");

    put(&db, "chat", "ROOM#1", "m1", "hello").await;
    put(&db, "chat", "ROOM#1", "m1", "hello").await; // unchanged: no record
    db.update_item()
        .table_name("chat")
        .key("pk", s("ROOM#1"))
        .key("sk", s("m1"))
        .update_expression("SET body = :b")
        .expression_attribute_values(":b", s("edited"))
        .send()
        .await
        .unwrap();
    put(&db, "chat", "ROOM#1", "m2", "second").await;
    db.delete_item().table_name("chat").key("pk", s("ROOM#1")).key("sk", s("m1")).send().await.unwrap();
    db.delete_item().table_name("chat").key("pk", s("ROOM#1")).key("sk", s("absent")).send().await.unwrap();
    // A failed condition and a cancelled transaction leave nothing.
    let e = db
        .put_item()
        .table_name("chat")
        .item("pk", s("ROOM#1"))
        .item("sk", s("m2"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ConditionalCheckFailedException");

    let it = iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await;
    let (records, next) = drain(&st, it).await;
    assert!(next.is_some(), "an open shard always gives a next iterator");
    let got: Vec<_> = records.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            t("INSERT", "m1", None, Some("hello")),
            t("MODIFY", "m1", Some("hello"), Some("edited")),
            t("INSERT", "m2", None, Some("second")),
            t("REMOVE", "m1", Some("edited"), None),
        ]
    );
    let seqs: Vec<u128> =
        records.iter().map(|r| r.dynamodb.as_ref().unwrap().sequence_number().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers increase: {seqs:?}");
    let first = &records[0];
    assert_eq!(first.event_source.as_deref(), Some("aws:dynamodb"));
    assert_eq!(first.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(first.event_version.as_deref(), Some("1.1"));
    assert_eq!(first.event_id.as_ref().map(String::len), Some(32));
    let change = first.dynamodb.as_ref().unwrap();
    assert_eq!(change.stream_view_type.as_ref().unwrap().as_str(), "NEW_AND_OLD_IMAGES");
    assert_eq!(change.keys().unwrap().len(), 2);
    assert!(change.size_bytes.unwrap() > 0);
    assert!(first.user_identity.is_none(), "a caller's write carries no service identity");

    // AT / AFTER a sequence number, and LATEST.
    let second = records[1].dynamodb.as_ref().unwrap().sequence_number().unwrap().to_string();
    let at = iterator(&st, &arn, ShardIteratorType::AtSequenceNumber, Some(&second)).await;
    assert_eq!(drain(&st, at).await.0.len(), 3);
    let after = iterator(&st, &arn, ShardIteratorType::AfterSequenceNumber, Some(&second)).await;
    assert_eq!(
        drain(&st, after).await.0.iter().map(summary).collect::<Vec<_>>()[0],
        t("INSERT", "m2", None, Some("second"))
    );
    let latest = iterator(&st, &arn, ShardIteratorType::Latest, None).await;
    let page = st.get_records().shard_iterator(&latest).send().await.unwrap();
    assert!(page.records().is_empty(), "LATEST starts after the last record");
    put(&db, "chat", "ROOM#2", "m9", "new").await;
    let page = st.get_records().shard_iterator(page.next_shard_iterator.unwrap()).send().await.unwrap();
    assert_eq!(page.records().iter().map(summary).collect::<Vec<_>>(), [t("INSERT", "m9", None, Some("new"))]);
}

#[tokio::test]
async fn each_view_type_carries_its_images() {
    let emu = common::start().await;
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    let cases = [
        (StreamViewType::KeysOnly, (false, false)),
        (StreamViewType::NewImage, (false, true)),
        (StreamViewType::OldImage, (true, false)),
        (StreamViewType::NewAndOldImages, (true, true)),
    ];
    for (i, (view, (old, new))) in cases.into_iter().enumerate() {
        let name = format!("view{i}");
        table(&db, &name, Some(view.clone())).await;
        put(&db, &name, "p", "s", "one").await;
        put(&db, &name, "p", "s", "two").await;
        let arn = stream_arn(&db, &name).await;
        let (records, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
        let modify = records[1].dynamodb.as_ref().unwrap();
        assert_eq!(modify.stream_view_type.as_ref().unwrap().as_str(), view.as_str());
        assert_eq!((modify.old_image().is_some(), modify.new_image().is_some()), (old, new), "{view:?}");
        assert_eq!(modify.keys().unwrap().len(), 2, "{view:?} always has the keys");
    }
}

#[tokio::test]
async fn streams_are_listed_described_disabled_and_reenabled() {
    let emu = common::start().await;
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    table(&db, "chat", Some(StreamViewType::NewImage)).await;
    table(&db, "other", Some(StreamViewType::KeysOnly)).await;
    table(&db, "plain", None).await;
    assert!(db.describe_table().table_name("plain").send().await.unwrap().table.unwrap().latest_stream_arn.is_none());
    let all = st.list_streams().send().await.unwrap();
    assert_eq!(all.streams().len(), 2);
    let page = st.list_streams().limit(1).send().await.unwrap();
    assert_eq!(page.streams().len(), 1);
    let rest = st
        .list_streams()
        .exclusive_start_stream_arn(page.last_evaluated_stream_arn.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.streams().len(), 1);
    assert!(rest.last_evaluated_stream_arn.is_none());
    let mine = st.list_streams().table_name("chat").send().await.unwrap();
    assert_eq!(mine.streams()[0].table_name.as_deref(), Some("chat"));

    let arn = stream_arn(&db, "chat").await;
    let d = st.describe_stream().stream_arn(&arn).send().await.unwrap().stream_description.unwrap();
    assert_eq!(d.stream_status.as_ref().unwrap().as_str(), "ENABLED");
    assert_eq!(d.table_name.as_deref(), Some("chat"));
    assert_eq!(d.key_schema().len(), 2);
    assert!(d.shards()[0].sequence_number_range.as_ref().unwrap().ending_sequence_number.is_none());

    let e = db
        .update_table()
        .table_name("chat")
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::OldImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    assert_eq!(common::message(&e), "Table already has an enabled stream: TableName: chat");

    put(&db, "chat", "p", "before", "x").await;
    let it = iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await;
    db.update_table()
        .table_name("chat")
        .stream_specification(StreamSpecification::builder().stream_enabled(false).build().unwrap())
        .send()
        .await
        .unwrap();
    put(&db, "chat", "p", "after", "y").await; // not recorded: the stream is closed
    let d = st.describe_stream().stream_arn(&arn).send().await.unwrap().stream_description.unwrap();
    assert_eq!(d.stream_status.as_ref().unwrap().as_str(), "DISABLED");
    assert!(d.shards()[0].sequence_number_range.as_ref().unwrap().ending_sequence_number.is_some());
    let (records, next) = drain(&st, it).await;
    assert_eq!(records.len(), 1);
    assert!(next.is_none(), "a closed shard read to its end has no next iterator");
    let table = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert!(table.stream_specification.is_none());
    assert_eq!(table.latest_stream_arn.as_deref(), Some(arn.as_str()), "the latest stream ARN lingers");

    let e = db
        .update_table()
        .table_name("chat")
        .stream_specification(StreamSpecification::builder().stream_enabled(false).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::message(&e), "Table has no stream to disable: TableName: chat");
    let e = db
        .update_table()
        .table_name("chat")
        .stream_specification(StreamSpecification::builder().stream_enabled(true).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::message(&e),
        "One or more parameter values were invalid: If stream is being enabled then UpdateViewType is required"
    );
    db.update_table()
        .table_name("chat")
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::OldImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let again = stream_arn(&db, "chat").await;
    assert_ne!(again, arn, "re-enabling opens a new stream");
    assert_eq!(st.list_streams().table_name("chat").send().await.unwrap().streams().len(), 2);

    // Deleting the table closes its stream, which stays readable.
    db.delete_table().table_name("chat").send().await.unwrap();
    let d = st.describe_stream().stream_arn(&again).send().await.unwrap().stream_description.unwrap();
    assert_eq!(d.stream_status.as_ref().unwrap().as_str(), "DISABLED");
}

#[tokio::test]
async fn stream_api_errors_have_aws_codes() {
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().clock(t0).start().await.unwrap();
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    table(&db, "chat", Some(StreamViewType::KeysOnly)).await;
    let arn = stream_arn(&db, "chat").await;
    let missing = format!("{arn}x");
    let e = st.describe_stream().stream_arn(&missing).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ResourceNotFoundException", Some(400)));
    let e = st
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id("shardId-00000000000000000000-00000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
    let shard_id = shard(&st, &arn).await;
    let e = st
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = st.get_records().shard_iterator("garbage").send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let it = iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await;
    let e = st.get_records().shard_iterator(&it).limit(1001).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    // Iterators expire after 15 minutes.
    common::advance_clock(emu.url(), "16m").await;
    let e = st.get_records().shard_iterator(&it).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ExpiredIteratorException");

    // Records are trimmed after 24 hours.
    put(&db, "chat", "p", "old", "x").await;
    let it = iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await;
    let (records, _) = drain(&st, it.clone()).await;
    let old_seq = records[0].dynamodb.as_ref().unwrap().sequence_number().unwrap().to_string();
    common::advance_clock(emu.url(), "25h").await;
    put(&db, "chat", "p", "new", "y").await;
    let e = st
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&old_seq)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "TrimmedDataAccessException");
    let (records, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
    assert_eq!(records.iter().map(summary).map(|r| r.1).collect::<Vec<_>>(), ["new"]);
}

#[tokio::test]
async fn ttl_deletions_reach_the_stream_as_service_removals_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().state_dir(dir.path()).clock(t0).start().await.unwrap();
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    table(&db, "chat", Some(StreamViewType::NewAndOldImages)).await;
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build().unwrap();
    db.update_time_to_live().table_name("chat").time_to_live_specification(spec).send().await.unwrap();
    db.put_item()
        .table_name("chat")
        .item("pk", s("CONN"))
        .item("sk", s("c1"))
        .item("body", s("socket"))
        .item("expires", AttributeValue::N((t0.timestamp() + 60).to_string()))
        .send()
        .await
        .unwrap();
    common::advance_clock(emu.url(), "2m").await;
    let arn = stream_arn(&db, "chat").await;
    let (records, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
    assert_eq!(
        records.iter().map(summary).collect::<Vec<_>>(),
        [t("INSERT", "c1", None, Some("socket")), t("REMOVE", "c1", Some("socket"), None)]
    );
    let who = records[1].user_identity.as_ref().expect("TTL removals name the service");
    assert_eq!((who.r#type.as_deref(), who.principal_id.as_deref()), (Some("Service"), Some("dynamodb.amazonaws.com")));
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).clock(t0 + chrono::Duration::minutes(3)).start().await.unwrap();
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    assert_eq!(stream_arn(&db, "chat").await, arn);
    let (again, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
    assert_eq!(again, records, "records survive a restart unchanged");
    put(&db, "chat", "p", "after-restart", "z").await;
    let (all, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
    assert_eq!(all.len(), 3);
    let last: u128 = all[2].dynamodb.as_ref().unwrap().sequence_number().unwrap().parse().unwrap();
    let before: u128 = all[1].dynamodb.as_ref().unwrap().sequence_number().unwrap().parse().unwrap();
    assert!(last > before, "sequence numbers keep increasing across restarts");
}

#[tokio::test]
async fn the_poller_hook_yields_lambdas_dynamodb_event() {
    use emulator::services::dynamodb::streams;
    let emu = common::start().await;
    let db = dynamo(emu.url());
    table(&db, "chat", Some(StreamViewType::NewAndOldImages)).await;
    let arn = stream_arn(&db, "chat").await;
    let state = emu.state().clone();
    let waiter = {
        let state = state.clone();
        tokio::spawn(async move { state.stream_writes.notified().await })
    };
    tokio::task::yield_now().await;
    put(&db, "chat", "ROOM#1", "m1", "hi").await;
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.expect("a write wakes pollers").unwrap();
    put(&db, "chat", "ROOM#1", "m2", "there").await;

    let batch = streams::read_after(&state, &arn, None, 10).await.unwrap();
    assert_eq!(batch.len(), 2);
    let rest = streams::read_after(&state, &arn, Some(batch[0].0), 10).await.unwrap();
    assert_eq!(rest.len(), 1, "reading after a checkpoint skips what was processed");
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(streams::lambda_event(&arn, &batch)).expect("the real DynamodbEvent shape");
    assert_eq!(event.records.len(), 2);
    let r = &event.records[1];
    assert_eq!(r.event_name, "INSERT");
    assert_eq!(r.event_source_arn.as_deref(), Some(arn.as_str()));
    let change = serde_json::to_value(&r.change).unwrap();
    assert_eq!(change["Keys"]["sk"], serde_json::json!({ "S": "m2" }));
    assert_eq!(change["NewImage"]["body"], serde_json::json!({ "S": "there" }));
}

#[tokio::test]
async fn update_table_adds_a_backfilled_gsi_and_removes_it() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    table(&db, "chat", None).await;
    for (sk, owner) in [("m1", s("alice")), ("m2", s("bob")), ("m3", s("alice")), ("m4", AttributeValue::N("7".into()))]
    {
        db.put_item()
            .table_name("chat")
            .item("pk", s("ROOM"))
            .item("sk", s(sk))
            .item("owner", owner)
            .send()
            .await
            .unwrap();
    }
    let create = |name: &str| {
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(name)
                    .key_schema(key("owner", KeyType::Hash))
                    .key_schema(key("sk", KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let e = db
        .update_table()
        .table_name("chat")
        .global_secondary_index_updates(create("by-owner"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::message(&e),
        "One or more parameter values were invalid: AttributeDefinitions is not specified for index: by-owner"
    );
    let out = db
        .update_table()
        .table_name("chat")
        .attribute_definitions(def("owner", ScalarAttributeType::S))
        .attribute_definitions(def("sk", ScalarAttributeType::S))
        .global_secondary_index_updates(create("by-owner"))
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    assert_eq!(out.table_status.as_ref().unwrap().as_str(), "UPDATING");
    assert_eq!(out.global_secondary_indexes()[0].index_status.as_ref().unwrap().as_str(), "CREATING");
    let d = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert_eq!(d.table_status.as_ref().unwrap().as_str(), "ACTIVE");
    let gsi = &d.global_secondary_indexes()[0];
    assert_eq!(gsi.index_status.as_ref().unwrap().as_str(), "ACTIVE");
    assert_eq!(gsi.item_count, Some(3), "backfill skips the item whose index key has the wrong type");
    assert_eq!(d.attribute_definitions().len(), 3);

    let q = db
        .query()
        .table_name("chat")
        .index_name("by-owner")
        .key_condition_expression("#o = :o")
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(":o", s("alice"))
        .send()
        .await
        .unwrap();
    let sks: Vec<&str> = q.items().iter().map(|i| i["sk"].as_s().unwrap().as_str()).collect();
    assert_eq!(sks, ["m1", "m3"]);
    assert!(q.items()[0].contains_key("owner") && q.items()[0].len() == 3, "KEYS_ONLY projection");
    // Later writes maintain it like any index.
    db.put_item()
        .table_name("chat")
        .item("pk", s("ROOM"))
        .item("sk", s("m5"))
        .item("owner", s("alice"))
        .send()
        .await
        .unwrap();
    let n = db
        .query()
        .table_name("chat")
        .index_name("by-owner")
        .key_condition_expression("#o = :o")
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(":o", s("alice"))
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(n, 3);

    let e = db
        .update_table()
        .table_name("chat")
        .attribute_definitions(def("owner", ScalarAttributeType::S))
        .global_secondary_index_updates(create("by-owner"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::message(&e), "Attempting to create an index which already exists");
    let delete = |name: &str| {
        GlobalSecondaryIndexUpdate::builder()
            .delete(DeleteGlobalSecondaryIndexAction::builder().index_name(name).build().unwrap())
            .build()
    };
    let e =
        db.update_table().table_name("chat").global_secondary_index_updates(delete("nope")).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
    let e = db
        .update_table()
        .table_name("chat")
        .global_secondary_index_updates(delete("by-owner"))
        .global_secondary_index_updates(delete("by-owner"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::message(&e),
        "One or more parameter values were invalid: Only one global secondary index update per index is allowed simultaneously. Index: by-owner"
    );
    db.update_table().table_name("chat").global_secondary_index_updates(delete("by-owner")).send().await.unwrap();
    let d = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert!(d.global_secondary_indexes().is_empty());
    let e = db
        .query()
        .table_name("chat")
        .index_name("by-owner")
        .key_condition_expression("#o = :o")
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(":o", s("alice"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    let e = db.update_table().table_name("chat").send().await.unwrap_err();
    assert!(common::message(&e).starts_with("At least one of ProvisionedThroughput, BillingMode"), "{e:?}");
    let e = db.update_table().table_name("nope").billing_mode(BillingMode::PayPerRequest).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn update_table_switches_billing_and_deletion_protection() {
    use aws_sdk_dynamodb::types::ProvisionedThroughput;
    let emu = common::start().await;
    let db = dynamo(emu.url());
    table(&db, "chat", None).await;
    let pt = |r, w| ProvisionedThroughput::builder().read_capacity_units(r).write_capacity_units(w).build().unwrap();
    let e = db.update_table().table_name("chat").billing_mode(BillingMode::Provisioned).send().await.unwrap_err();
    assert_eq!(
        common::message(&e),
        "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
    );
    db.update_table()
        .table_name("chat")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(pt(5, 5))
        .send()
        .await
        .unwrap();
    let d = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert_eq!(d.billing_mode_summary.unwrap().billing_mode, Some(BillingMode::Provisioned));
    assert_eq!(d.provisioned_throughput.unwrap().read_capacity_units, Some(5));
    let e = db.update_table().table_name("chat").provisioned_throughput(pt(5, 5)).send().await.unwrap_err();
    assert!(common::message(&e).starts_with("The provisioned throughput for the table will not change."));
    db.update_table().table_name("chat").billing_mode(BillingMode::PayPerRequest).send().await.unwrap();

    db.update_table().table_name("chat").deletion_protection_enabled(true).send().await.unwrap();
    let e = db.delete_table().table_name("chat").send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = db
        .update_table()
        .table_name("chat")
        .deletion_protection_enabled(false)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::message(&e),
        "One or more parameter values were invalid: DeletionProtection modification must be the only operation in the request"
    );
    db.update_table().table_name("chat").deletion_protection_enabled(false).send().await.unwrap();
    db.delete_table().table_name("chat").send().await.unwrap();
}

#[tokio::test]
async fn failed_conditions_return_the_old_item_when_asked() {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let emu = common::start().await;
    let db = dynamo(emu.url());
    table(&db, "chat", None).await;
    put(&db, "chat", "p", "s", "original").await;

    let e = db
        .put_item()
        .table_name("chat")
        .item("pk", s("p"))
        .item("sk", s("s"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    let PutItemError::ConditionalCheckFailedException(c) = e.into_service_error() else { panic!("wrong error") };
    assert_eq!(c.item().unwrap()["body"], s("original"));

    let e = db
        .update_item()
        .table_name("chat")
        .key("pk", s("p"))
        .key("sk", s("s"))
        .update_expression("SET body = :b")
        .condition_expression("body = :x")
        .expression_attribute_values(":b", s("new"))
        .expression_attribute_values(":x", s("something else"))
        .send()
        .await
        .unwrap_err();
    let UpdateItemError::ConditionalCheckFailedException(c) = e.into_service_error() else { panic!("wrong error") };
    assert!(c.item().is_none(), "without ALL_OLD the item is not returned");

    let e = db
        .delete_item()
        .table_name("chat")
        .key("pk", s("p"))
        .key("sk", s("s"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::from("SOME"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    let put_failing = Put::builder()
        .table_name("chat")
        .item("pk", s("p"))
        .item("sk", s("s"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    let e = db
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put_failing).build())
        .send()
        .await
        .unwrap_err();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) =
        e.into_service_error()
    else {
        panic!("wrong error")
    };
    let reason = &c.cancellation_reasons()[0];
    assert_eq!(reason.code.as_deref(), Some("ConditionalCheckFailed"));
    assert_eq!(reason.item().unwrap()["body"], s("original"));
}

#[tokio::test]
async fn a_reset_instance_hands_out_the_same_sequence_numbers_as_a_fresh_one() {
    let emu = common::start().await;
    let (db, st) = (dynamo(emu.url()), streams(emu.url()));
    let mut firsts = Vec::new();
    for _ in 0..2 {
        table(&db, "chat", Some(StreamViewType::KeysOnly)).await;
        put(&db, "chat", "p", "s", "x").await;
        let arn = stream_arn(&db, "chat").await;
        let (records, _) = drain(&st, iterator(&st, &arn, ShardIteratorType::TrimHorizon, None).await).await;
        firsts.push(records[0].dynamodb.as_ref().unwrap().sequence_number().unwrap().to_string());
        let status = common::http().post(format!("{}/_emulator/reset", emu.url())).send().await.unwrap().status();
        assert!(status.is_success());
    }
    assert_eq!(firsts[0], firsts[1]);
}
