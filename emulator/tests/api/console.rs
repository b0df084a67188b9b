//! The console (`/_emulator/ui` and its JSON views under `/_emulator/console/`): state created
//! through the official SDKs shows up in the views, paging follows the services' own cursors,
//! ciphertext is never rendered as text, the request log sees what applications called, and
//! bad input is a JSON error.

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::{Value, json};

use crate::cognito::{client, pool, signed_up};
use crate::common;

async fn get(url: &str, path: &str) -> (u16, Value) {
    let resp = common::http().get(format!("{url}/_emulator{path}")).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn view(url: &str, path: &str) -> Value {
    let (status, body) = get(url, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn ddb(url: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&common::sdk_config(url))
}

#[tokio::test]
async fn users_and_mailbox_show_a_signed_up_user() {
    let emu = common::start().await;
    let url = emu.url();
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&common::sdk_config(url));
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(url, &idp, &client_id, "alice", "alice@example.com").await;

    let pools = view(url, "/console/pools").await;
    let p = &pools["pools"][0];
    assert_eq!((p["id"].as_str(), p["name"].as_str()), (Some(pool_id.as_str()), Some("chat")));
    let alice = &p["users"][0];
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["status"], "CONFIRMED");
    assert_eq!(alice["enabled"], true);
    assert_eq!(alice["attributes"]["email"], "alice@example.com");
    assert_eq!(alice["attributes"]["email_verified"], "true");
    assert!(alice["sub"].as_str().is_some_and(|s| s.len() == 36), "{alice}");
    assert_eq!(alice["sub"], alice["attributes"]["sub"]);
    assert!(alice["created"].as_str().is_some_and(|t| t.ends_with('Z')));
    let text = pools.to_string();
    assert!(!text.contains(crate::cognito::PASSWORD) && !text.contains("argon2"), "no secrets: {text}");

    let one = view(url, &format!("/console/pools/{pool_id}/users?limit=1")).await;
    assert_eq!(one["users"][0]["username"], "alice");
    assert!(one["cursor"].is_null());

    // The confirmation code mail, newest first.
    let mail = view(url, "/console/mailbox").await;
    let m = &mail["messages"][0];
    assert_eq!(m["destination"], "alice@example.com");
    assert!(m["body"].as_str().unwrap().chars().filter(char::is_ascii_digit).count() >= 6, "{m}");
    assert!(m["sentAt"].is_string() && m["subject"].is_string());
}

#[tokio::test]
async fn table_items_page_with_scan_cursors_and_binary_is_summarised() {
    let emu = common::start().await;
    let url = emu.url();
    let db = ddb(url);
    common::pk_table(&db, "things").await;
    for i in 0..7 {
        db.put_item()
            .table_name("things")
            .item("pk", AttributeValue::S(format!("item-{i}")))
            .item("n", AttributeValue::N(i.to_string()))
            .item("sealed", AttributeValue::B(DdbBlob::new(vec![0xde, 0xad, 0xbe, 0xef, i as u8])))
            .send()
            .await
            .unwrap();
    }

    let tables = view(url, "/console/tables").await;
    let t = &tables["tables"][0];
    assert_eq!((t["name"].as_str(), t["itemCount"].as_i64()), (Some("things"), Some(7)));
    assert_eq!(t["partitionKey"], "pk");
    assert!(t["sortKey"].is_null());
    assert_eq!(t["stream"]["enabled"], false);
    assert_eq!(t["ttl"]["status"], "DISABLED");

    // Three pages of 3, 3 and 1: every item exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/console/tables/things/items?limit=3&cursor={c}"),
            None => "/console/tables/things/items?limit=3".to_string(),
        };
        let page = view(url, &q).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        for item in items {
            let i: usize = item["pk"].as_str().unwrap().trim_start_matches("item-").parse().unwrap();
            assert_eq!(item["n"], json!(i), "numbers stay numbers");
            assert_eq!(item["sealed"], format!("<binary 5 bytes: deadbeef{i:02x}>"));
            seen.push(i);
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging never ends");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 7, "no duplicates across pages: {seen:?}");
    assert_eq!(sorted, (0..7).collect::<Vec<_>>());
    assert!(pages >= 3);

    let (status, body) = get(url, "/console/tables/things/items?cursor=not-a-cursor!").await;
    assert_eq!((status, body["message"].is_string()), (400, true), "{body}");
    let (status, body) = get(url, "/console/tables/things/items?limit=0").await;
    assert_eq!((status, body["message"].is_string()), (400, true), "{body}");
    let (status, body) = get(url, "/console/tables/nope/items").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("nope") || body["message"].as_str().unwrap().contains("not found")
    );
}

#[tokio::test]
async fn objects_show_metadata_and_ciphertext_never_the_body_and_keys_show_policies() {
    let emu = common::start().await;
    let url = emu.url();
    let kms = common::kms(url);
    let key = kms.create_key().description("files at rest").send().await.unwrap().key_metadata.unwrap();
    let key_id = key.key_id().to_string();
    kms.create_alias().alias_name("alias/files").target_key_id(&key_id).send().await.unwrap();
    let s3 = common::s3(url);
    s3.create_bucket().bucket("files").send().await.unwrap();
    let plaintext = "top secret plaintext that must never show up in the console";
    s3.put_object()
        .bucket("files")
        .key("notes/secret.txt")
        .content_type("text/plain")
        .metadata("owner", "alice")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/files")
        .body(ByteStream::from_static(plaintext.as_bytes()))
        .send()
        .await
        .unwrap();

    let resp = common::http().get(format!("{url}/_emulator/console/buckets")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("top secret"), "the body is never rendered as text: {text}");
    assert!(!text.contains(&hex::encode(&plaintext.as_bytes()[..16])), "nor as hex");
    let buckets: Value = serde_json::from_str(&text).unwrap();
    let b = &buckets["buckets"][0];
    assert_eq!((b["name"].as_str(), b["objectCount"].as_i64()), (Some("files"), Some(1)));
    let o = &b["objects"][0];
    assert_eq!(o["key"], "notes/secret.txt");
    assert_eq!(o["size"], plaintext.len());
    assert_eq!(o["contentType"], "text/plain");
    assert_eq!(o["metadata"], json!({ "owner": "alice" }));
    assert_eq!(o["sse"], "aws:kms");
    assert!(o["kmsKeyId"].as_str().unwrap().ends_with(&key_id), "{o}");
    assert!(o["etag"].as_str().unwrap().starts_with('"'));
    let stored = &o["stored"];
    assert_eq!(stored["kind"], "ciphertext");
    assert!(stored["bytes"].as_u64().unwrap() > plaintext.len() as u64, "ciphertext carries nonce and tag: {stored}");
    assert_eq!(stored["hexPrefix"].as_str().unwrap().len(), 64, "first 32 bytes in hex");
    assert_eq!(stored["truncated"], true);

    let page = view(url, "/console/buckets/files/objects?limit=1").await;
    assert_eq!(page["objects"][0]["key"], "notes/secret.txt");
    assert!(page["cursor"].is_null());
    let (status, body) = get(url, "/console/buckets/no-such-bucket/objects").await;
    assert_eq!((status, body["message"].is_string()), (404, true), "{body}");

    let keys = view(url, "/console/keys").await;
    let k = keys["keys"].as_array().unwrap().iter().find(|k| k["keyId"] == key_id.as_str()).expect("the key");
    assert_eq!(k["aliases"], json!(["alias/files"]));
    assert_eq!(k["state"], "Enabled");
    assert_eq!(k["description"], "files at rest");
    assert_eq!((k["keySpec"].as_str(), k["keyUsage"].as_str()), (Some("SYMMETRIC_DEFAULT"), Some("ENCRYPT_DECRYPT")));
    assert!(k["arn"].as_str().unwrap().ends_with(&format!("key/{key_id}")));
    let statements = k["policy"]["Statement"].as_array().expect("the key policy as JSON");
    assert!(statements.iter().any(|s| s["Action"] == "kms:*"), "{}", k["policy"]);
    assert!(k.get("material").is_none() && !keys.to_string().contains("aterial"));
}

#[tokio::test]
async fn topics_show_subscriptions_with_confirmation_state_and_filter_policy() {
    let emu = common::start().await;
    let url = emu.url();
    let sns = common::sns(url);
    let topic = sns.create_topic().name("events").send().await.unwrap().topic_arn.unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("bob@example.com")
        .attributes("FilterPolicy", r#"{"kind":["alert"]}"#)
        .send()
        .await
        .unwrap();

    let topics = view(url, "/console/topics").await;
    let t = &topics["topics"][0];
    assert_eq!((t["name"].as_str(), t["arn"].as_str()), (Some("events"), Some(topic.as_str())));
    let s = &t["subscriptions"][0];
    assert_eq!((s["protocol"].as_str(), s["endpoint"].as_str()), (Some("email"), Some("bob@example.com")));
    assert_eq!(s["confirmed"], false, "e-mail subscriptions wait for the mailed link");
    assert_eq!(s["filterPolicy"], json!({ "kind": ["alert"] }));
    assert!(!topics.to_string().contains("\"token\""), "confirmation tokens stay private");
}

#[tokio::test]
async fn the_page_is_served_with_its_script_and_style() {
    let emu = common::start().await;
    let url = emu.url();
    let resp = common::http().get(format!("{url}/_emulator/ui")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("<title>Emulator console</title>"));
    for v in ["users", "tables", "objects", "keys", "topics", "mailbox", "connections", "functions", "requests"] {
        assert!(html.contains(&format!("href=\"#/{v}\"")), "nav links to {v}");
    }
    for (path, kind) in [("/_emulator/ui/ui.js", "text/javascript"), ("/_emulator/ui/ui.css", "text/css")] {
        assert!(html.contains(path), "the page loads {path}");
        let resp = common::http().get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(kind), "{path}");
    }
    let js = common::http().get(format!("{url}/_emulator/ui/ui.js")).send().await.unwrap().text().await.unwrap();
    assert!(js.contains("data-testid") && js.contains("view-${name}"));
    assert!(!js.contains("innerHTML"), "text goes in as text");
}

#[tokio::test]
async fn request_log_has_sdk_calls_with_status_and_latency_but_not_its_own_routes() {
    let emu = common::start().await;
    let url = emu.url();
    let db = ddb(url);
    db.list_tables().send().await.unwrap();
    let s3 = common::s3(url);
    s3.create_bucket().bucket("logged").send().await.unwrap();
    let missing = s3.get_object().bucket("missing-bucket").key("k").send().await.unwrap_err();
    assert_eq!(common::status(&missing), Some(404));
    let kms = common::kms(url);
    kms.describe_key().key_id("alias/nothing-here").send().await.unwrap_err();
    for _ in 0..3 {
        common::http().get(format!("{url}/_emulator/health")).send().await.unwrap();
    }
    // The API Gateway data plane is logged too.
    let r = common::http().get(format!("{url}/_aws/execute-api/noapi/x")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // A presigned URL's signature never reaches the log.
    let presigned = s3
        .get_object()
        .bucket("logged")
        .key("nothing")
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let signature = presigned.uri().split("X-Amz-Signature=").nth(1).unwrap().split('&').next().unwrap().to_string();
    common::http().get(presigned.uri()).send().await.unwrap();

    let log = view(url, "/console/requests").await;
    let entries = log["requests"].as_array().unwrap();
    let find = |service: &str, op: &str| {
        entries
            .iter()
            .find(|e| e["service"] == service && e["operation"] == op)
            .unwrap_or_else(|| panic!("no {service} {op} in {log:#}"))
    };
    let list = find("dynamodb", "ListTables");
    assert_eq!(
        (list["method"].as_str(), list["path"].as_str(), list["status"].as_u64()),
        (Some("POST"), Some("/"), Some(200))
    );
    assert!(list["latencyMs"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(list["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(list["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(find("s3", "CreateBucket")["status"], 200);
    let get = entries
        .iter()
        .find(|e| e["operation"] == "GetObject" && e["path"].as_str().unwrap().starts_with("/missing-bucket/"))
        .expect("the failed GetObject");
    assert_eq!((get["status"].as_u64(), get["error"].as_str()), (Some(404), Some("NoSuchBucket")));
    let describe = find("kms", "DescribeKey");
    assert_eq!((describe["status"].as_u64(), describe["error"].as_str()), (Some(400), Some("NotFoundException")));
    let stage = entries.iter().find(|e| e["service"] == "execute-api").expect("the data plane request");
    assert_eq!((stage["path"].as_str(), stage["status"].as_u64()), (Some("/_aws/execute-api/noapi/x"), Some(404)));
    assert!(
        entries.iter().all(|e| !e["path"].as_str().unwrap().starts_with("/_emulator")),
        "own routes are not logged"
    );
    let signed = entries.iter().find(|e| e["path"].as_str().unwrap().contains("X-Amz-Signature")).expect("presigned");
    assert!(signed["path"].as_str().unwrap().contains("X-Amz-Signature=***"), "{signed}");
    assert!(!log.to_string().contains(&signature));
    // Newest first, and `since` returns only what came after.
    let newest = entries[0]["seq"].as_u64().unwrap();
    assert!(entries.windows(2).all(|w| w[0]["seq"].as_u64() > w[1]["seq"].as_u64()));
    db.list_tables().send().await.unwrap();
    let after = view(url, &format!("/console/requests?since={newest}")).await;
    let after = after["requests"].as_array().unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["operation"], "ListTables");

    // Bounded: the oldest entries go.
    let http = common::http();
    for i in 0..510 {
        http.head(format!("{url}/bucket-{i}")).send().await.unwrap();
    }
    let log = view(url, "/console/requests").await;
    let entries = log["requests"].as_array().unwrap();
    assert_eq!((log["capacity"].as_u64(), entries.len()), (Some(500), 500));
    assert_eq!(entries[0]["path"], "/bucket-509");
    assert_eq!(entries[499]["path"], "/bucket-10");
}

#[tokio::test]
async fn functions_view_shows_invocations_with_outcome_trigger_and_logs() {
    let emu = common::start().await;
    let url = emu.url();
    crate::lambda::register(url, "echo", json!({})).await;
    let lam = aws_sdk_lambda::Client::new(&common::sdk_config(url));
    let payload = |v: Value| aws_sdk_lambda::primitives::Blob::new(v.to_string());
    let ok = lam.invoke().function_name("echo").payload(payload(json!({ "action": "echo" }))).send().await.unwrap();
    assert!(ok.function_error.is_none());
    let failed = lam
        .invoke()
        .function_name("echo")
        .payload(payload(json!({ "action": "fail", "why": "x" })))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let error: Value = serde_json::from_slice(failed.payload.as_ref().unwrap().as_ref()).unwrap();
    // Through an HTTP API, too.
    let resp = common::http()
        .post(format!("{url}/_emulator/apigw/apis"))
        .json(&json!({ "name": "web", "protocol": "HTTP", "routes": [{ "key": "POST /open", "function": "echo" }] }))
        .send()
        .await
        .unwrap();
    let base = resp.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_string();
    let r = common::http().post(format!("{base}/open")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 200);

    let functions = view(url, "/console/functions").await;
    let f = functions["functions"].as_array().unwrap().iter().find(|f| f["name"] == "echo").expect("echo");
    assert_eq!((f["runtime"].as_str(), f["handler"].as_str()), (Some("provided.al2023"), Some("bootstrap")));
    assert_eq!((f["memoryMb"].as_u64(), f["timeoutSecs"].as_u64()), (Some(128), Some(3)));
    assert!(f["instances"]["instances"].as_u64().unwrap() >= 1, "a warm instance: {}", f["instances"]);
    assert_eq!(f["instances"]["busy"], 0);
    let inv = f["invocations"].as_array().unwrap();
    assert_eq!(inv.len(), 3, "{inv:?}");
    // Newest first.
    assert_eq!((inv[0]["outcome"].as_str(), inv[0]["trigger"].as_str()), (Some("ok"), Some("HTTP API POST /open")));
    assert_eq!(inv[1]["outcome"], "error");
    assert_eq!(inv[1]["errorType"], error["errorType"], "the type the caller got");
    assert!(inv[1]["errorType"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(inv[1]["errorMessage"].as_str().unwrap().contains("asked to fail"));
    assert_eq!((inv[2]["outcome"].as_str(), inv[2]["trigger"].as_str()), (Some("ok"), Some("direct")));
    for i in inv {
        assert!(i["durationMs"].as_f64().unwrap() > 0.0);
        assert_eq!(i["requestId"].as_str().unwrap().len(), 36);
    }
    let logs = f["logs"].as_array().unwrap();
    let started = logs.iter().filter(|l| l["message"].as_str().unwrap().starts_with("START RequestId: ")).count();
    assert_eq!(started, 3);
    assert!(logs.iter().any(|l| l["requestId"] == inv[1]["requestId"]), "log lines name their invocation");

    // The request log names the route the stage matched.
    let log = view(url, "/console/requests").await;
    let stage = log["requests"].as_array().unwrap().iter().find(|e| e["service"] == "execute-api").unwrap().clone();
    assert_eq!((stage["operation"].as_str(), stage["status"].as_u64()), (Some("POST /open"), Some(200)));
    assert!(stage["requestId"].is_string());
}

#[tokio::test]
async fn unknown_names_and_bad_parameters_are_json_errors() {
    let emu = common::start().await;
    let url = emu.url();
    for (path, status) in [
        ("/console/pools/us-east-1_nope/users", 404),
        ("/console/tables/nope/items", 404),
        ("/console/buckets/nope/objects", 404),
        ("/console/pools/us-east-1_nope/users?limit=61", 400),
        ("/console/buckets/nope/objects?cursor=%25%25", 400),
    ] {
        let (got, body) = get(url, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
    }
    // Empty instances list nothing rather than fail.
    for (path, member) in [
        ("/console/pools", "pools"),
        ("/console/tables", "tables"),
        ("/console/buckets", "buckets"),
        ("/console/keys", "keys"),
        ("/console/topics", "topics"),
        ("/console/mailbox", "messages"),
        ("/console/connections", "connections"),
        ("/console/functions", "functions"),
    ] {
        assert_eq!(view(url, path).await[member], json!([]), "{path}");
    }
}

#[tokio::test]
async fn connections_view_lists_live_sockets_with_their_authorizer_context() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let emu = common::start().await;
    let url = emu.url();
    crate::lambda::register(url, "ws-fn", json!({})).await;
    let resp = common::http()
        .post(format!("{url}/_emulator/apigw/apis"))
        .json(&json!({
            "name": "chat-ws",
            "protocol": "WEBSOCKET",
            "stage": "prod",
            "authorizers": { "token": { "type": "REQUEST", "function": "ws-fn", "identitySource": ["route.request.querystring.token"] } },
            "routes": [
                { "key": "$connect", "function": "ws-fn", "authorizer": "token" },
                { "key": "$default", "function": "ws-fn", "routeResponse": true },
            ],
        }))
        .send()
        .await
        .unwrap();
    let api = resp.json::<Value>().await.unwrap();
    let (api_id, ws_url) = (api["id"].as_str().unwrap().to_string(), api["url"].as_str().unwrap().to_string());
    assert!(view(url, "/console/connections").await["connections"].as_array().unwrap().is_empty());

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    ws.send(Message::Text("hello".into())).await.unwrap();
    // The $default route answers with the connection id.
    let id = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) => break t.to_string(),
            _ => continue,
        }
    };

    let live = view(url, "/console/connections").await;
    let c = &live["connections"][0];
    assert_eq!(c["connectionId"], id.as_str());
    assert_eq!((c["apiId"].as_str(), c["stage"].as_str()), (Some(api_id.as_str()), Some("prod")));
    assert_eq!(c["sourceIp"], "127.0.0.1");
    assert_eq!(c["authorizer"]["user"], "alice", "the $connect authorizer's context: {c}");
    assert!(c["connectedAt"].is_string() && c["lastActiveAt"].is_string());

    // The upgrade and the message are in the request log; the token is not.
    let log = view(url, "/console/requests").await;
    let entries = log["requests"].as_array().unwrap();
    let upgrade = entries.iter().find(|e| e["operation"] == "$connect").expect("the upgrade");
    assert_eq!(upgrade["status"], 101);
    assert!(upgrade["path"].as_str().unwrap().ends_with("/prod?token=***"), "{upgrade}");
    let message = entries.iter().find(|e| e["method"] == "WS").expect("the message");
    assert_eq!((message["operation"].as_str(), message["status"].as_u64()), (Some("$default"), Some(200)));

    ws.close(None).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !view(url, "/console/connections").await["connections"].as_array().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "a closed connection leaves the view");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
