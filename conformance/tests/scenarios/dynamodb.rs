//! DynamoDB: item CRUD, every expression kind (condition, key condition, filter, projection,
//! update), GSI queries, pagination, conditional and transactional conflicts, TTL, Streams.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, Get, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, StreamSpecification, StreamViewType,
    TimeToLiveSpecification, TransactGetItem, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use conformance::{Cleanup, Run, Target, scenario};
use serde_json::{Map, Value, json};

type Item = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

/// An attribute value as DynamoDB's JSON (`{"S": …}`), sets sorted.
pub fn av(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(x) => json!({ "S": x }),
        AttributeValue::N(x) => json!({ "N": x }),
        AttributeValue::B(b) => json!({ "B": crate::support::b64(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(x) => {
            let mut x = x.clone();
            x.sort();
            json!({ "SS": x })
        }
        AttributeValue::Ns(x) => {
            let mut x = x.clone();
            x.sort();
            json!({ "NS": x })
        }
        AttributeValue::L(l) => json!({ "L": l.iter().map(av).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item(m) }),
        _ => json!("<unknown>"),
    }
}

pub fn item(i: &Item) -> Value {
    let mut m = Map::new();
    let mut keys: Vec<&String> = i.keys().collect();
    keys.sort();
    for k in keys {
        m.insert(k.clone(), av(&i[k]));
    }
    Value::Object(m)
}

fn items(list: &[Item]) -> Value {
    json!(list.iter().map(item).collect::<Vec<_>>())
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// Creates a table keyed by (pk, sk), on demand, with the given GSIs and stream, and waits
/// until it is ACTIVE.
pub async fn table(
    run: &mut Run,
    name: &str,
    gsi: bool,
    stream: Option<StreamViewType>,
) -> conformance::Result<String> {
    let ddb = run.dynamodb();
    let table = run.name(name);
    let mut req = ddb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build()?);
    if gsi {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("owner")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("score")
                    .attribute_type(ScalarAttributeType::N)
                    .build()?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by-owner")
                    .key_schema(KeySchemaElement::builder().attribute_name("owner").key_type(KeyType::Hash).build()?)
                    .key_schema(KeySchemaElement::builder().attribute_name("score").key_type(KeyType::Range).build()?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()?,
            );
    }
    if let Some(view) = stream {
        req = req
            .stream_specification(StreamSpecification::builder().stream_enabled(true).stream_view_type(view).build()?);
    }
    run.ok("CreateTable", req.send().await, |o| {
        let d = o.table_description();
        json!({
            "TableName": d.and_then(|d| d.table_name()),
            "TableArn": d.and_then(|d| d.table_arn()),
            "KeySchema": d.map(|d| d.key_schema().iter().map(|k| json!([k.attribute_name(), k.key_type().as_str()])).collect::<Vec<_>>()),
            "BillingMode": d.and_then(|d| d.billing_mode_summary()).and_then(|b| b.billing_mode()).map(|b| b.as_str()),
            "GlobalSecondaryIndexes": d.map(|d| d.global_secondary_indexes().iter().map(|g| g.index_name()).collect::<Vec<_>>()),
            "StreamViewType": d.and_then(|d| d.stream_specification()).and_then(|s| s.stream_view_type()).map(|v| v.as_str()),
        })
    })?;
    run.cleanup(Cleanup::Table(table.clone()));
    for _ in 0..120 {
        let d = ddb.describe_table().table_name(&table).send().await?;
        if d.table().and_then(|t| t.table_status()).map(|s| s.as_str()) == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(table)
}

scenario!(crud_and_expressions, [DynamoDb], |run| {
    let ddb = run.dynamodb();
    let t = table(run, "crud", false, None).await?;
    let alice: Item = HashMap::from([
        ("pk".into(), s("user#alice")),
        ("sk".into(), s("profile")),
        ("name".into(), s("Alice")),
        ("age".into(), n("30")),
        ("tags".into(), AttributeValue::Ss(vec!["a".into(), "b".into(), "c".into()])),
        ("history".into(), AttributeValue::L(vec![s("joined")])),
        ("address".into(), AttributeValue::M(HashMap::from([("city".into(), s("Paris")), ("zip".into(), s("75001"))]))),
        ("active".into(), AttributeValue::Bool(true)),
        ("big".into(), n("12345678901234567890123456789012345678")),
    ]);
    run.ok(
        "PutItem attribute_not_exists",
        ddb.put_item()
            .table_name(&t)
            .set_item(Some(alice.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await,
        |_| Value::Null,
    )?;
    run.err(
        "PutItem attribute_not_exists on an existing item",
        ddb.put_item()
            .table_name(&t)
            .set_item(Some(alice.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await,
    );
    run.ok(
        "GetItem",
        ddb.get_item().table_name(&t).set_key(Some(key("user#alice", "profile"))).consistent_read(true).send().await,
        |o| json!({ "Item": o.item().map(item) }),
    )?;
    run.ok(
        "GetItem projection with a reserved word and a nested path",
        ddb.get_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .projection_expression("#n, address.city, history[0]")
            .expression_attribute_names("#n", "name")
            .send()
            .await,
        |o| json!({ "Item": o.item().map(item) }),
    )?;
    run.ok(
        "UpdateItem SET arithmetic, list_append, if_not_exists; REMOVE; ADD; DELETE",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression(
                "SET age = age + :one, history = list_append(history, :ev), nick = if_not_exists(nick, :nick), address.city = :city \
                 REMOVE active ADD visits :one DELETE tags :gone",
            )
            .expression_attribute_values(":one", n("1"))
            .expression_attribute_values(":ev", AttributeValue::L(vec![s("renamed")]))
            .expression_attribute_values(":nick", s("al"))
            .expression_attribute_values(":city", s("Lyon"))
            .expression_attribute_values(":gone", AttributeValue::Ss(vec!["b".into()]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await,
        |o| json!({ "Attributes": o.attributes().map(item) }),
    )?;
    run.ok(
        "UpdateItem with a condition (every comparison and function), UPDATED_OLD",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression("SET #n = :new")
            .condition_expression(
                "begins_with(#n, :A) AND contains(tags, :c) AND size(history) = :two AND age BETWEEN :lo AND :hi \
                 AND address.city IN (:lyon, :nice) AND attribute_type(big, :N) AND NOT attribute_exists(active) AND nick <> :x",
            )
            .expression_attribute_names("#n", "name")
            .expression_attribute_values(":new", s("Alicia"))
            .expression_attribute_values(":A", s("Al"))
            .expression_attribute_values(":c", s("c"))
            .expression_attribute_values(":two", n("2"))
            .expression_attribute_values(":lo", n("30"))
            .expression_attribute_values(":hi", n("40"))
            .expression_attribute_values(":lyon", s("Lyon"))
            .expression_attribute_values(":nice", s("Nice"))
            .expression_attribute_values(":N", s("N"))
            .expression_attribute_values(":x", s("x"))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await,
        |o| json!({ "Attributes": o.attributes().map(item) }),
    )?;
    run.err(
        "UpdateItem with a failing condition",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression("SET age = :v")
            .condition_expression("age < :v")
            .expression_attribute_values(":v", n("5"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await,
    );
    run.err(
        "UpdateItem with a syntax error",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression("SET = :v")
            .expression_attribute_values(":v", n("1"))
            .send()
            .await,
    );
    run.err(
        "UpdateItem with an unused attribute value",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression("SET age = :v")
            .expression_attribute_values(":v", n("1"))
            .expression_attribute_values(":unused", n("2"))
            .send()
            .await,
    );
    run.err(
        "UpdateItem using a reserved word unescaped",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .update_expression("SET name = :v")
            .expression_attribute_values(":v", s("x"))
            .send()
            .await,
    );
    run.err("PutItem without the sort key", ddb.put_item().table_name(&t).item("pk", s("user#bob")).send().await);
    run.err(
        "PutItem with a wrongly typed key",
        ddb.put_item().table_name(&t).item("pk", n("1")).item("sk", s("x")).send().await,
    );
    run.err(
        "GetItem on a missing table",
        ddb.get_item().table_name(run.name("missing")).set_key(Some(key("a", "b"))).send().await,
    );
    run.err(
        "DeleteItem with a failing condition",
        ddb.delete_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .condition_expression("attribute_exists(nothing)")
            .send()
            .await,
    );
    run.ok(
        "DeleteItem ALL_OLD",
        ddb.delete_item()
            .table_name(&t)
            .set_key(Some(key("user#alice", "profile")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await,
        |o| json!({ "Attributes": o.attributes().map(|a| a.len()) }),
    )?;
    run.ok(
        "GetItem deleted",
        ddb.get_item().table_name(&t).set_key(Some(key("user#alice", "profile"))).send().await,
        |o| json!({ "Item": o.item().map(item) }),
    )?;
});

scenario!(queries_gsi_and_pagination, [DynamoDb], |run| {
    run.known_peer_bug(
        Target::Moto,
        "moto answers a Query on an unknown index with ResourceNotFoundException (AWS: ValidationException)",
    )
    .in_steps(&["Query an unknown index"]);
    let ddb = run.dynamodb();
    let t = table(run, "query", true, None).await?;
    for i in 0..8 {
        let owner = if i % 2 == 0 { "alice" } else { "bob" };
        run.ok(
            &format!("PutItem m{i}"),
            ddb.put_item()
                .table_name(&t)
                .item("pk", s("room#1"))
                .item("sk", s(&format!("msg#{i:03}")))
                .item("owner", s(owner))
                .item("score", n(&(100 - i * 10).to_string()))
                .item("text", s(&format!("message {i}")))
                .send()
                .await,
            |_| Value::Null,
        )?;
    }
    run.ok(
        "PutItem other room",
        ddb.put_item()
            .table_name(&t)
            .item("pk", s("room#2"))
            .item("sk", s("msg#000"))
            .item("owner", s("alice"))
            .item("score", n("1"))
            .send()
            .await,
        |_| Value::Null,
    )?;
    let mut start: Option<Item> = None;
    loop {
        let page = run.ok(
            "Query begins_with, descending, Limit 3",
            ddb.query()
                .table_name(&t)
                .key_condition_expression("pk = :p AND begins_with(sk, :m)")
                .expression_attribute_values(":p", s("room#1"))
                .expression_attribute_values(":m", s("msg#"))
                .scan_index_forward(false)
                .limit(3)
                .projection_expression("sk")
                .set_exclusive_start_key(start.clone())
                .send()
                .await,
            |o| json!({ "Items": items(o.items()), "Count": o.count(), "LastEvaluatedKey": o.last_evaluated_key().map(item) }),
        )?;
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    run.ok(
        "Query BETWEEN with a filter",
        ddb.query()
            .table_name(&t)
            .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
            .filter_expression("#o = :alice")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":p", s("room#1"))
            .expression_attribute_values(":a", s("msg#001"))
            .expression_attribute_values(":b", s("msg#006"))
            .expression_attribute_values(":alice", s("alice"))
            .send()
            .await,
        |o| json!({ "Keys": o.items().iter().map(|i| av(&i["sk"])).collect::<Vec<_>>(), "Count": o.count(), "ScannedCount": o.scanned_count() }),
    )?;
    run.ok(
        "Query the GSI by owner, score > 40",
        ddb.query()
            .table_name(&t)
            .index_name("by-owner")
            .key_condition_expression("#o = :alice AND score > :s")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":alice", s("alice"))
            .expression_attribute_values(":s", n("40"))
            .send()
            .await,
        |o| json!({ "Items": o.items().iter().map(|i| json!([av(&i["pk"]), av(&i["sk"]), av(&i["score"])])).collect::<Vec<_>>(), "Count": o.count() }),
    )?;
    run.ok(
        "Query Select COUNT",
        ddb.query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("room#1"))
            .select(Select::Count)
            .send()
            .await,
        |o| json!({ "Count": o.count(), "Items": o.items().len() }),
    )?;
    let mut start: Option<Item> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ddb.scan().table_name(&t).limit(4).set_exclusive_start_key(start.clone()).send().await;
        let page =
            run.ok("Scan Limit 4", page, |o| json!({ "Count": o.count(), "More": o.last_evaluated_key().is_some() }))?;
        pages += 1;
        seen.extend(page.items().iter().map(|i| format!("{:?}/{:?}", i["pk"].as_s().ok(), i["sk"].as_s().ok())));
        start = page.last_evaluated_key().cloned();
        if start.is_none() || pages > 10 {
            break;
        }
    }
    seen.sort();
    run.note(
        "Scan: every item once",
        json!({ "items": seen.len(), "distinct": seen.iter().collect::<std::collections::BTreeSet<_>>().len() }),
    );
    run.err(
        "Query the GSI with ConsistentRead",
        ddb.query()
            .table_name(&t)
            .index_name("by-owner")
            .consistent_read(true)
            .key_condition_expression("#o = :alice")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":alice", s("alice"))
            .send()
            .await,
    );
    run.err(
        "Query with a condition on a non-key attribute",
        ddb.query()
            .table_name(&t)
            .key_condition_expression("pk = :p AND #t = :x")
            .expression_attribute_names("#t", "text")
            .expression_attribute_values(":p", s("room#1"))
            .expression_attribute_values(":x", s("x"))
            .send()
            .await,
    );
    run.err(
        "Query an unknown index",
        ddb.query()
            .table_name(&t)
            .index_name("nope")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("room#1"))
            .send()
            .await,
    );
});

scenario!(transactions_and_batches, [DynamoDb], |run| {
    let ddb = run.dynamodb();
    let t = table(run, "tx", false, None).await?;
    run.ok(
        "BatchWriteItem",
        ddb.batch_write_item()
            .request_items(
                &t,
                (0..3)
                    .map(|i| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(HashMap::from([
                                        ("pk".into(), s("acct")),
                                        ("sk".into(), s(&format!("{i}"))),
                                        ("balance".into(), n("100")),
                                    ])))
                                    .build()
                                    .expect("item set"),
                            )
                            .build()
                    })
                    .collect(),
            )
            .send()
            .await,
        |o| json!({ "UnprocessedItems": o.unprocessed_items().map(|u| u.len()) }),
    )?;
    run.ok(
        "BatchGetItem",
        ddb.batch_get_item()
            .request_items(
                &t,
                KeysAndAttributes::builder()
                    .keys(key("acct", "0"))
                    .keys(key("acct", "2"))
                    .keys(key("acct", "9"))
                    .build()?,
            )
            .send()
            .await,
        |o| {
            let mut got: Vec<Value> =
                o.responses().and_then(|r| r.get(&t)).map(|is| is.iter().map(item).collect()).unwrap_or_default();
            got.sort_by_key(|v| v.to_string());
            json!({ "Items": got, "UnprocessedKeys": o.unprocessed_keys().map(|u| u.len()) })
        },
    )?;
    let transfer = |amount: &str| -> conformance::Result<Vec<TransactWriteItem>> {
        Ok(vec![
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&t)
                        .set_key(Some(key("acct", "0")))
                        .update_expression("SET balance = balance - :a")
                        .condition_expression("balance >= :a")
                        .expression_attribute_values(":a", n(amount))
                        .build()?,
                )
                .build(),
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&t)
                        .set_key(Some(key("acct", "1")))
                        .update_expression("SET balance = balance + :a")
                        .expression_attribute_values(":a", n(amount))
                        .build()?,
                )
                .build(),
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&t)
                        .set_key(Some(key("acct", "2")))
                        .condition_expression("attribute_exists(pk)")
                        .build()?,
                )
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&t)
                        .item("pk", s("log"))
                        .item("sk", s(&format!("transfer-{amount}")))
                        .build()?,
                )
                .build(),
        ])
    };
    run.ok(
        "TransactWriteItems transfer 30",
        ddb.transact_write_items().set_transact_items(Some(transfer("30")?)).send().await,
        |_| Value::Null,
    )?;
    let failed = ddb.transact_write_items().set_transact_items(Some(transfer("500")?)).send().await;
    let reasons = failed.as_ref().err().and_then(|e| e.as_service_error()).and_then(|e| match e {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
            Some(c.cancellation_reasons().iter().map(|r| json!(r.code())).collect::<Vec<_>>())
        }
        _ => None,
    });
    run.err("TransactWriteItems transfer 500 (insufficient balance)", failed);
    run.note("CancellationReasons", json!(reasons));
    run.err(
        "TransactWriteItems touching one item twice",
        ddb.transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(Put::builder().table_name(&t).set_item(Some(key("dup", "1"))).build()?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(Delete::builder().table_name(&t).set_key(Some(key("dup", "1"))).build()?)
                    .build(),
            )
            .send()
            .await,
    );
    run.ok(
        "TransactGetItems",
        ddb.transact_get_items()
            .transact_items(
                TransactGetItem::builder()
                    .get(Get::builder().table_name(&t).set_key(Some(key("acct", "0"))).build()?)
                    .build(),
            )
            .transact_items(
                TransactGetItem::builder()
                    .get(Get::builder().table_name(&t).set_key(Some(key("acct", "1"))).build()?)
                    .build(),
            )
            .transact_items(
                TransactGetItem::builder()
                    .get(Get::builder().table_name(&t).set_key(Some(key("log", "transfer-500"))).build()?)
                    .build(),
            )
            .send()
            .await,
        |o| json!(o.responses().iter().map(|r| r.item().map(item)).collect::<Vec<_>>()),
    )?;
});

scenario!(ttl_settings, [DynamoDb], |run| {
    run.known_peer_bug(Target::Moto, "moto accepts enabling TTL twice (AWS: ValidationException) and names a missing table's error ResourceNotFound instead of ResourceNotFoundException")
        .in_steps(&["UpdateTimeToLive enable again", "UpdateTimeToLive on a missing table"]);
    let ddb = run.dynamodb();
    let t = table(run, "ttl", false, None).await?;
    run.ok("DescribeTimeToLive initially", ddb.describe_time_to_live().table_name(&t).send().await, |o| {
        json!({ "TimeToLiveStatus": o.time_to_live_description().and_then(|d| d.time_to_live_status()).map(|s| s.as_str()) })
    })?;
    run.ok(
        "UpdateTimeToLive enable",
        ddb.update_time_to_live()
            .table_name(&t)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build()?,
            )
            .send()
            .await,
        |o| {
            json!(
                o.time_to_live_specification()
                    .map(|s| json!({ "Enabled": s.enabled(), "AttributeName": s.attribute_name() }))
            )
        },
    )?;
    run.ok("DescribeTimeToLive", ddb.describe_time_to_live().table_name(&t).send().await, |o| {
        let d = o.time_to_live_description();
        json!({ "TimeToLiveStatus": d.and_then(|d| d.time_to_live_status()).map(|s| s.as_str()), "AttributeName": d.and_then(|d| d.attribute_name()) })
    })?;
    run.err(
        "UpdateTimeToLive enable again",
        ddb.update_time_to_live()
            .table_name(&t)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build()?,
            )
            .send()
            .await,
    );
    run.err(
        "UpdateTimeToLive on a missing table",
        ddb.update_time_to_live()
            .table_name(run.name("missing"))
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build()?,
            )
            .send()
            .await,
    );
});

scenario!(ttl_expiry_and_stream_record, [DynamoDb, DynamoDbStreams, TtlExpiry], |run| {
    let ddb = run.dynamodb();
    let t = table(run, "expiry", false, Some(StreamViewType::OldImage)).await?;
    run.ok(
        "UpdateTimeToLive enable",
        ddb.update_time_to_live()
            .table_name(&t)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build()?,
            )
            .send()
            .await,
        |_| Value::Null,
    )?;
    run.ok(
        "PutItem already expired",
        ddb.put_item().table_name(&t).set_item(Some(key("s", "old"))).item("expires", n("1000")).send().await,
        |_| Value::Null,
    )?;
    run.ok(
        "PutItem expiring in a day",
        ddb.put_item()
            .table_name(&t)
            .set_item(Some(key("s", "new")))
            .item(
                "expires",
                n(&(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 86_400)
                    .to_string()),
            )
            .send()
            .await,
        |_| Value::Null,
    )?;
    let mut remaining = Value::Null;
    for _ in 0..20 {
        let out = ddb.scan().table_name(&t).consistent_read(true).send().await?;
        let mut keys: Vec<Value> = out.items().iter().map(|i| av(&i["sk"])).collect();
        keys.sort_by_key(|v| v.to_string());
        remaining = json!(keys);
        if out.items().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    run.note("Scan after expiry", remaining);
    let records = crate::dynamodb::stream_records(run, &t).await?;
    run.note(
        "stream records",
        json!(
            records
                .iter()
                .map(|r| json!({ "eventName": r["eventName"], "userIdentity": r["userIdentity"], "Keys": r["Keys"] }))
                .collect::<Vec<_>>()
        ),
    );
});

/// Every record of the table's stream, from TRIM_HORIZON, as normalisable JSON.
pub async fn stream_records(run: &mut Run, table: &str) -> conformance::Result<Vec<Value>> {
    let ddb = run.dynamodb();
    let streams = run.streams();
    let arn = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await?
        .table()
        .and_then(|t| t.latest_stream_arn())
        .unwrap_or_default()
        .to_string();
    let desc = streams.describe_stream().stream_arn(&arn).send().await?;
    let mut out = Vec::new();
    for shard in desc.stream_description().map(|d| d.shards()).unwrap_or_default() {
        let it = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?;
        let mut iterator = it.shard_iterator().map(str::to_string);
        for _ in 0..5 {
            let Some(i) = iterator.take() else { break };
            let page = streams.get_records().shard_iterator(i).send().await?;
            for r in page.records() {
                let d = r.dynamodb();
                let img = |m: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                    m.map(|m| {
                        let mut keys: Vec<&String> = m.keys().collect();
                        keys.sort();
                        json!(keys.iter().map(|k| json!([k, format!("{:?}", m[*k])])).collect::<Vec<_>>())
                    })
                };
                out.push(json!({
                    "eventName": r.event_name().map(|e| e.as_str()),
                    "eventSource": r.event_source(),
                    "awsRegion": r.aws_region(),
                    "userIdentity": r.user_identity().map(|u| json!({ "type": u.r#type(), "principalId": u.principal_id() })),
                    "Keys": img(d.and_then(|d| d.keys())),
                    "NewImage": img(d.and_then(|d| d.new_image())),
                    "OldImage": img(d.and_then(|d| d.old_image())),
                    "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str()),
                    "HasSequenceNumber": d.and_then(|d| d.sequence_number()).is_some(),
                }));
            }
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_string);
        }
    }
    Ok(out)
}

scenario!(streams, [DynamoDb, DynamoDbStreams], |run| {
    run.known_peer_bug(
        Target::Moto,
        "moto answers DescribeStream of an unknown stream with HTTP 500 (AWS: ResourceNotFoundException, 400)",
    )
    .in_steps(&["GetShardIterator for an unknown shard"]);
    let ddb = run.dynamodb();
    let streams = run.streams();
    let t = table(run, "stream", false, Some(StreamViewType::NewAndOldImages)).await?;
    run.ok(
        "PutItem",
        ddb.put_item().table_name(&t).set_item(Some(key("room", "m1"))).item("text", s("hi")).send().await,
        |_| Value::Null,
    )?;
    run.ok(
        "UpdateItem",
        ddb.update_item()
            .table_name(&t)
            .set_key(Some(key("room", "m1")))
            .update_expression("SET #t = :t")
            .expression_attribute_names("#t", "text")
            .expression_attribute_values(":t", s("hello"))
            .send()
            .await,
        |_| Value::Null,
    )?;
    run.ok("DeleteItem", ddb.delete_item().table_name(&t).set_key(Some(key("room", "m1"))).send().await, |_| {
        Value::Null
    })?;
    let arn = ddb
        .describe_table()
        .table_name(&t)
        .send()
        .await?
        .table()
        .and_then(|t| t.latest_stream_arn())
        .unwrap_or_default()
        .to_string();
    run.ok("DescribeStream", streams.describe_stream().stream_arn(&arn).send().await, |o| {
        let d = o.stream_description();
        json!({
            "StreamArn": d.and_then(|d| d.stream_arn()),
            "StreamStatus": d.and_then(|d| d.stream_status()).map(|s| s.as_str()),
            "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|s| s.as_str()),
            "TableName": d.and_then(|d| d.table_name()),
            "KeySchema": d.map(|d| d.key_schema().iter().map(|k| json!([k.attribute_name(), k.key_type().as_str()])).collect::<Vec<_>>()),
            "Shards": d.map(|d| d.shards().len()),
        })
    })?;
    run.ok("ListStreams for the table", streams.list_streams().table_name(&t).send().await, |o| {
        json!(
            o.streams()
                .iter()
                .map(|s| json!({ "StreamArn": s.stream_arn(), "TableName": s.table_name() }))
                .collect::<Vec<_>>()
        )
    })?;
    let records = stream_records(run, &t).await?;
    run.note("GetRecords from TRIM_HORIZON", json!(records));
    run.err(
        "GetShardIterator for an unknown shard",
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id("shardId-00000000000000000000-00000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    run.err(
        "DescribeStream of an unknown stream",
        streams.describe_stream().stream_arn(arn.replace(&t, &run.name("missing"))).send().await,
    );
});
