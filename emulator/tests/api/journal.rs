//! Record and replay: a session of SDK calls across S3, DynamoDB, KMS and Cognito recorded with
//! `--record` under a seed and a frozen clock (a fault met on the way included) replays with
//! every response identical; a tampered
//! response is reported with a diff; without `--record-secrets` the journal holds no password,
//! token, plaintext or signature, and the replay says where it has to stop.

use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_smithy_types::retry::RetryConfig;
use emulator::replay::{Outcome, ReplayOptions, replay};
use serde_json::{Value, json};

use crate::cognito::{PASSWORD, client, login, pool, signed_up};
use crate::common;

const PLAINTEXT: &str = "the plaintext nobody may read";

/// Runs the session; returns the access token it was given.
async fn session(url: &str) -> String {
    let cfg = common::sdk_config(url)
        .into_builder()
        .retry_config(RetryConfig::standard().with_initial_backoff(std::time::Duration::from_millis(5)))
        .build();
    let s3 = common::s3_with(&cfg);
    s3.create_bucket().bucket("journal").send().await.unwrap();
    s3.put_object().bucket("journal").key("a.txt").body(b"hello".to_vec().into()).send().await.unwrap();
    let got = s3.get_object().bucket("journal").key("a.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");

    let db = aws_sdk_dynamodb::Client::new(&cfg);
    common::pk_table(&db, "items").await;
    db.put_item()
        .table_name("items")
        .item("pk", AttributeValue::S("one".into()))
        .item("value", AttributeValue::S("original".into()))
        .send()
        .await
        .unwrap();
    // One throttle, absorbed by the SDK's retry: the journal keeps the fault with the call.
    let fault =
        json!({"service": "dynamodb", "operation": "GetItem", "count": 1, "error": {"code": "ThrottlingException"}});
    let r = common::http().post(format!("{url}/_emulator/faults")).json(&fault).send().await.unwrap();
    assert_eq!(r.status(), 201);
    db.get_item().table_name("items").key("pk", AttributeValue::S("one".into())).send().await.unwrap();

    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let sealed = kms.encrypt().key_id(&key).plaintext(Blob::new(PLAINTEXT)).send().await.unwrap();
    let opened = kms.decrypt().ciphertext_blob(sealed.ciphertext_blob.unwrap()).send().await.unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), PLAINTEXT.as_bytes());

    // An hour later (on the frozen clock): a user signs up with the mailed code and signs in.
    common::advance_clock(url, "1h").await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(url, &idp, &client_id, "alice", "alice@example.com").await;
    let tokens = login(&idp, &client_id, "alice", PASSWORD).await;
    s3.list_objects_v2().bucket("journal").send().await.unwrap();
    tokens.access_token.unwrap()
}

/// Records a session into `path`.
async fn record(path: &Path, secrets: bool) -> String {
    let emu = common::builder()
        .seed(7)
        .clock("2026-01-01T00:00:00Z".parse().unwrap())
        .record(path, secrets)
        .start()
        .await
        .unwrap();
    let token = session(emu.url()).await;
    emu.shutdown().await;
    token
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn a_seeded_session_replays_identically_and_a_tampered_response_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.jsonl");
    record(&path, true).await;

    let journal = lines(&path);
    let header = &journal[0];
    assert_eq!((header["seed"].as_u64(), header["clock"].as_str()), (Some(7), Some("2026-01-01T00:00:00Z")));
    assert_eq!((header["frozen"].as_bool(), header["secrets"].as_bool()), (Some(true), Some(true)));
    let entries = &journal[1..];
    let services: std::collections::BTreeSet<&str> = entries.iter().map(|e| e["service"].as_str().unwrap()).collect();
    assert_eq!(services, ["cognito-idp", "dynamodb", "kms", "s3"].into());
    let sign_up = entries.iter().find(|e| e["operation"] == "SignUp").unwrap();
    assert_eq!(sign_up["time"], "2026-01-01T01:00:00Z", "entries carry the emulator clock");
    let object = entries.iter().find(|e| e["operation"] == "GetObject").unwrap();
    assert_eq!(object["response"]["body"], "hello");

    let report = replay(&path, &ReplayOptions::default()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Identical, "{report}");
    assert_eq!(report.matched, entries.len());
    assert!(report.warnings.is_empty(), "{report}");

    // One response changed in the journal: the replay stops there and shows the member.
    let throttled = entries.iter().find(|e| e["operation"] == "GetItem").unwrap();
    assert_eq!(throttled["status"], 400);
    assert_eq!(throttled["fault"]["error"]["code"], "ThrottlingException");
    let get_item = entries.iter().find(|e| e["operation"] == "GetItem" && e["status"] == 200).unwrap();
    let seq = get_item["seq"].as_u64().unwrap();
    let tampered: Vec<String> = journal
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if l["seq"].as_u64() == Some(seq) {
                let body = l["response"]["body"].as_str().unwrap().replace("original", "tampered");
                l["response"]["body"] = Value::String(body);
            }
            l.to_string()
        })
        .collect();
    let tampered_path = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered_path, tampered.join("\n") + "\n").unwrap();
    let report = replay(&tampered_path, &ReplayOptions::default()).await.unwrap();
    let Outcome::Diverged { seq: at, step, diff } = &report.outcome else { panic!("{report}") };
    assert_eq!((*at, step.as_str()), (seq, "dynamodb GetItem"));
    assert_eq!(report.matched as u64, seq - 1);
    assert!(diff.contains("--- recorded") && diff.contains("+++ replayed"), "{diff}");
    assert!(diff.contains("-      \"S\": \"tampered\"") && diff.contains("+      \"S\": \"original\""), "{diff}");
}

#[tokio::test]
async fn journals_hold_no_secrets_unless_asked_and_replay_says_where_it_must_stop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redacted.jsonl");
    let token = record(&path, false).await;

    let text = std::fs::read_to_string(&path).unwrap();
    use base64::Engine as _;
    for secret in [PASSWORD.to_string(), token, base64::engine::general_purpose::STANDARD.encode(PLAINTEXT)] {
        assert!(!text.contains(&secret), "the journal holds {secret}");
    }
    let entries = lines(&path);
    for e in &entries[1..] {
        for (name, value) in e["request"]["headers"].as_array().unwrap().iter().map(|h| (h[0].as_str(), h[1].as_str()))
        {
            if name == Some("authorization") {
                assert!(value.unwrap().ends_with("Signature=REDACTED"), "{value:?}");
            }
        }
    }
    let initiate = entries.iter().find(|e| e["operation"] == "InitiateAuth").unwrap();
    let answer: Value = serde_json::from_str(initiate["response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["AuthenticationResult"]["AccessToken"], "REDACTED");
    assert_eq!(answer["AuthenticationResult"]["TokenType"], "Bearer");

    // Everything before the first request that lost a secret replays identically.
    let report = replay(&path, &ReplayOptions::default()).await.unwrap();
    let Outcome::NotReplayable { step, reason, .. } = &report.outcome else { panic!("{report}") };
    assert_eq!(step, "kms Encrypt");
    assert!(reason.contains("--record-secrets"), "{reason}");
    let encrypt = entries.iter().position(|e| e["operation"] == "Encrypt").unwrap();
    assert_eq!(report.matched, encrypt - 1);
}

#[tokio::test]
async fn a_journal_of_an_instance_started_from_a_fixture_replays_from_the_same_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-fixture.jsonl");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/example.yaml");
    let emu = common::builder().fixture_file(fixture).unwrap().record(&path, true).start().await.unwrap();
    let cfg = common::sdk_config(emu.url());
    let db = aws_sdk_dynamodb::Client::new(&cfg);
    let notes = db.scan().table_name("notes").send().await.unwrap();
    assert_eq!(notes.count(), 2);
    db.put_item()
        .table_name("notes")
        .item("pk", AttributeValue::S("user#bob".into()))
        .item("sk", AttributeValue::S("note#1".into()))
        .send()
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&cfg);
    kms.create_key().send().await.unwrap();
    emu.shutdown().await;

    assert!(lines(&path)[0]["fixture"].as_str().unwrap().ends_with("fixtures/example.yaml"));
    let report = replay(&path, &ReplayOptions::default()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Identical, "{report}");
    assert_eq!(report.matched, 3);
}

/// Requests to an API stage are journaled for reading (`observed`), with their bodies and
/// answers, and a replay does not send them again: the functions do not run there, and what
/// they asked of the services is journaled in its own right.
#[tokio::test]
async fn api_stage_requests_are_journaled_as_observed_and_replays_skip_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stage.jsonl");
    let emu =
        common::builder().clock("2026-01-01T00:00:00Z".parse().unwrap()).record(&path, false).start().await.unwrap();
    let url = emu.url();
    crate::lambda::register(url, "api-fn", json!({})).await;
    let spec =
        json!({ "name": "journaled", "protocol": "HTTP", "routes": [{ "key": "POST /open", "function": "api-fn" }] });
    let (_, base) = crate::apigw::api(url, spec).await;
    let r = common::http().post(format!("{base}/open?n=1")).body(r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    // Over API Gateway's payload limit: still refused as before, with or without a journal.
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let r = common::http().post(format!("{base}/open")).body(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    emu.shutdown().await;

    let journal = lines(&path);
    let stage: Vec<&Value> = journal[1..].iter().filter(|e| e["service"] == "execute-api").collect();
    assert_eq!(stage.len(), 1, "one journaled stage request (the refused one never reached the stage): {journal:?}");
    let e = stage[0];
    assert_eq!(e["observed"], true);
    assert_eq!(e["operation"], "POST /open");
    assert_eq!((e["request"]["method"].as_str(), e["request"]["body"].as_str()), (Some("POST"), Some(r#"{"a":1}"#)));
    assert!(e["request"]["path"].as_str().unwrap().ends_with("/open?n=1"), "{e}");
    assert_eq!(e["status"], 200);
    let body: Value = serde_json::from_str(e["response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, answer, "the journal holds the answer the client got");

    let report = replay(&path, &ReplayOptions { port: Some(0), ..Default::default() }).await.unwrap();
    assert_eq!(report.outcome, Outcome::Identical, "{report}");
}

/// A WebSocket session is journaled for reading: the upgrade (`$connect`, with the connection
/// it opened), each client frame with the route it selected and what came back on the socket,
/// and the disconnection; the function's `@connections` calls are journaled as calls. A replay
/// sends none of them again: no socket is open there.
#[tokio::test]
async fn websocket_upgrades_frames_and_disconnections_are_journaled_as_observed() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.jsonl");
    let emu =
        common::builder().clock("2026-01-01T00:00:00Z".parse().unwrap()).record(&path, false).start().await.unwrap();
    let url = emu.url();
    let (_, ws_url) = crate::apigw::websocket_api(url).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    ws.send(Message::text("who")).await.unwrap();
    let id = crate::apigw::next_text(&mut ws).await;
    ws.send(Message::text(r#"{"action":"echo","n":1}"#)).await.unwrap();
    let echoed = crate::apigw::next_text(&mut ws).await;
    ws.close(None).await.unwrap();
    assert!(crate::apigw::log_line(url, &format!("DISCONNECT {id}")).await.is_some(), "$disconnect ran");
    emu.shutdown().await;

    let journal = lines(&path);
    let on_socket: Vec<&Value> = journal[1..].iter().filter(|e| e["connectionId"] == id.as_str()).collect();
    let shown: Vec<(&str, &str, u64)> = on_socket
        .iter()
        .map(|e| {
            (e["request"]["method"].as_str().unwrap(), e["operation"].as_str().unwrap(), e["status"].as_u64().unwrap())
        })
        .collect();
    // Entries are written as their exchanges end: the upgrade first, a frame once its route
    // has answered (the echo's function may still run when the socket closes).
    assert_eq!(shown[0], ("GET", "$connect", 101));
    let mut rest = shown[1..].to_vec();
    rest.sort();
    assert_eq!(rest, [("WS", "$default", 200), ("WS", "$disconnect", 200), ("WS", "echo", 200)], "{on_socket:?}");
    assert!(on_socket.iter().all(|e| e["observed"] == true && e["service"] == "execute-api"));
    let by = |op: &str| *on_socket.iter().find(|e| e["operation"] == op).unwrap();
    assert!(by("$connect")["request"]["path"].as_str().unwrap().ends_with("/prod?token=good"));
    assert_eq!(by("$default")["request"]["body"], "who");
    assert_eq!(by("$default")["response"]["body"], id.as_str(), "the route's answer on the socket");
    assert_eq!(by("echo")["request"]["body"], r#"{"action":"echo","n":1}"#);
    let ended: Value = serde_json::from_str(by("$disconnect")["response"]["body"].as_str().unwrap()).unwrap();
    assert!(matches!(ended["disconnectStatusCode"].as_u64(), Some(1000 | 1005)), "{ended}");
    // The echo went out through @connections: a call of its own, with the frame it pushed.
    let pushed = journal[1..]
        .iter()
        .find(|e| e["operation"] == "PostToConnection")
        .expect("the function's @connections call is journaled");
    assert_eq!(pushed["request"]["body"], echoed.as_str());
    assert!(pushed.get("observed").is_none());

    let report = replay(&path, &ReplayOptions { port: Some(0), ..Default::default() }).await.unwrap();
    assert_eq!(report.outcome, Outcome::Identical, "{report}");
}
