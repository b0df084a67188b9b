//! A fixture's application data under `emulator up --fixture`: users, a room and messages given
//! as plaintext reach the real backend through its API, so they are stored sealed as in
//! production and read back decrypted by their readers; the state exported and loaded under a
//! second `emulator up` is the same chat.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use testkit::sdk_config as sdk;

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
