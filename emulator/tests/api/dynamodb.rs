//! DynamoDB through `aws_sdk_dynamodb`: tables and single-item operations.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
};

use crate::common;

fn dynamo(url: &str) -> Client {
    Client::new(&common::sdk_config(url))
}

/// The chat's single-table shape: `pk` (S) + `sk` (S).
async fn chat_table(db: &Client, name: &str) {
    db.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .unwrap();
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

#[tokio::test]
async fn tables_are_created_described_listed_and_deleted() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let d = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert_eq!(d.table_status.as_ref().unwrap().as_str(), "ACTIVE");
    assert_eq!(d.table_arn.as_deref(), Some("arn:aws:dynamodb:us-east-1:000000000000:table/chat"));
    assert_eq!(d.key_schema().len(), 2);
    assert_eq!(d.billing_mode_summary.unwrap().billing_mode.unwrap(), BillingMode::PayPerRequest);

    let e = db
        .create_table()
        .table_name("chat")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ResourceInUseException", Some(400)));

    // A key attribute without a definition, and provisioned mode without throughput.
    let e = db
        .create_table()
        .table_name("bad")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("x").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = db
        .create_table()
        .table_name("bad")
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    for i in 0..3 {
        chat_table(&db, &format!("t-{i}")).await;
    }
    let page = db.list_tables().limit(2).send().await.unwrap();
    assert_eq!(page.table_names(), ["chat", "t-0"]);
    let rest =
        db.list_tables().exclusive_start_table_name(page.last_evaluated_table_name.unwrap()).send().await.unwrap();
    assert_eq!(rest.table_names(), ["t-1", "t-2"]);
    assert!(rest.last_evaluated_table_name.is_none());

    db.delete_table().table_name("t-0").send().await.unwrap();
    let e = db.describe_table().table_name("t-0").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ResourceNotFoundException", Some(400)));
}

#[tokio::test]
async fn items_are_put_got_replaced_and_deleted() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let item: HashMap<String, AttributeValue> = [
        ("pk".to_string(), s("CONV#1")),
        ("sk".to_string(), s("MSG#0001")),
        ("n".to_string(), AttributeValue::N("12345678901234567890123456789012345678".into())),
        ("price".to_string(), AttributeValue::N("1.50".into())),
        ("tags".to_string(), AttributeValue::Ss(vec!["b".into(), "a".into()])),
        ("blob".to_string(), AttributeValue::B(vec![0, 1, 2].into())),
        (
            "meta".to_string(),
            AttributeValue::M(
                [("read".to_string(), AttributeValue::Bool(false)), ("x".to_string(), AttributeValue::Null(true))]
                    .into(),
            ),
        ),
        ("list".to_string(), AttributeValue::L(vec![s("one"), AttributeValue::N("2".into())])),
    ]
    .into();
    db.put_item().table_name("chat").set_item(Some(item)).send().await.unwrap();
    let key = |sk: &str| -> HashMap<String, AttributeValue> {
        [("pk".to_string(), s("CONV#1")), ("sk".to_string(), s(sk))].into()
    };
    let got = db.get_item().table_name("chat").set_key(Some(key("MSG#0001"))).send().await.unwrap().item.unwrap();
    assert_eq!(got["n"], AttributeValue::N("12345678901234567890123456789012345678".into()), "38 digits exactly");
    assert_eq!(got["price"], AttributeValue::N("1.5".into()));
    assert_eq!(got["tags"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
    assert_eq!(got["blob"], AttributeValue::B(vec![0, 1, 2].into()));
    assert_eq!(got["meta"].as_m().unwrap()["read"], AttributeValue::Bool(false));
    assert_eq!(got["list"].as_l().unwrap().len(), 2);

    // Replacing returns the old item with ALL_OLD.
    let old = db
        .put_item()
        .table_name("chat")
        .item("pk", s("CONV#1"))
        .item("sk", s("MSG#0001"))
        .item("text", s("edited"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(old["price"], AttributeValue::N("1.5".into()));
    let got = db.get_item().table_name("chat").set_key(Some(key("MSG#0001"))).send().await.unwrap().item.unwrap();
    assert_eq!(got.len(), 3);

    assert!(db.get_item().table_name("chat").set_key(Some(key("MSG#9999"))).send().await.unwrap().item.is_none());
    let deleted = db
        .delete_item()
        .table_name("chat")
        .set_key(Some(key("MSG#0001")))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes.unwrap()["text"], s("edited"));
    assert!(db.get_item().table_name("chat").set_key(Some(key("MSG#0001"))).send().await.unwrap().item.is_none());
    let d = db.describe_table().table_name("chat").send().await.unwrap().table.unwrap();
    assert_eq!(d.item_count, Some(0));
}

#[tokio::test]
async fn key_and_value_errors_are_aws_validation_errors() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let put = |pairs: Vec<(&str, AttributeValue)>| {
        let item: HashMap<String, AttributeValue> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        db.put_item().table_name("chat").set_item(Some(item)).send()
    };
    let e = put(vec![("pk", s("a"))]).await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    assert!(format!("{e:?}").contains("Missing the key sk in the item"), "{e:?}");
    let e = put(vec![("pk", s("a")), ("sk", AttributeValue::N("1".into()))]).await.unwrap_err();
    assert!(format!("{e:?}").contains("Type mismatch for key sk expected: S actual: N"), "{e:?}");
    let e = put(vec![("pk", s("")), ("sk", s("x"))]).await.unwrap_err();
    assert!(format!("{e:?}").contains("cannot contain an empty string value"), "{e:?}");
    let e = put(vec![
        ("pk", s("a")),
        ("sk", s("x")),
        ("n", AttributeValue::N("123456789012345678901234567890123456789".into())),
    ])
    .await
    .unwrap_err();
    assert!(format!("{e:?}").contains("38 significant digits"), "{e:?}");
    let e = put(vec![("pk", s("a")), ("sk", s("x")), ("n", AttributeValue::N("twelve".into()))]).await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = put(vec![("pk", s("a")), ("sk", s("x")), ("big", s(&"x".repeat(400 * 1024)))]).await.unwrap_err();
    assert!(format!("{e:?}").contains("Item size has exceeded the maximum allowed size"), "{e:?}");
    let e = put(vec![("pk", s("a")), ("sk", s("x")), ("set", AttributeValue::Ss(vec!["a".into(), "a".into()]))])
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    let e = db.get_item().table_name("chat").key("pk", s("a")).send().await.unwrap_err();
    assert!(format!("{e:?}").contains("The provided key element does not match the schema"), "{e:?}");
    let e = db.get_item().table_name("missing").key("pk", s("a")).key("sk", s("b")).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ResourceNotFoundException", Some(400)));

    // The JSON 1.0 error shape with the DynamoDB namespace.
    let resp = common::http()
        .post(emu.url())
        .header("X-Amz-Target", "DynamoDB_20120810.GetItem")
        .header("Content-Type", "application/x-amz-json-1.0")
        .body(r#"{"TableName": "missing", "Key": {"pk": {"S": "a"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.0");
    insta::assert_snapshot!("dynamodb_not_found", resp.text().await.unwrap());
}

#[tokio::test]
async fn tables_and_items_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let db = dynamo(emu.url());
    chat_table(&db, "kept").await;
    db.put_item().table_name("kept").item("pk", s("a")).item("sk", s("b")).item("v", s("kept")).send().await.unwrap();
    emu.shutdown().await;
    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let db = dynamo(emu.url());
    let got = db.get_item().table_name("kept").key("pk", s("a")).key("sk", s("b")).send().await.unwrap().item.unwrap();
    assert_eq!(got["v"], s("kept"));
}

#[tokio::test]
async fn conditional_writes_updates_and_projections() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let put_new = || {
        db.put_item()
            .table_name("chat")
            .item("pk", s("USER#al"))
            .item("sk", s("PROFILE"))
            .item("name", s("Al"))
            .condition_expression("attribute_not_exists(pk)")
            .send()
    };
    put_new().await.unwrap();
    let e = put_new().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ConditionalCheckFailedException", Some(400)));

    let updated = db
        .update_item()
        .table_name("chat")
        .key("pk", s("USER#al"))
        .key("sk", s("PROFILE"))
        .update_expression("SET #n = :name, unread = if_not_exists(unread, :zero) + :one ADD rooms :rooms")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":name", s("Alice"))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":rooms", AttributeValue::Ss(vec!["r1".into()]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(updated["name"], s("Alice"));
    assert_eq!(updated["unread"], AttributeValue::N("1".into()));
    assert_eq!(updated["rooms"], AttributeValue::Ss(vec!["r1".into()]));

    let old = db
        .update_item()
        .table_name("chat")
        .key("pk", s("USER#al"))
        .key("sk", s("PROFILE"))
        .update_expression("REMOVE unread")
        .condition_expression("unread = :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(old.keys().collect::<Vec<_>>(), ["unread"]);

    // UpdateItem creates missing items; key attributes cannot be updated.
    db.update_item()
        .table_name("chat")
        .key("pk", s("USER#bo"))
        .key("sk", s("PROFILE"))
        .update_expression("SET visits = :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let e = db
        .update_item()
        .table_name("chat")
        .key("pk", s("USER#bo"))
        .key("sk", s("PROFILE"))
        .update_expression("SET pk = :one")
        .expression_attribute_values(":one", s("x"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("This attribute is part of the key"), "{e:?}");

    let got = db
        .get_item()
        .table_name("chat")
        .key("pk", s("USER#al"))
        .key("sk", s("PROFILE"))
        .projection_expression("#n, rooms")
        .expression_attribute_names("#n", "name")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got.len(), 2);

    let e = db
        .delete_item()
        .table_name("chat")
        .key("pk", s("USER#al"))
        .key("sk", s("PROFILE"))
        .condition_expression("#n = :other")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":other", s("Mallory"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ConditionalCheckFailedException");

    // Expression mistakes get AWS's validation messages:
    // (condition, an expression attribute name, a value placeholder, expected message part).
    type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, Option<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        ("name = :v", None, Some(":v"), "reserved keyword: name"),
        ("#x = :v", None, Some(":v"), "attribute name: #x"),
        ("a = :nope", None, Some(":v"), "attribute value: :nope"),
        (
            "a = :v",
            Some(("#unused", "b")),
            Some(":v"),
            "ExpressionAttributeNames unused in expressions: keys: {#unused}",
        ),
        ("a = = :v", None, Some(":v"), "Syntax error"),
    ];
    for (cond, name, value, expected) in cases {
        let mut req =
            db.delete_item().table_name("chat").key("pk", s("x")).key("sk", s("y")).condition_expression(cond);
        if let Some((k, v)) = name {
            req = req.expression_attribute_names(k, v);
        }
        if let Some(v) = value {
            req = req.expression_attribute_values(v, s("1"));
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(common::code(&e), "ValidationException", "{cond}");
        assert!(format!("{e:?}").contains(expected), "{cond}: {e:?}");
    }
}

#[tokio::test]
async fn concurrent_conditional_increments_lose_no_update() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    db.put_item()
        .table_name("chat")
        .item("pk", s("C"))
        .item("sk", s("C"))
        .item("n", AttributeValue::N("0".into()))
        .send()
        .await
        .unwrap();
    let (tasks, each) = (8, 10);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..each {
                // Optimistic read-modify-write: retry when another writer got there first.
                loop {
                    let item = db
                        .get_item()
                        .table_name("chat")
                        .key("pk", s("C"))
                        .key("sk", s("C"))
                        .send()
                        .await
                        .unwrap()
                        .item
                        .unwrap();
                    let AttributeValue::N(n) = &item["n"] else { panic!() };
                    let next = (n.parse::<i64>().unwrap() + 1).to_string();
                    let r = db
                        .update_item()
                        .table_name("chat")
                        .key("pk", s("C"))
                        .key("sk", s("C"))
                        .update_expression("SET n = :next")
                        .condition_expression("n = :seen")
                        .expression_attribute_values(":next", AttributeValue::N(next))
                        .expression_attribute_values(":seen", AttributeValue::N(n.clone()))
                        .send()
                        .await;
                    match r {
                        Ok(_) => break,
                        Err(e) if common::code(&e) == "ConditionalCheckFailedException" => conflicts += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    // And unconditional ADDs from many writers at once.
    let adds: Vec<_> = (0..20)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                db.update_item()
                    .table_name("chat")
                    .key("pk", s("C"))
                    .key("sk", s("C"))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for a in adds {
        a.await.unwrap();
    }
    let item = db.get_item().table_name("chat").key("pk", s("C")).key("sk", s("C")).send().await.unwrap().item.unwrap();
    assert_eq!(item["n"], AttributeValue::N((tasks * each + 20).to_string()));
}

/// A conversation of `n` messages MSG#0001…, each with a number `n`.
async fn conversation(db: &Client, pk: &str, n: usize) {
    for i in 1..=n {
        db.put_item()
            .table_name("chat")
            .item("pk", s(pk))
            .item("sk", s(&format!("MSG#{i:04}")))
            .item("n", AttributeValue::N(i.to_string()))
            .item("text", s(&format!("message {i}")))
            .send()
            .await
            .unwrap();
    }
}

fn sks(items: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    items.iter().map(|i| i["sk"].as_s().unwrap().clone()).collect()
}

#[tokio::test]
async fn query_reads_key_ranges_in_order_with_pages_filters_and_projections() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    conversation(&db, "CONV#1", 25).await;
    conversation(&db, "CONV#2", 3).await;
    let q = |cond: &str| {
        db.query().table_name("chat").key_condition_expression(cond).expression_attribute_values(":p", s("CONV#1"))
    };

    let all = q("pk = :p").send().await.unwrap();
    assert_eq!(all.count, 25);
    assert_eq!(sks(all.items())[0], "MSG#0001");
    let newest = q("pk = :p").scan_index_forward(false).limit(3).send().await.unwrap();
    assert_eq!(sks(newest.items()), ["MSG#0025", "MSG#0024", "MSG#0023"]);

    let prefixed =
        q("pk = :p AND begins_with(sk, :pre)").expression_attribute_values(":pre", s("MSG#001")).send().await.unwrap();
    assert_eq!(prefixed.count, 10);
    let between = q("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":a", s("MSG#0005"))
        .expression_attribute_values(":b", s("MSG#0007"))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(between.items()), ["MSG#0005", "MSG#0006", "MSG#0007"]);
    let after = q("pk = :p AND sk > :a").expression_attribute_values(":a", s("MSG#0023")).send().await.unwrap();
    assert_eq!(sks(after.items()), ["MSG#0024", "MSG#0025"]);

    // Pages of 10, 10 and 5, resumed from LastEvaluatedKey, newest first.
    let mut pages = Vec::new();
    let mut start = None;
    loop {
        let page =
            q("pk = :p").scan_index_forward(false).limit(10).set_exclusive_start_key(start).send().await.unwrap();
        pages.push(sks(page.items()));
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5, 0][..pages.len()]);
    let flat: Vec<String> = pages.concat();
    assert_eq!(flat.len(), 25);
    assert_eq!(flat[0], "MSG#0025");
    assert_eq!(flat[24], "MSG#0001");

    // The filter runs after Limit: 10 evaluated, only those with n > 7 returned.
    let filtered = q("pk = :p")
        .limit(10)
        .filter_expression("n > :seven")
        .expression_attribute_values(":seven", AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    assert_eq!((filtered.scanned_count, filtered.count), (10, 3));
    assert!(filtered.last_evaluated_key.is_some());

    let counted = q("pk = :p").select(aws_sdk_dynamodb::types::Select::Count).send().await.unwrap();
    assert_eq!(counted.count, 25);
    assert!(counted.items.is_none());
    let projected = q("pk = :p")
        .projection_expression("sk, #t")
        .expression_attribute_names("#t", "text")
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(projected.items()[0].len(), 2);

    for (cond, expected) in [
        ("sk = :p", "Query condition missed key schema element: pk"),
        ("pk = :p AND n = :p", "Query key condition not supported"),
        ("pk = :p OR sk = :p", "Invalid operator used in KeyConditionExpression: OR"),
    ] {
        let e = q(cond).send().await.unwrap_err();
        assert_eq!(common::code(&e), "ValidationException", "{cond}");
        assert!(format!("{e:?}").contains(expected), "{cond}: {e:?}");
    }
    let e = db
        .query()
        .table_name("chat")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("Condition parameter type does not match schema type"), "{e:?}");
}

#[tokio::test]
async fn numeric_sort_keys_order_numerically() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    db.create_table()
        .table_name("scores")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("g").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("v").attribute_type(ScalarAttributeType::N).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("g").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("v").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .unwrap();
    for v in ["10", "-5", "1.5", "2", "-0.25", "100", "0"] {
        db.put_item()
            .table_name("scores")
            .item("g", s("x"))
            .item("v", AttributeValue::N(v.into()))
            .send()
            .await
            .unwrap();
    }
    let out = db
        .query()
        .table_name("scores")
        .key_condition_expression("g = :g AND v >= :lo")
        .expression_attribute_values(":g", s("x"))
        .expression_attribute_values(":lo", AttributeValue::N("-1".into()))
        .send()
        .await
        .unwrap();
    let got: Vec<String> = out.items().iter().map(|i| i["v"].as_n().unwrap().clone()).collect();
    assert_eq!(got, ["-0.25", "0", "1.5", "2", "10", "100"]);
    let e = db
        .query()
        .table_name("scores")
        .key_condition_expression("g = :g AND begins_with(v, :lo)")
        .expression_attribute_values(":g", s("x"))
        .expression_attribute_values(":lo", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
}

#[tokio::test]
async fn scan_pages_filters_and_splits_into_segments() {
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    conversation(&db, "CONV#1", 12).await;
    conversation(&db, "CONV#2", 5).await;
    conversation(&db, "CONV#3", 4).await;

    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = db.scan().table_name("chat").limit(6).set_exclusive_start_key(start).send().await.unwrap();
        assert!(page.count <= 6);
        seen.extend(page.items().iter().map(|i| (i["pk"].as_s().unwrap().clone(), i["sk"].as_s().unwrap().clone())));
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!((seen.len(), unique.len()), (21, 21));

    let big = db
        .scan()
        .table_name("chat")
        .filter_expression("n >= :ten")
        .expression_attribute_values(":ten", AttributeValue::N("10".into()))
        .send()
        .await
        .unwrap();
    assert_eq!((big.count, big.scanned_count), (3, 21));

    let mut union = std::collections::BTreeSet::new();
    let mut total = 0;
    for segment in 0..3 {
        let part = db.scan().table_name("chat").segment(segment).total_segments(3).send().await.unwrap();
        total += part.count;
        union.extend(part.items().iter().map(|i| (i["pk"].as_s().unwrap().clone(), i["sk"].as_s().unwrap().clone())));
    }
    assert_eq!((total, union.len()), (21, 21), "segments are disjoint and cover the table");
    let e = db.scan().table_name("chat").segment(3).total_segments(3).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
}

fn put_request(pk: &str, sk: &str) -> aws_sdk_dynamodb::types::WriteRequest {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    WriteRequest::builder()
        .put_request(PutRequest::builder().item("pk", s(pk)).item("sk", s(sk)).item("v", s("x")).build().unwrap())
        .build()
}

#[tokio::test]
async fn batches_write_and_read_many_items() {
    use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, WriteRequest};
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let writes: Vec<WriteRequest> = (0..25).map(|i| put_request("B", &format!("{i:02}"))).collect();
    let out = db.batch_write_item().request_items("chat", writes).send().await.unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    let e = db
        .batch_write_item()
        .request_items("chat", (0..26).map(|i| put_request("B", &format!("{i:02}"))).collect())
        .send()
        .await;
    assert_eq!(common::code(&e.unwrap_err()), "ValidationException");
    let e =
        db.batch_write_item().request_items("chat", vec![put_request("B", "00"), put_request("B", "00")]).send().await;
    assert!(format!("{:?}", e.unwrap_err()).contains("contains duplicates"));

    let delete = WriteRequest::builder()
        .delete_request(DeleteRequest::builder().key("pk", s("B")).key("sk", s("00")).build().unwrap())
        .build();
    db.batch_write_item().request_items("chat", vec![delete]).send().await.unwrap();

    let keys = (0..3).fold(KeysAndAttributes::builder(), |b, i| {
        b.keys([("pk".to_string(), s("B")), ("sk".to_string(), s(&format!("{i:02}")))].into())
    });
    let got = db.batch_get_item().request_items("chat", keys.build().unwrap()).send().await.unwrap();
    let items = &got.responses.unwrap()["chat"];
    assert_eq!(items.len(), 2, "00 was deleted");
}

#[tokio::test]
async fn transactions_are_all_or_nothing_and_idempotent() {
    use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Get, Put, TransactGetItem, TransactWriteItem, Update};
    let emu = common::start().await;
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    db.put_item()
        .table_name("chat")
        .item("pk", s("ROOM#1"))
        .item("sk", s("META"))
        .item("members", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();

    let join = |user: &str| {
        vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("chat")
                        .item("pk", s("ROOM#1"))
                        .item("sk", s(&format!("MEMBER#{user}")))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("chat")
                        .key("pk", s("ROOM#1"))
                        .key("sk", s("META"))
                        .update_expression("ADD members :one")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .build()
                        .unwrap(),
                )
                .build(),
        ]
    };
    db.transact_write_items().set_transact_items(Some(join("bo"))).send().await.unwrap();
    // Joining twice fails the condition: nothing at all is written.
    let e = db.transact_write_items().set_transact_items(Some(join("bo"))).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("TransactionCanceledException", Some(400)));
    let reasons = e.into_service_error();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) =
        reasons
    else {
        panic!("{reasons:?}")
    };
    let codes: Vec<_> = c.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default().to_string()).collect();
    assert_eq!(codes, ["ConditionalCheckFailed", "None"]);
    let meta = db
        .get_item()
        .table_name("chat")
        .key("pk", s("ROOM#1"))
        .key("sk", s("META"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        meta["members"],
        AttributeValue::N("2".into()),
        "the update of the cancelled transaction was not applied"
    );

    // The same client token replays as a no-op; a different request under it is refused.
    db.transact_write_items().set_transact_items(Some(join("cy"))).client_request_token("tok-1").send().await.unwrap();
    db.transact_write_items().set_transact_items(Some(join("cy"))).client_request_token("tok-1").send().await.unwrap();
    let e = db.transact_write_items().set_transact_items(Some(join("di"))).client_request_token("tok-1").send().await;
    assert_eq!(common::code(&e.unwrap_err()), "IdempotentParameterMismatchException");
    let meta = db
        .get_item()
        .table_name("chat")
        .key("pk", s("ROOM#1"))
        .key("sk", s("META"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(meta["members"], AttributeValue::N("3".into()));

    // Two operations on one item are refused; checks and deletes work.
    let check = TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name("chat")
                .key("pk", s("ROOM#1"))
                .key("sk", s("META"))
                .condition_expression("members = :three")
                .expression_attribute_values(":three", AttributeValue::N("3".into()))
                .build()
                .unwrap(),
        )
        .build();
    let leave = TransactWriteItem::builder()
        .delete(Delete::builder().table_name("chat").key("pk", s("ROOM#1")).key("sk", s("MEMBER#cy")).build().unwrap())
        .build();
    db.transact_write_items().transact_items(check.clone()).transact_items(leave).send().await.unwrap();
    let e = db.transact_write_items().transact_items(check.clone()).transact_items(check).send().await;
    assert!(format!("{:?}", e.unwrap_err()).contains("multiple operations on one item"));

    let got = db
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(Get::builder().table_name("chat").key("pk", s("ROOM#1")).key("sk", s("META")).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder().table_name("chat").key("pk", s("ROOM#1")).key("sk", s("MEMBER#cy")).build().unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let responses = got.responses();
    assert!(responses[0].item.is_some());
    assert!(responses[1].item.is_none(), "cy left");
}

#[tokio::test]
async fn secondary_indexes_follow_every_write() {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, LocalSecondaryIndex, Projection, ProjectionType};
    let emu = common::start().await;
    let db = dynamo(emu.url());
    let def = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(t).build().unwrap()
    };
    let key = |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build().unwrap();
    db.create_table()
        .table_name("chat")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def("pk", ScalarAttributeType::S))
        .attribute_definitions(def("sk", ScalarAttributeType::S))
        .attribute_definitions(def("gpk", ScalarAttributeType::S))
        .attribute_definitions(def("gsk", ScalarAttributeType::S))
        .attribute_definitions(def("ts", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("byActivity")
                .key_schema(key("gpk", KeyType::Hash))
                .key_schema(key("gsk", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("byTime")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("ts", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Conversations of user u1, indexed by last activity; one item without index keys.
    for (conv, activity, ts) in
        [("c1", "2026-01-03", 3), ("c2", "2026-01-01", 1), ("c3", "2026-01-02", 2), ("c4", "2026-01-05", 5)]
    {
        db.put_item()
            .table_name("chat")
            .item("pk", s("USER#u1"))
            .item("sk", s(&format!("CONV#{conv}")))
            .item("gpk", s("INBOX#u1"))
            .item("gsk", s(activity))
            .item("ts", AttributeValue::N(ts.to_string()))
            .item("title", s(conv))
            .send()
            .await
            .unwrap();
    }
    db.put_item()
        .table_name("chat")
        .item("pk", s("USER#u1"))
        .item("sk", s("PROFILE"))
        .item("title", s("me"))
        .send()
        .await
        .unwrap();

    let inbox = |limit: i32, start: Option<HashMap<String, AttributeValue>>| {
        db.query()
            .table_name("chat")
            .index_name("byActivity")
            .key_condition_expression("gpk = :u")
            .expression_attribute_values(":u", s("INBOX#u1"))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
    };
    let titles = |items: &[HashMap<String, AttributeValue>]| -> Vec<String> {
        items.iter().map(|i| i["title"].as_s().unwrap().clone()).collect()
    };
    let first = inbox(2, None).await.unwrap();
    assert_eq!(titles(first.items()), ["c4", "c1"], "most recent activity first");
    let lek = first.last_evaluated_key.clone().unwrap();
    assert_eq!(
        lek.keys().cloned().collect::<std::collections::BTreeSet<_>>(),
        ["gpk", "gsk", "pk", "sk"].map(String::from).into()
    );
    let second = inbox(2, Some(lek)).await.unwrap();
    assert_eq!(titles(second.items()), ["c3", "c2"]);

    // An update moves the entry; a delete removes it; items lacking index keys are not indexed.
    db.update_item()
        .table_name("chat")
        .key("pk", s("USER#u1"))
        .key("sk", s("CONV#c2"))
        .update_expression("SET gsk = :now")
        .expression_attribute_values(":now", s("2026-01-09"))
        .send()
        .await
        .unwrap();
    db.delete_item().table_name("chat").key("pk", s("USER#u1")).key("sk", s("CONV#c4")).send().await.unwrap();
    let all = inbox(10, None).await.unwrap();
    assert_eq!(titles(all.items()), ["c2", "c1", "c3"]);
    let scanned = db.scan().table_name("chat").index_name("byActivity").send().await.unwrap();
    assert_eq!(scanned.count, 3, "PROFILE has no index keys");

    // The local index keeps keys only, ordered numerically by ts.
    let local = db
        .query()
        .table_name("chat")
        .index_name("byTime")
        .key_condition_expression("pk = :p AND ts >= :two")
        .expression_attribute_values(":p", s("USER#u1"))
        .expression_attribute_values(":two", AttributeValue::N("2".into()))
        .send()
        .await
        .unwrap();
    let got: Vec<_> = local.items().iter().map(|i| i["sk"].as_s().unwrap().clone()).collect();
    assert_eq!(got, ["CONV#c3", "CONV#c1"]);
    assert!(!local.items()[0].contains_key("title"), "KEYS_ONLY projection");

    // A wrongly typed index key is refused and nothing is written.
    let e = db
        .put_item()
        .table_name("chat")
        .item("pk", s("USER#u2"))
        .item("sk", s("CONV#x"))
        .item("gpk", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("Type mismatch for Index Key gpk"), "{e:?}");
    assert!(
        db.get_item()
            .table_name("chat")
            .key("pk", s("USER#u2"))
            .key("sk", s("CONV#x"))
            .send()
            .await
            .unwrap()
            .item
            .is_none()
    );
    let e = db
        .query()
        .table_name("chat")
        .index_name("byActivity")
        .consistent_read(true)
        .key_condition_expression("gpk = :u")
        .expression_attribute_values(":u", s("INBOX#u1"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("Consistent reads are not supported on global secondary indexes"));
    let e = db
        .query()
        .table_name("chat")
        .index_name("nope")
        .key_condition_expression("gpk = :u")
        .expression_attribute_values(":u", s("INBOX#u1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
}

#[tokio::test]
async fn ttl_expires_items_on_the_emulator_clock() {
    use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
    let dir = tempfile::tempdir().unwrap();
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().state_dir(dir.path()).clock(t0).start().await.unwrap();
    let db = dynamo(emu.url());
    chat_table(&db, "chat").await;
    let now = t0.timestamp();
    // Written before TTL is enabled: picked up by the backfill.
    db.put_item()
        .table_name("chat")
        .item("pk", s("CONN"))
        .item("sk", s("early"))
        .item("expires", AttributeValue::N((now + 60).to_string()))
        .send()
        .await
        .unwrap();
    let d = db.describe_time_to_live().table_name("chat").send().await.unwrap();
    assert_eq!(d.time_to_live_description.unwrap().time_to_live_status, Some(TimeToLiveStatus::Disabled));
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build().unwrap();
    db.update_time_to_live().table_name("chat").time_to_live_specification(spec.clone()).send().await.unwrap();
    let e = db.update_time_to_live().table_name("chat").time_to_live_specification(spec).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    for (sk, ttl) in [("soon", now + 30), ("later", now + 3600)] {
        db.put_item()
            .table_name("chat")
            .item("pk", s("CONN"))
            .item("sk", s(sk))
            .item("expires", AttributeValue::N(ttl.to_string()))
            .send()
            .await
            .unwrap();
    }
    db.put_item()
        .table_name("chat")
        .item("pk", s("CONN"))
        .item("sk", s("text-ttl"))
        .item("expires", s("soon"))
        .send()
        .await
        .unwrap();
    let count = || async {
        db.query()
            .table_name("chat")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("CONN"))
            .send()
            .await
            .unwrap()
            .count
    };
    assert_eq!(count().await, 4);
    common::advance_clock(emu.url(), "2m").await;
    let left: Vec<String> = db
        .query()
        .table_name("chat")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("CONN"))
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(left, ["later", "text-ttl"], "expired items are gone; a non-number TTL never expires");
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).clock(t0 + chrono::Duration::hours(2)).start().await.unwrap();
    let db = dynamo(emu.url());
    let d = db.describe_time_to_live().table_name("chat").send().await.unwrap().time_to_live_description.unwrap();
    assert_eq!(
        (d.time_to_live_status, d.attribute_name.as_deref()),
        (Some(TimeToLiveStatus::Enabled), Some("expires"))
    );
    let left = db
        .query()
        .table_name("chat")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("CONN"))
        .send()
        .await
        .unwrap();
    assert_eq!(left.count, 1, "only the non-number TTL item remains two hours later");
}

/// The sweeper skips its query while it knows nothing is due; an expiry written after it
/// learnt that (sooner than anything it saw), by any kind of write, still takes effect.
#[tokio::test]
async fn expiries_written_after_a_quiet_spell_still_expire() {
    use aws_sdk_dynamodb::types::{Put, TimeToLiveSpecification, TransactWriteItem};
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().clock(t0).start().await.unwrap();
    let db = dynamo(emu.url());
    chat_table(&db, "quiet").await;
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build().unwrap();
    db.update_time_to_live().table_name("quiet").time_to_live_specification(spec).send().await.unwrap();
    let now = t0.timestamp();
    let item = |sk: &str, at: i64| {
        [("pk", s("CONN")), ("sk", s(sk)), ("expires", AttributeValue::N(at.to_string()))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<std::collections::HashMap<_, _>>()
    };
    db.put_item().table_name("quiet").set_item(Some(item("later", now + 3600))).send().await.unwrap();
    // Requests in between: the sweeper now knows nothing is due for an hour.
    for _ in 0..3 {
        db.get_item().table_name("quiet").key("pk", s("CONN")).key("sk", s("later")).send().await.unwrap();
    }
    let put = Put::builder().table_name("quiet").set_item(Some(item("transacted", now + 30))).build().unwrap();
    db.transact_write_items().transact_items(TransactWriteItem::builder().put(put).build()).send().await.unwrap();
    db.update_item()
        .table_name("quiet")
        .key("pk", s("CONN"))
        .key("sk", s("updated"))
        .update_expression("SET expires = :e")
        .expression_attribute_values(":e", AttributeValue::N((now + 90).to_string()))
        .send()
        .await
        .unwrap();
    let keys = || async {
        let out = db
            .query()
            .table_name("quiet")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("CONN"))
            .send()
            .await
            .unwrap();
        out.items().iter().map(|i| i["sk"].as_s().unwrap().clone()).collect::<Vec<_>>()
    };
    common::advance_clock(emu.url(), "1m").await;
    assert_eq!(keys().await, ["later", "updated"], "the transacted item expired after 30 s");
    common::advance_clock(emu.url(), "1m").await;
    assert_eq!(keys().await, ["later"], "the updated item expired after 90 s");
    emu.shutdown().await;
}

#[tokio::test]
async fn ttl_also_removes_index_entries() {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType, TimeToLiveSpecification};
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().clock(t0).start().await.unwrap();
    let db = dynamo(emu.url());
    let def = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let key = |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build().unwrap();
    db.create_table()
        .table_name("conns")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def("pk"))
        .attribute_definitions(def("user"))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("byUser")
                .key_schema(key("user", KeyType::Hash))
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build().unwrap();
    db.update_time_to_live().table_name("conns").time_to_live_specification(spec).send().await.unwrap();
    for (id, ttl) in [("c1", 60), ("c2", 7200)] {
        db.put_item()
            .table_name("conns")
            .item("pk", s(id))
            .item("user", s("u1"))
            .item("ttl", AttributeValue::N((t0.timestamp() + ttl).to_string()))
            .send()
            .await
            .unwrap();
    }
    let by_user = || {
        db.query()
            .table_name("conns")
            .index_name("byUser")
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", "user")
            .expression_attribute_values(":u", s("u1"))
            .send()
    };
    assert_eq!(by_user().await.unwrap().count, 2);
    common::advance_clock(emu.url(), "5m").await;
    let left = by_user().await.unwrap();
    assert_eq!(left.count, 1);
    assert_eq!(left.items()[0]["pk"], s("c2"));
}

/// TransactWriteItems tokens are remembered for AWS's ten minutes and then forgotten, so the
/// token table holds only the recent ones (SDKs send a fresh token with every transaction).
#[tokio::test]
async fn transaction_tokens_are_forgotten_after_ten_minutes() {
    let emu = common::builder().clock("2026-03-01T00:00:00Z".parse().unwrap()).start().await.unwrap();
    let db = aws_sdk_dynamodb::Client::new(&common::sdk_config(emu.url()));
    common::pk_table(&db, "tokens").await;
    let put = |v: &str| {
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name("tokens")
                    .item("pk", AttributeValue::S("k".into()))
                    .item("v", AttributeValue::S(v.into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let send = |token: &'static str, v: &'static str| {
        db.transact_write_items().transact_items(put(v)).client_request_token(token).send()
    };
    send("first", "1").await.unwrap();
    send("second", "2").await.unwrap();
    common::advance_clock(emu.url(), "9m").await;
    let e = send("first", "other").await.unwrap_err();
    assert_eq!(common::code(&e), "IdempotentParameterMismatchException", "still remembered at 9 minutes");
    common::advance_clock(emu.url(), "2m").await;
    send("third", "3").await.unwrap();
    let state: serde_json::Value =
        common::http().get(format!("{}/_emulator/state", emu.url())).send().await.unwrap().json().await.unwrap();
    let tokens = state["state"]["ddb_transaction_tokens"].to_string();
    assert!(tokens.contains("third") && !tokens.contains("first") && !tokens.contains("second"), "{tokens}");
    // A forgotten token is free again, for any request.
    send("first", "other").await.unwrap();
}
