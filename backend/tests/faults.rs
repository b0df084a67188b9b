//! The chat under injected AWS faults (`/_emulator/faults`): the backend's real binaries under
//! `emulator up`, as in `e2e.rs`, with DynamoDB throttling a send, API Gateway saying a live
//! connection is gone, and the HTTP API itself unavailable.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use testkit::sdk_config as sdk;

use common::{Chat, User};

async fn chat() -> Chat {
    Chat::start(emulator::Emulator::builder().in_memory(), &common::options()).await
}

/// The fault admin API, and what a user sees of a conversation.
impl Chat {
    async fn inject(&self, fault: Value) {
        let r = self.http.post(format!("{}/_emulator/faults", self.url)).json(&fault).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn fault(&self, id: &str) -> Value {
        self.http.get(format!("{}/_emulator/faults/{id}", self.url)).send().await.unwrap().json().await.unwrap()
    }

    async fn remove_fault(&self, id: &str) {
        let r = self.http.delete(format!("{}/_emulator/faults/{id}", self.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    /// The texts of a conversation's history as `user` reads it, newest first.
    async fn texts(&self, user: &User, conv: &str) -> Vec<String> {
        let (status, history) = self.get(&user.id, &format!("/conversations/{conv}/messages")).await;
        assert_eq!(status, 200, "{history}");
        history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap_or("").to_string()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttled_writes_are_retried_then_answered_with_500_and_nothing_half_written() {
    let chat = chat().await;
    let alice = chat.user("alice").await;
    let bob = chat.user("bob").await;
    let (status, sent) = chat.post(&alice.id, &format!("/users/{}/messages", bob.sub), json!({ "text": "one" })).await;
    assert_eq!(status, 201, "{sent}");
    let conv = sent["conversationId"].as_str().unwrap().to_string();
    let send = format!("/conversations/{conv}/messages");

    // Two throttles of the message's transaction: the function's SDK retries through them.
    chat.inject(json!({"id": "brief", "service": "dynamodb", "operation": "TransactWriteItems", "count": 2,
                       "error": {"code": "ProvisionedThroughputExceededException"}}))
        .await;
    let (status, body) = chat.post(&alice.id, &send, json!({ "text": "two" })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(chat.fault("brief").await["hits"], 2);

    // Throttled for good: three attempts, then a 500 with a JSON error and no message row,
    // no unread count, nothing in either reader's history.
    chat.inject(json!({"id": "lasting", "service": "dynamodb", "operation": "TransactWriteItems",
                       "error": {"code": "ProvisionedThroughputExceededException"}}))
        .await;
    let (status, body) = chat.post(&alice.id, &send, json!({ "text": "three" })).await;
    assert_eq!((status, body), (500, json!({ "message": "internal error" })));
    assert_eq!(chat.fault("lasting").await["hits"], 3, "the SDK's standard mode makes three attempts");
    chat.remove_fault("lasting").await;
    assert_eq!(chat.texts(&bob, &conv).await, ["two", "one"]);
    assert_eq!(chat.texts(&alice, &conv).await, ["two", "one"]);
    let (_, unread) = chat.get(&bob.id, "/unread").await;
    assert_eq!(unread["total"], 2, "{unread}");

    // The HTTP API route itself unavailable once: API Gateway's JSON error, then normal service.
    chat.inject(json!({"service": "execute-api", "operation": "GET /unread", "count": 1,
                       "error": {"code": "ServiceUnavailable", "message": "Service Unavailable"}}))
        .await;
    let r = chat.http.get(format!("{}/unread", chat.http_api)).bearer_auth(&bob.id).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Service Unavailable" }));
    let (status, _) = chat.get(&bob.id, "/unread").await;
    assert_eq!(status, 200);
}

async fn connections_of(db: &aws_sdk_dynamodb::Client, table: &str, sub: &str) -> usize {
    db.query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{sub}")))
        .expression_attribute_values(":conn", AttributeValue::S("CONN#".into()))
        .send()
        .await
        .unwrap()
        .count() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_api_gateway_calls_gone_is_dropped_by_the_stream_processor() {
    let chat = chat().await;
    let alice = chat.user("alice").await;
    let bob = chat.user("bob").await;
    let db = aws_sdk_dynamodb::Client::new(&sdk(&chat.url));
    let table = chat.up.stack.physical_id("ChatTable").unwrap().to_string();
    let (mut bob_ws, _) = tokio_tungstenite::connect_async(format!("{}?token={}", chat.ws, bob.access)).await.unwrap();
    assert_eq!(connections_of(&db, &table, &bob.sub).await, 1, "$connect recorded the connection");

    chat.inject(json!({"id": "gone", "service": "execute-api", "operation": "PostToConnection", "count": 1,
                       "error": {"code": "GoneException"}}))
        .await;
    let (status, sent) = chat.post(&alice.id, &format!("/users/{}/messages", bob.sub), json!({ "text": "hi" })).await;
    assert_eq!(status, 201, "{sent}");

    // The fan-out meets GoneException (not retried) and forgets the connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections_of(&db, &table, &bob.sub).await > 0 {
        assert!(Instant::now() < deadline, "the connection record is never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(chat.fault("gone").await["hits"], 1);

    // Bob's socket is still open, but the backend no longer pushes to it.
    let conv = sent["conversationId"].as_str().unwrap();
    let (status, _) =
        chat.post(&alice.id, &format!("/conversations/{conv}/messages"), json!({ "text": "again" })).await;
    assert_eq!(status, 201);
    match tokio::time::timeout(Duration::from_millis(1500), bob_ws.next()).await {
        Err(_) => {}
        Ok(Some(Ok(Message::Text(t)))) => panic!("pushed to a forgotten connection: {t}"),
        Ok(other) => panic!("the socket ended: {other:?}"),
    }
    let (_, unread) = chat.get(&bob.id, "/unread").await;
    assert_eq!(unread["total"], 2, "both messages were stored");
}
