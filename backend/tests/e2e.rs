//! The whole chat end to end: `emulator up` with `backend/template.yaml` and the backend's real
//! function binaries (run under the Lambda Runtime API), driven through the official SDK
//! clients, plain HTTP and a real WebSocket, as a user's client would.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::AttributeType;
use emulator::up::UpOptions;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use common::{Chat, PASSWORD};
use testkit::sdk_config as sdk;

async fn chat() -> Chat {
    chat_with(&[]).await
}

async fn chat_with(parameters: &[(&str, &str)]) -> Chat {
    let mut options = common::options();
    options.parameters = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    chat_from(emulator::Emulator::builder().in_memory(), &options).await
}

async fn chat_from(builder: emulator::EmulatorBuilder, options: &UpOptions) -> Chat {
    Chat::start(builder, options).await
}

async fn next_json<S>(ws: &mut S, within: Duration) -> Option<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_users_chat_end_to_end_and_a_third_cannot_read() {
    let chat = chat().await;
    let alice = chat.user("alice").await;
    let bob = chat.user("bob").await;
    let mallory = chat.user("mallory").await;

    // Bob listens on the WebSocket with his access token; a bad token is refused.
    let refused = tokio_tungstenite::connect_async(format!("{}?token=nope", chat.ws)).await;
    assert!(refused.is_err(), "a bad token fails the handshake");
    let (mut bob_ws, _) = tokio_tungstenite::connect_async(format!("{}?token={}", chat.ws, bob.access)).await.unwrap();

    // The directory lists everyone; Alice sends to Bob.
    let (status, users) = chat.get(&alice.id, "/users?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 3);
    let sent_at = Instant::now();
    let (status, sent) =
        chat.post(&alice.id, &format!("/users/{}/messages", bob.sub), json!({ "text": "hello bob" })).await;
    assert_eq!(status, 201, "{sent}");
    let conv = sent["conversationId"].as_str().unwrap().to_string();
    let message_id = sent["messageId"].as_str().unwrap().to_string();

    // Bob is told within a second, through the stream processor and @connections.
    let pushed = next_json(&mut bob_ws, Duration::from_secs(1)).await.expect("a push within 1 s");
    let latency = sent_at.elapsed();
    assert_eq!(pushed["type"], "message");
    assert_eq!(pushed["messageId"], message_id.as_str());
    assert_eq!(pushed["sender"], alice.sub.as_str());
    eprintln!("send → WebSocket push: {latency:?}");

    // Bob reads it decrypted; his unread count goes from 1 to 0.
    let (_, unread) = chat.get(&bob.id, "/unread").await;
    assert_eq!(unread["total"], 1);
    let (status, msg) = chat.get(&bob.id, &format!("/conversations/{conv}/messages/{message_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(msg["text"], "hello bob");
    let (status, _) =
        chat.post(&bob.id, &format!("/conversations/{conv}/read"), json!({ "messageId": message_id })).await;
    assert_eq!(status, 200);
    let (_, unread) = chat.get(&bob.id, "/unread").await;
    assert_eq!(unread["total"], 0);
    // Alice reads her own copy; her conversation list shows the conversation.
    let (_, history) = chat.get(&alice.id, &format!("/conversations/{conv}/messages")).await;
    assert_eq!(history["messages"][0]["text"], "hello bob");
    let (_, convs) = chat.get(&alice.id, "/conversations").await;
    assert_eq!(convs["conversations"][0]["conversationId"], conv.as_str());

    // The e-mail notice reached Bob, without the text.
    let deadline = Instant::now() + Duration::from_secs(5);
    let notice = loop {
        let mail = chat.mailbox("bob@example.com").await;
        if let Some(m) = mail.iter().find(|m| m["subject"].as_str().is_some_and(|s| s.contains("New message"))) {
            break m.clone();
        }
        assert!(Instant::now() < deadline, "no notice mail: {mail:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!notice.to_string().contains("hello bob"), "the notice carries no plaintext");

    // Mallory can neither read nor list nor post into their conversation.
    let (status, _) = chat.get(&mallory.id, &format!("/conversations/{conv}/messages/{message_id}")).await;
    assert_eq!(status, 404);
    let (status, _) = chat.get(&mallory.id, &format!("/conversations/{conv}/messages")).await;
    assert_eq!(status, 404);
    let (status, _) = chat.post(&mallory.id, &format!("/conversations/{conv}/messages"), json!({ "text": "hi" })).await;
    assert_eq!(status, 404);
    let (_, convs) = chat.get(&mallory.id, "/conversations").await;
    assert!(convs["conversations"].as_array().unwrap().is_empty());
    // Without a token nothing runs.
    let r = chat.http.get(format!("{}/conversations", chat.http_api)).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Sending over the WebSocket works too, and reaches Alice's open socket.
    let (mut alice_ws, _) =
        tokio_tungstenite::connect_async(format!("{}?token={}", chat.ws, alice.access)).await.unwrap();
    bob_ws
        .send(Message::text(json!({ "action": "sendMessage", "conversationId": conv, "text": "hi alice" }).to_string()))
        .await
        .unwrap();
    let mut got_sent = false;
    let mut bob_saw = 0;
    let deadline = Duration::from_secs(3);
    while let Some(v) = next_json(&mut bob_ws, deadline).await {
        if v["type"] == "sent" {
            got_sent = true;
        }
        if v["type"] == "message" {
            bob_saw += 1;
        }
        if got_sent && bob_saw >= 1 {
            break;
        }
    }
    assert!(got_sent, "the sender is answered on its socket");
    let to_alice = next_json(&mut alice_ws, Duration::from_secs(3)).await.expect("Alice is told");
    assert_eq!(to_alice["type"], "message");
    assert_eq!(to_alice["sender"], bob.sub.as_str());

    // Typing reaches the other member only.
    alice_ws.send(Message::text(json!({ "action": "typing", "conversationId": conv }).to_string())).await.unwrap();
    let typing = loop {
        let v = next_json(&mut bob_ws, Duration::from_secs(3)).await.expect("a typing notice");
        if v["type"] == "typing" {
            break v;
        }
    };
    assert_eq!(typing["userId"], alice.sub.as_str());

    // A connection API Gateway no longer knows is removed at the next delivery.
    let db = aws_sdk_dynamodb::Client::new(&sdk(&chat.url));
    let table = chat.up.stack.physical_id("ChatTable").unwrap().to_string();
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
    let n = |v: i64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
    let far = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600) as i64;
    for (pk, sk) in
        [(format!("USER#{}", bob.sub), "CONN#stale=".to_string()), ("CONN#stale=".to_string(), "CONN".to_string())]
    {
        db.put_item()
            .table_name(&table)
            .item("pk", s(&pk))
            .item("sk", s(&sk))
            .item("sub", s(&bob.sub))
            .item("connectionId", s("stale="))
            .item("expiresAt", n(far))
            .send()
            .await
            .unwrap();
    }
    chat.post(&alice.id, &format!("/conversations/{conv}/messages"), json!({ "text": "again" })).await;
    next_json(&mut bob_ws, Duration::from_secs(3)).await.expect("the live connection still gets it");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = db
            .get_item()
            .table_name(&table)
            .key("pk", s(&format!("USER#{}", bob.sub)))
            .key("sk", s("CONN#stale="))
            .send()
            .await
            .unwrap();
        if row.item.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the gone connection was not removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    chat.up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_only_pools_refuse_sign_up_and_onboard_invited_users_at_first_sign_in() {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
    let chat = chat_with(&[("SignUpMode", "admin-only")]).await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&chat.url));
    let e = idp
        .sign_up()
        .client_id(&chat.client)
        .username("eve")
        .password(PASSWORD)
        .user_attributes(AttributeType::builder().name("email").value("eve@example.com").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(s)),
        Some("NotAuthorizedException")
    );

    idp.admin_create_user()
        .user_pool_id(&chat.pool)
        .username("carol")
        .temporary_password("Temp-Pass-1")
        .user_attributes(AttributeType::builder().name("email").value("carol@example.com").build().unwrap())
        .user_attributes(AttributeType::builder().name("email_verified").value("true").build().unwrap())
        .send()
        .await
        .unwrap();
    let start = idp
        .initiate_auth()
        .client_id(&chat.client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "carol")
        .auth_parameters("PASSWORD", "Temp-Pass-1")
        .send()
        .await
        .unwrap();
    assert_eq!(start.challenge_name, Some(ChallengeNameType::NewPasswordRequired));
    let done = idp
        .respond_to_auth_challenge()
        .client_id(&chat.client)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(start.session.unwrap())
        .challenge_responses("USERNAME", "carol")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let id = done.authentication_result.unwrap().id_token.unwrap();
    let (status, me) = chat.get(&id, "/me").await;
    assert_eq!(status, 200, "onboarded at first sign-in: {me}");
    assert_eq!(me["username"], "carol");
    assert_eq!(me["email"], "carol@example.com");
    chat.up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_users_log_in_at_once_and_a_restart_does_not_repeat_the_demo() {
    let state = tempfile::tempdir().unwrap();
    let mut options = common::options();
    options.demo = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/demo.yaml").into());
    let chat = chat_from(emulator::Emulator::builder().state_dir(state.path()), &options).await;
    let (demo, seeded) = chat.up.demo.clone().expect("the demo ran");
    assert_eq!(seeded.users, ["alice", "bob"]);
    assert_eq!((seeded.created, seeded.requests), (2, demo.requests.len()));

    // Alice logs in as the web client does (SRP) with the demo password and finds the conversation.
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&chat.url));
    let login = |name: &'static str| {
        let (idp, pool, client, password) =
            (idp.clone(), chat.pool.clone(), chat.client.clone(), demo.password.clone());
        async move { testkit::srp::login(&idp, &pool, &client, name, &password).await.expect("SRP login").id_token.unwrap() }
    };
    let alice = login("alice").await;
    let (_, convs) = chat.get(&alice, "/conversations").await;
    let convs = convs["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 1, "{convs:?}");
    let conv = convs[0]["conversationId"].as_str().unwrap().to_string();
    let (_, history) = chat.get(&alice, &format!("/conversations/{conv}/messages")).await;
    let texts: Vec<&str> =
        history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    let expected: Vec<&str> =
        demo.requests.iter().rev().map(|r| r.body.as_ref().unwrap()["text"].as_str().unwrap()).collect();
    assert_eq!(texts, expected, "newest first, each readable by its reader");
    let bob = login("bob").await;
    let (_, unread) = chat.get(&bob, "/unread").await;
    assert_eq!(unread["total"], 2, "bob has not read alice's two messages");
    chat.up.handle.shutdown().await;

    // On the saved state the users exist, so nothing is created or sent again.
    let again = chat_from(emulator::Emulator::builder().state_dir(state.path()), &options).await;
    let (_, seeded) = again.up.demo.clone().unwrap();
    assert_eq!((seeded.created, seeded.requests), (0, 0));
    // The port is new, and with it the tokens' issuer: log in again.
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&again.url));
    let tokens = testkit::srp::login(&idp, &again.pool, &again.client, "alice", &demo.password).await.unwrap();
    let (_, history) = again.get(&tokens.id_token.unwrap(), &format!("/conversations/{conv}/messages")).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), demo.requests.len());
    again.up.handle.shutdown().await;
}
