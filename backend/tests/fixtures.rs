//! A fixture's application data under `emulator up --fixture`: users, a room and messages given
//! as plaintext reach the real backend through its API, so they are stored sealed as in
//! production and read back decrypted by their readers; the state exported and loaded under a
//! second `emulator up` is the same chat.
//!
//! The fixtures shipped in `fixtures/` are loaded here over the chat stack, each test checking
//! the situation its fixture describes: two users with unread messages, a room of 50 members, a
//! connection record without a socket, connection records past their TTL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt as _;
use serde_json::Value;

use common::Chat;
use emulator::fixtures::Fixture;
use testkit::sdk_config as sdk;

/// A fixture shipped in `fixtures/`.
fn shipped(name: &str) -> Fixture {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(name);
    emulator::fixtures::read(&path).unwrap()
}

/// The chat stack with a shipped fixture loaded.
async fn chat_with(name: &str) -> Chat {
    Chat::start(emulator::Emulator::builder().in_memory().fixture(shipped(name)), &common::options()).await
}

/// A fixture user's ID token (`USER_PASSWORD_AUTH`, which the stack's client allows).
async fn sign_in(chat: &Chat, username: &str, password: &str) -> String {
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&chat.url));
    let out = idp
        .initiate_auth()
        .client_id(&chat.client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{username} signs in: {e:?}"));
    out.authentication_result.and_then(|r| r.id_token).expect("tokens, not a challenge")
}

/// A pool user's `sub`, through the Cognito API.
async fn sub_of(chat: &Chat, username: &str) -> String {
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&chat.url));
    let user = idp.admin_get_user().user_pool_id(&chat.pool).username(username).send().await.unwrap();
    user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string()
}

/// Whether the chat table has the item `(pk, sk)`.
async fn has_item(chat: &Chat, pk: &str, sk: &str) -> bool {
    let db = aws_sdk_dynamodb::Client::new(&sdk(&chat.url));
    let table = chat.up.stack.physical_id("ChatTable").unwrap();
    let got = db
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    got.item.is_some()
}

/// The `sk`s of a user's connection rows, through a DynamoDB query.
async fn connection_rows(chat: &Chat, sub: &str) -> Vec<String> {
    common::connection_items(&chat.up, sub).await.iter().map(|i| i["sk"].as_s().unwrap().clone()).collect()
}

/// The emulator's whole state (`GET /_emulator/state`), which reads the store without running
/// any service (so without the TTL sweep a DynamoDB call runs first).
async fn export(chat: &Chat) -> Value {
    chat.http.get(format!("{}/_emulator/state", chat.url)).send().await.unwrap().json().await.unwrap()
}

/// The rows of an exported table as column → value maps.
fn rows(state: &Value, table: &str) -> Vec<BTreeMap<String, Value>> {
    let t = &state["state"][table];
    let columns: Vec<String> =
        t["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| columns.iter().cloned().zip(r.as_array().unwrap().clone()).collect())
        .collect()
}

/// The `@connections` calls made to one connection, from the console's request log.
async fn pushes(chat: &Chat, connection: &str) -> Vec<Value> {
    let log: Value =
        chat.http.get(format!("{}/_emulator/console/requests", chat.url)).send().await.unwrap().json().await.unwrap();
    let path = format!("@connections/{connection}");
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains(&path)))
        .cloned()
        .collect()
}

/// A text message a fixture's `app` requests send.
#[derive(Clone)]
struct Said {
    sender: String,
    text: String,
}

/// The text messages a fixture's `app` requests send, in order, and the read marks: (reader,
/// how many messages were sent before the mark).
fn sent_in(fixture: &Fixture) -> (Vec<Said>, Vec<(String, usize)>) {
    let app = fixture.app.as_ref().expect("an app section");
    let mut messages = Vec::new();
    let mut reads = Vec::new();
    for r in app.requests.iter().filter(|r| r.method == "POST") {
        let text = r.body.as_ref().and_then(|b| b["text"].as_str());
        match (text, r.path.rsplit('/').next()) {
            (Some(text), Some("messages")) => messages.push(Said { sender: r.as_user.clone(), text: text.to_string() }),
            (_, Some("read")) => reads.push((r.as_user.clone(), messages.len())),
            _ => {}
        }
    }
    (messages, reads)
}

const FIXTURE: &str = r#"
fixture: 1
clock: { now: 2026-05-01T08:00:00Z, frozen: false }
seed: 21
app:
  password: Fixture-Passw0rd
  users:
    - { pool: UserPool, username: alice, attributes: { email: alice@example.com } }
    - { pool: UserPool, username: bob, attributes: { email: bob@example.com } }
  requests:
    - { as: alice, api: ChatHttpApi, method: POST, path: "/users/${sub:bob}/messages", body: { text: "plaintext only alice and bob may read" } }
    - { as: bob, api: ChatHttpApi, method: POST, path: /rooms, body: { name: Lobby } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn app_data_in_a_fixture_goes_through_the_backend_and_is_stored_sealed() {
    let options = common::options();
    let fixture = emulator::fixtures::parse(FIXTURE).unwrap();
    let up = common::up(emulator::Emulator::builder().in_memory().fixture(fixture), &options).await;
    let url = up.handle.url().to_string();
    let pool = up.stack.physical_id("UserPool").unwrap();
    let client = up.stack.physical_id("UserPoolClient").unwrap();
    let http_api = common::api_url(&up, "ChatHttpApi");

    // Bob signs in with the fixture's password and reads Alice's message, decrypted for him.
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&url));
    let tokens = testkit::srp::login(&idp, pool, client, "bob", "Fixture-Passw0rd").await.expect("bob signs in");
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let req = http.get(format!("{http_api}{path}")).bearer_auth(tokens.id_token.clone().unwrap());
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let conversations = get("/conversations").await;
    let direct = conversations["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "direct")
        .expect("the direct conversation")["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let history = get(&format!("/conversations/{direct}/messages")).await;
    assert_eq!(history["messages"][0]["text"], "plaintext only alice and bob may read");
    let rooms = get("/rooms").await;
    assert_eq!(rooms["rooms"][0]["name"], "Lobby");

    // Stored as in production: neither the table nor the bucket holds the plaintext.
    let db = aws_sdk_dynamodb::Client::new(&sdk(&url));
    let table = up.stack.physical_id("ChatTable").unwrap();
    let items = db.scan().table_name(table).send().await.unwrap();
    let message = items
        .items()
        .iter()
        .find(|i| i.get("type") == Some(&AttributeValue::S("message".into())))
        .expect("a message row");
    assert!(!format!("{message:?}").contains("plaintext only"));
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk(&url)).force_path_style(true).build());
    let bucket = up.stack.physical_id("MessageBucket").unwrap();
    let objects = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    assert_eq!(objects.contents().len(), 2, "one sealed copy per reader");
    for o in objects.contents() {
        let body = s3.get_object().bucket(bucket).key(o.key().unwrap()).send().await.unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        assert!(!String::from_utf8_lossy(&bytes).contains("plaintext only"));
    }

    // The whole state exported and loaded under a second `emulator up`: the stack's resources
    // are reused, and Bob still reads the message with his password.
    let exported: Value = http.get(format!("{url}/_emulator/state")).send().await.unwrap().json().await.unwrap();
    up.handle.shutdown().await;
    let fixture: emulator::fixtures::Fixture = serde_json::from_value(exported).unwrap();
    let again = common::up(emulator::Emulator::builder().in_memory().fixture(fixture), &options).await;
    assert!(
        again.stack.resources.iter().all(|r| r.status != emulator::template::provision::ResourceStatus::Created),
        "every resource is reused"
    );
    let url = again.handle.url().to_string();
    let http_api = common::api_url(&again, "ChatHttpApi");
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk(&url));
    let tokens = testkit::srp::login(&idp, pool, client, "bob", "Fixture-Passw0rd").await.expect("bob signs in again");
    let r = http
        .get(format!("{http_api}/conversations/{direct}/messages"))
        .bearer_auth(tokens.id_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let history: Value = r.json().await.unwrap();
    assert_eq!(history["messages"][0]["text"], "plaintext only alice and bob may read");
    again.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_users_unread_fixture_leaves_each_reader_their_unread_messages_sealed_for_them() {
    let fixture = shipped("two-users-unread.yaml");
    let app = fixture.app.clone().unwrap();
    let (messages, reads) = sent_in(&fixture);
    assert!(messages.len() >= 3 && !reads.is_empty(), "the fixture has a conversation with a read mark");
    let chat = chat_with("two-users-unread.yaml").await;

    // What each user should have unread: messages by the other one after their last read mark
    // (the fixture marks read up to the newest message at that point).
    let users: Vec<String> = app.users.iter().map(|u| u.username.clone()).collect();
    assert_eq!(users.len(), 2);
    let expected = |user: &str| {
        let from = reads.iter().filter(|(r, _)| r == user).map(|(_, at)| *at).max().unwrap_or(0);
        messages[from..].iter().filter(|m| m.sender != user).count() as i64
    };
    let mut subs = BTreeMap::new();
    for user in &users {
        subs.insert(sub_of(&chat, user).await, user.clone());
    }

    let mut conversation = None;
    for user in &users {
        let token = sign_in(&chat, user, &app.password).await;
        let (status, unread) = chat.get(&token, "/unread").await;
        assert_eq!(status, 200, "{unread}");
        assert_eq!(unread["total"], expected(user), "{user}'s unread: {unread}");
        let per = unread["conversations"].as_object().unwrap();
        assert_eq!(per.len(), 1, "one conversation: {unread}");
        let (conv, count) = per.iter().next().unwrap();
        assert_eq!(count, &Value::from(expected(user)));
        assert!(conversation.get_or_insert_with(|| conv.clone()) == conv, "both users are in the same conversation");

        let (_, list) = chat.get(&token, "/conversations").await;
        let listed = &list["conversations"][0];
        assert_eq!((listed["kind"].as_str(), listed["unread"].as_i64()), (Some("direct"), Some(expected(user))));

        // The whole history, newest first, decrypted for this reader, each from its sender.
        let (status, history) = chat.get(&token, &format!("/conversations/{conv}/messages?limit=100")).await;
        assert_eq!(status, 200, "{history}");
        let got: Vec<(String, String)> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (subs[m["sender"].as_str().unwrap()].clone(), m["text"].as_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> = messages.iter().rev().map(|m| (m.sender.clone(), m.text.clone())).collect();
        assert_eq!(got, want, "{user} reads every message in order");
    }
    let conversation = conversation.unwrap();

    // Only the two of them: a third user is refused, and every message has one sealed copy per
    // reader, none holding the plaintext.
    let carol = chat.user("carol").await;
    let (status, _) = chat.get(&carol.id, &format!("/conversations/{conversation}/messages")).await;
    assert_eq!(status, 404);
    let db = aws_sdk_dynamodb::Client::new(&sdk(&chat.url));
    let table = chat.up.stack.physical_id("ChatTable").unwrap();
    let stored = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :p AND begins_with(sk, :m)")
        .expression_attribute_values(":p", AttributeValue::S(format!("CONV#{conversation}")))
        .expression_attribute_values(":m", AttributeValue::S("MSG#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.items().len(), messages.len());
    for item in stored.items() {
        let readers: BTreeSet<&String> = item["copies"].as_m().unwrap().keys().collect();
        assert_eq!(readers, subs.keys().collect::<BTreeSet<_>>(), "one copy per reader");
        let text = format!("{item:?}");
        assert!(messages.iter().all(|m| !text.contains(m.text.as_str())), "no plaintext in the table");
    }
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&chat.url)).force_path_style(true).build(),
    );
    let bucket = chat.up.stack.physical_id("MessageBucket").unwrap();
    let objects = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    assert_eq!(objects.contents().len(), 2 * messages.len());
    for o in objects.contents() {
        let body = s3.get_object().bucket(bucket).key(o.key().unwrap()).send().await.unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(messages.iter().all(|m| !text.contains(m.text.as_str())), "no plaintext in S3");
    }
    chat.up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_fixture_has_fifty_members_who_all_read_it_and_exports_and_loads_back() {
    let fixture = shipped("room-50-members.yaml");
    let app = fixture.app.clone().unwrap();
    let members: Vec<String> = app.users.iter().map(|u| u.username.clone()).collect();
    assert_eq!(members.len(), 50);
    let room_name = app.requests[0].body.as_ref().unwrap()["name"].as_str().unwrap().to_string();
    let (fixture_messages, _) = sent_in(&fixture);
    let welcome = fixture_messages.last().unwrap().clone();
    let chat = chat_with("room-50-members.yaml").await;

    let tokens: BTreeMap<String, String> = futures_util::stream::iter(members.iter().cloned())
        .map(|m| {
            let chat = &chat;
            let password = &app.password;
            async move {
                let token = sign_in(chat, &m, password).await;
                (m, token)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    // The room, as its first member lists it, with every member's row.
    let (_, rooms) = chat.get(&tokens[&members[0]], "/rooms").await;
    let listed: Vec<&Value> =
        rooms["rooms"].as_array().unwrap().iter().filter(|r| r["name"] == room_name.as_str()).collect();
    assert_eq!(listed.len(), 1, "{rooms}");
    let room = listed[0]["conversationId"].as_str().unwrap().to_string();
    let db = aws_sdk_dynamodb::Client::new(&sdk(&chat.url));
    let table = chat.up.stack.physical_id("ChatTable").unwrap();
    let rows = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :p AND begins_with(sk, :m)")
        .expression_attribute_values(":p", AttributeValue::S(format!("CONV#{room}")))
        .expression_attribute_values(":m", AttributeValue::S("MEMBER#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(rows.items().len(), 50, "50 member rows");

    // A message from the last member, then: every member sees the room in their conversations
    // and reads both messages, decrypted for them.
    let (status, sent) = chat
        .post(
            &tokens[&members[49]],
            &format!("/conversations/{room}/messages"),
            serde_json::json!({"text": "Hello from the back row"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let posted = sent["messageId"].as_str().unwrap().to_string();
    let checked = futures_util::stream::iter(members.iter().cloned())
        .map(|m| {
            let (chat, tokens, room, posted, welcome) = (&chat, &tokens, &room, &posted, &welcome);
            async move {
                let token = &tokens[&m];
                let (_, list) = chat.get(token, "/conversations").await;
                let mine = list["conversations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["conversationId"] == room.as_str())
                    .cloned();
                let mine = mine.unwrap_or_else(|| panic!("{m} sees the room: {list}"));
                assert_eq!(mine["kind"], "room");
                let (status, history) = chat.get(token, &format!("/conversations/{room}/messages")).await;
                assert_eq!(status, 200, "{m}: {history}");
                let texts: Vec<&str> =
                    history["messages"].as_array().unwrap().iter().filter_map(|x| x["text"].as_str()).collect();
                assert_eq!(texts, ["Hello from the back row", welcome.text.as_str()], "{m}");
                let (status, one) = chat.get(token, &format!("/conversations/{room}/messages/{posted}")).await;
                assert_eq!((status, one["text"].as_str()), (200, Some("Hello from the back row")), "{m}");
                // Unread: the two messages, less the one this member sent.
                let own = [welcome.sender.as_str(), "member50"].iter().filter(|s| **s == m.as_str()).count() as i64;
                assert_eq!(mine["unread"].as_i64(), Some(2 - own), "{m}: {mine}");
                m
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<String>>()
        .await;
    assert_eq!(checked.len(), 50);
    let outsider = chat.user("outsider").await;
    let (status, _) = chat.get(&outsider.id, &format!("/conversations/{room}/messages")).await;
    assert_eq!(status, 404, "a non-member reads nothing");

    // Measure the world: export it, and load the export into a fresh instance, which then holds
    // the same state. First let the stream processor finish (the last member to be told of the
    // last message has their notice), so the export has nothing left to deliver.
    let deadline = Instant::now() + Duration::from_secs(60);
    for m in &members {
        let expected = 2 - [welcome.sender.as_str(), "member50"].iter().filter(|s| **s == m.as_str()).count();
        loop {
            let mail = chat.mailbox(&format!("{m}@example.com")).await;
            let notices =
                mail.iter().filter(|x| x["subject"].as_str().is_some_and(|s| s.contains("New message"))).count();
            if notices >= expected {
                break;
            }
            assert!(Instant::now() < deadline, "{m} got {notices} notices of {expected}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let text = chat.http.get(format!("{}/_emulator/state", chat.url)).send().await.unwrap().text().await.unwrap();
    let export_ms = started.elapsed().as_secs_f64() * 1000.0;
    let exported: Value = serde_json::from_str(&text).unwrap();
    let yaml = emulator::fixtures::to_yaml(&serde_json::from_value(exported.clone()).unwrap()).unwrap();
    let row_count: usize =
        exported["state"].as_object().unwrap().values().map(|t| t["rows"].as_array().unwrap().len()).sum();
    chat.up.handle.shutdown().await;
    let fresh = emulator::Emulator::builder().in_memory().port(0).start().await.expect("a fresh emulator starts");
    let started = Instant::now();
    let loaded = chat.http.post(format!("{}/_emulator/state", fresh.url())).body(yaml.clone()).send().await.unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(loaded.status(), 200, "{}", loaded.text().await.unwrap());
    let again: Value =
        chat.http.get(format!("{}/_emulator/state", fresh.url())).send().await.unwrap().json().await.unwrap();
    let differ: Vec<&String> = exported["state"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, rows)| again["state"][name.as_str()] != **rows)
        .map(|(name, _)| name)
        .collect();
    assert!(differ.is_empty(), "load(export(state)) == state; tables that differ: {differ:?}");
    assert_eq!(again["rng"], exported["rng"]);
    let mut largest: Vec<(usize, &String)> =
        exported["state"].as_object().unwrap().iter().map(|(name, t)| (t.to_string().len(), name)).collect();
    largest.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "room-50-members world: export {export_ms:.0} ms, load {load_ms:.0} ms, {row_count} rows, {} bytes as JSON, {} bytes as YAML; largest tables: {:?}",
        text.len(),
        yaml.len(),
        &largest[..4]
    );
    fresh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_connection_fixture_meets_gone_and_the_backend_drops_the_record() {
    let fixture = shipped("stale-connection.yaml");
    let app = fixture.app.clone().unwrap();
    let connection = app.items[0].item["connectionId"]["S"].as_str().unwrap().to_string();
    let chat = chat_with("stale-connection.yaml").await;
    let bob = sub_of(&chat, "bob").await;

    // The record is there, and no socket behind it.
    assert!(has_item(&chat, &format!("USER#{bob}"), &format!("CONN#{connection}")).await);
    assert!(has_item(&chat, &format!("CONN#{connection}"), "CONN").await);
    let live = chat
        .http
        .get(format!("{}/_emulator/console/connections", chat.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!live.contains(&connection), "no live socket: {live}");
    assert!(pushes(&chat, &connection).await.is_empty());

    // Alice's message succeeds for her; the push to bob's connection gets Gone, and the backend
    // deletes both rows of the record.
    let alice = sign_in(&chat, "alice", &app.password).await;
    let (status, sent) =
        chat.post(&alice, &format!("/users/{bob}/messages"), serde_json::json!({"text": "are you there?"})).await;
    assert_eq!(status, 201, "{sent}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while has_item(&chat, &format!("USER#{bob}"), &format!("CONN#{connection}")).await
        || has_item(&chat, &format!("CONN#{connection}"), "CONN").await
    {
        assert!(
            Instant::now() < deadline,
            "the stale record was not dropped; pushes: {:?}",
            pushes(&chat, &connection).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tried = pushes(&chat, &connection).await;
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!((tried[0]["method"].as_str(), tried[0]["status"].as_u64()), (Some("POST"), Some(410)), "{tried:?}");
    assert_eq!(tried[0]["error"], "GoneException");

    // Bob reads it once he is back, and a second message is not pushed to the dropped record.
    let bob_token = sign_in(&chat, "bob", &app.password).await;
    let conv = sent["conversationId"].as_str().unwrap();
    let (_, history) = chat.get(&bob_token, &format!("/conversations/{conv}/messages")).await;
    assert_eq!(history["messages"][0]["text"], "are you there?");
    let (status, _) = chat.post(&alice, &format!("/users/{bob}/messages"), serde_json::json!({"text": "ping"})).await;
    assert_eq!(status, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let notices = chat.mailbox("bob@example.com").await;
        if notices.iter().filter(|m| m["subject"].as_str().is_some_and(|s| s.contains("New message"))).count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the second message was not delivered: {notices:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pushes(&chat, &connection).await.len(), 1, "no push to a dropped connection");
    chat.up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_connections_fixture_holds_unswept_records_until_dynamodb_and_the_clock_sweep_them() {
    let fixture = shipped("expired-connections.yaml");
    let app = fixture.app.clone().unwrap();
    let clock = fixture.clock.as_ref().unwrap().now.timestamp() as f64;
    // The fixture's connections by id, with their expiry.
    let mut expiry: BTreeMap<String, f64> = BTreeMap::new();
    for item in &app.items {
        let id = item.item["connectionId"]["S"].as_str().unwrap().to_string();
        expiry.insert(id, item.item["expiresAt"]["N"].as_str().unwrap().parse().unwrap());
    }
    let (expired, live): (Vec<&String>, Vec<&String>) = expiry.keys().partition(|id| expiry[*id] <= clock);
    assert!(!expired.is_empty() && !live.is_empty(), "the fixture has both kinds");
    let advance = expiry.values().fold(0f64, |a, b| a.max(*b)) - clock + 1.0;
    let chat = chat_with("expired-connections.yaml").await;
    let now: Value = chat.http.get(format!("{}/_emulator/clock", chat.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["frozen"], true);
    let table = chat.up.stack.physical_id("ChatTable").unwrap().to_string();

    // After loading, every row is in the store, the expired ones included (the export reads the
    // store without running DynamoDB, so without its sweep).
    let stored = |state: &Value| -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for row in rows(state, "ddb_items").into_iter().filter(|r| r["table_name"] == table.as_str()) {
            let item: Value = serde_json::from_str(row["item"].as_str().unwrap()).unwrap();
            if let Some(id) = item["connectionId"]["S"].as_str() {
                assert_eq!(row["expires_at"].as_f64(), Some(expiry[id]), "{id}'s TTL is indexed");
                *out.entry(id.to_string()).or_default() += 1;
            }
        }
        out
    };
    let at_load = stored(&export(&chat).await);
    assert_eq!(
        at_load,
        expiry.keys().map(|id| (id.clone(), 2)).collect::<BTreeMap<String, usize>>(),
        "both rows of every connection"
    );

    // The first DynamoDB call sweeps what is past its TTL; the rest stays readable.
    let subs: BTreeMap<String, String> = {
        let mut m = BTreeMap::new();
        for u in &app.users {
            m.insert(u.username.clone(), sub_of(&chat, &u.username).await);
        }
        m
    };
    let owner = |id: &str| {
        let item = app.items.iter().find(|i| i.item["connectionId"]["S"] == id).unwrap();
        let sub = item.item["sub"]["S"].as_str().unwrap();
        subs[sub.trim_start_matches("${sub:").trim_end_matches('}')].clone()
    };
    for id in &expired {
        assert!(connection_rows(&chat, &owner(id)).await.is_empty(), "{id} is swept at the first DynamoDB call");
        assert!(!has_item(&chat, &format!("CONN#{id}"), "CONN").await);
    }
    for id in &live {
        assert_eq!(connection_rows(&chat, &owner(id)).await, [format!("CONN#{id}")], "{id} is not due yet");
        assert!(has_item(&chat, &format!("CONN#{id}"), "CONN").await);
    }

    // Past the last expiry on the emulator clock, the sweeper deletes the rest.
    let moved = chat
        .http
        .post(format!("{}/_emulator/clock", chat.url))
        .query(&[("advance", format!("{}s", advance as u64))])
        .send()
        .await
        .unwrap();
    assert!(moved.status().is_success());
    for id in &live {
        assert!(connection_rows(&chat, &owner(id)).await.is_empty(), "{id} is swept once the clock passed it");
        assert!(!has_item(&chat, &format!("CONN#{id}"), "CONN").await);
    }
    let state = export(&chat).await;
    assert!(stored(&state).is_empty());

    // Each deletion left a REMOVE stream record by the DynamoDB service, as AWS's TTL does.
    let mut removed: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows(&state, "ddb_stream_records") {
        let record: Value = serde_json::from_str(row["record"].as_str().unwrap()).unwrap();
        if record["eventName"] != "REMOVE" {
            continue;
        }
        assert_eq!(
            record["userIdentity"],
            serde_json::json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"})
        );
        if let Some(id) = record["dynamodb"]["OldImage"]["connectionId"]["S"].as_str() {
            *removed.entry(id.to_string()).or_default() += 1;
        }
    }
    assert_eq!(removed, at_load, "one TTL deletion per row");
    chat.up.handle.shutdown().await;
}
