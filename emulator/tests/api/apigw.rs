//! API Gateway in front of a real function process: HTTP API routes behind a JWT authorizer on
//! a Cognito pool, a REST proxy API behind a Cognito authorizer, and a WebSocket API driven by
//! a real WebSocket client and the official `apigatewaymanagement` SDK client.

use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::cognito::{PASSWORD, client, login, pool, signed_up};
use crate::common;
use crate::lambda::{function_logs, register};

/// Creates an API through the admin API; returns (id, url).
pub async fn api(url: &str, spec: Value) -> (String, String) {
    let resp = common::http().post(format!("{url}/_emulator/apigw/apis")).json(&spec).send().await.unwrap();
    assert!(resp.status().is_success(), "create api: {}", resp.text().await.unwrap());
    let v: Value = resp.json().await.unwrap();
    (v["id"].as_str().unwrap().to_string(), v["url"].as_str().unwrap().to_string())
}

async fn user_tokens(url: &str) -> (String, String, String, String) {
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&common::sdk_config(url));
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(url, &idp, &client_id, "alice", "alice@example.com").await;
    let auth = login(&idp, &client_id, "alice", PASSWORD).await;
    (pool_id, client_id, auth.id_token.unwrap(), auth.access_token.unwrap())
}

fn started(logs: &[Value]) -> usize {
    logs.iter().filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("START"))).count()
}

#[tokio::test]
async fn http_api_jwt_authorizer_refuses_before_the_function_and_passes_claims() {
    let emu = common::start().await;
    let url = emu.url();
    register(url, "api-fn", json!({})).await;
    let (pool_id, client_id, id_token, access_token) = user_tokens(url).await;
    let (_, base) = api(
        url,
        json!({
            "name": "chat-http",
            "protocol": "HTTP",
            "authorizers": {
                "cognito": { "type": "JWT", "issuer": format!("{url}/{pool_id}"), "audience": [client_id] },
                "aws-form": { "type": "JWT", "issuer": format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"), "audience": [client_id] },
                "custom": { "type": "REQUEST", "function": "api-fn", "identitySource": ["$request.querystring.token"] },
            },
            "cors": { "allowOrigins": ["http://app.local"], "allowMethods": ["GET", "POST"], "allowHeaders": ["authorization"], "maxAge": 300 },
            "routes": [
                { "key": "GET /users/{id}", "function": "api-fn", "authorizer": "cognito" },
                { "key": "GET /admin", "function": "api-fn", "authorizer": "cognito", "scopes": ["chat/admin"] },
                { "key": "POST /open", "function": "api-fn" },
                { "key": "GET /custom", "function": "api-fn", "authorizer": "custom" },
                { "key": "GET /aws-issuer", "function": "api-fn", "authorizer": "aws-form" },
            ],
        }),
    )
    .await;
    let http = common::http();

    // Refusals come from API Gateway itself: the function never starts.
    let r = http.get(format!("{base}/users/42")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Unauthorized" }));
    for bad in ["garbage", &format!("{}x", &id_token[..id_token.len() - 1]), &id_token.replace('.', ".e30.")] {
        let r = http.get(format!("{base}/users/42")).bearer_auth(bad).send().await.unwrap();
        assert_eq!(r.status(), 401, "token {bad:.20}…");
    }
    assert_eq!(started(&function_logs(url, "api-fn").await), 0, "no invocation for refused requests");

    // A good ID token: claims reach the function as strings.
    let r = http.get(format!("{base}/users/42?x=1&x=2")).bearer_auth(&id_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-route"], "GET /users/{id}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["path"], json!({ "id": "42" }));
    assert_eq!(body["rawQuery"], "x=1&x=2");
    assert_eq!(body["claims"]["cognito:username"], "alice");
    assert_eq!(body["claims"]["email"], "alice@example.com");
    assert_eq!(body["claims"]["email_verified"], "true", "claims are flattened to strings");
    assert_eq!(body["stage"], "$default");
    // An access token has no `aud`; its client_id is the audience.
    let r = http.get(format!("{base}/users/me")).header("authorization", &access_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["claims"]["token_use"], "access");

    // Scopes the token lacks: 403.
    let r = http.get(format!("{base}/admin")).bearer_auth(&access_token).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Forbidden" }));

    // Open route with a body; unknown routes; CORS.
    let r = http.post(format!("{base}/open")).body(r#"{"a":1}"#).header("content-type", "application/json");
    let body: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(body["body"], r#"{"a":1}"#);
    assert_eq!(body["routeKey"], "POST /open");
    let r = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Not Found" }));
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{base}/users/42"))
        .header("origin", "http://app.local")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "http://app.local");
    assert_eq!(pre.headers()["access-control-max-age"], "300");
    let other = http
        .request(reqwest::Method::OPTIONS, format!("{base}/users/42"))
        .header("origin", "http://evil.local")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // A template written for AWS names the pool by AWS's issuer URL: this instance is that pool.
    let r = http.get(format!("{base}/aws-issuer")).bearer_auth(&id_token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A Lambda REQUEST authorizer: its policy decides.
    assert_eq!(http.get(format!("{base}/custom")).send().await.unwrap().status(), 401);
    assert_eq!(http.get(format!("{base}/custom?token=bad")).send().await.unwrap().status(), 403);
    assert_eq!(http.get(format!("{base}/custom?token=good")).send().await.unwrap().status(), 200);

    // Expired tokens (emulator clock) are refused.
    common::advance_clock(url, "2h").await;
    let r = http.get(format!("{base}/users/42")).bearer_auth(&id_token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn rest_api_proxy_uses_payload_1_and_a_cognito_authorizer() {
    let emu = common::start().await;
    let url = emu.url();
    register(url, "rest-fn", json!({})).await;
    let (pool_id, _, id_token, _) = user_tokens(url).await;
    let (_, base) = api(
        url,
        json!({
            "name": "chat-rest",
            "protocol": "REST",
            "stage": "Prod",
            "authorizers": { "pool": { "type": "COGNITO_USER_POOLS", "providerArns": [format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool_id}")] } },
            "routes": [{ "key": "ANY /items/{proxy+}", "function": "rest-fn", "authorizer": "pool" }],
        }),
    )
    .await;
    assert!(base.ends_with("/Prod"));
    let http = common::http();
    let r = http.post(format!("{base}/items/a/b")).body("x").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Unauthorized" }));
    let r = http.post(format!("{base}/items/a/b")).header("authorization", &id_token).body("x").send().await.unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["resource"], "/items/{proxy+}");
    assert_eq!(body["path"], "/items/a/b");
    assert_eq!(body["params"], json!({ "proxy": "a/b" }));
    assert_eq!(body["claims"]["cognito:username"], "alice");
    assert_eq!(body["body"], "x");
    // REST's famous answer for a path with no resource, and for a wrong stage.
    let r = http.get(format!("{base}/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "message": "Missing Authentication Token" }));
    let r = http.get(base.replace("/Prod", "/Dev") + "/items/a").send().await.unwrap();
    assert_eq!(r.status(), 403);
}

pub async fn websocket_api(url: &str) -> (String, String) {
    register(url, "ws-fn", json!({})).await;
    api(
        url,
        json!({
            "name": "chat-ws",
            "protocol": "WEBSOCKET",
            "stage": "prod",
            "authorizers": { "token": { "type": "REQUEST", "function": "ws-fn", "identitySource": ["route.request.querystring.token"] } },
            "routes": [
                { "key": "$connect", "function": "ws-fn", "authorizer": "token" },
                { "key": "$disconnect", "function": "ws-fn" },
                { "key": "$default", "function": "ws-fn", "routeResponse": true },
                { "key": "echo", "function": "ws-fn" },
            ],
        }),
    )
    .await
}

pub fn management(url: &str, api_id: &str) -> aws_sdk_apigatewaymanagement::Client {
    let cfg = aws_sdk_apigatewaymanagement::config::Builder::from(&common::sdk_config(url))
        .endpoint_url(format!("{url}/_aws/execute-api/{api_id}/prod"))
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(cfg)
}

async fn handshake_status(ws_url: &str) -> u16 {
    match tokio_tungstenite::connect_async(ws_url).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// The next text message, within a few seconds.
pub async fn next_text<S>(ws: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a message in time");
        match msg.expect("open").expect("no error") {
            Message::Text(t) => return t.to_string(),
            Message::Binary(b) => return String::from_utf8_lossy(&b).into_owned(),
            _ => continue,
        }
    }
}

pub async fn log_line(url: &str, prefix: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = function_logs(url, "ws-fn").await;
        if let Some(l) = lines.iter().filter_map(|l| l["message"].as_str()).find(|m| m.starts_with(prefix)) {
            return Some(l.to_string());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn websocket_connect_routes_post_to_connection_and_disconnect() {
    let emu = common::start().await;
    let url = emu.url();
    let (api_id, ws_url) = websocket_api(url).await;
    assert!(ws_url.starts_with("ws://") && ws_url.ends_with("/prod"), "{ws_url}");

    // $connect: the authorizer (401 without its identity source, 403 on Deny), then the function.
    assert_eq!(handshake_status(&ws_url).await, 401);
    assert_eq!(handshake_status(&format!("{ws_url}?token=bad")).await, 403);
    assert_eq!(handshake_status(&format!("{ws_url}?token=good&deny=1")).await, 403);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    let connected = log_line(url, "CONNECT ").await.expect("$connect ran");
    let parts: Vec<&str> = connected.split(' ').collect();
    let id = parts[1].to_string();
    assert_eq!(parts[2], "alice", "the authorizer's context reaches $connect");

    // $default (non-JSON body) with a route response: the function's answer comes back.
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, id);
    // A custom route by `$request.body.action`; the function posts back through @connections.
    ws.send(Message::text(r#"{"action":"echo","n":1}"#)).await.unwrap();
    let echoed: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(echoed, json!({ "echo": r#"{"action":"echo","n":1}"# }));

    // The management API from outside, through the SDK.
    let mgmt = management(url, &api_id);
    mgmt.post_to_connection().connection_id(&id).data(Blob::new("from the server")).send().await.unwrap();
    assert_eq!(next_text(&mut ws).await, "from the server");
    let info = mgmt.get_connection().connection_id(&id).send().await.unwrap();
    assert_eq!(info.identity().and_then(|i| i.source_ip()), Some("127.0.0.1"));
    assert!(info.connected_at().is_some() && info.last_active_at().is_some());
    let e = mgmt
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "PayloadTooLargeException");
    let unsigned = common::http()
        .post(format!("{url}/_aws/execute-api/{api_id}/prod/@connections/{id}"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(unsigned.headers()["x-amzn-errortype"], "ForbiddenException");

    // Client close: $disconnect runs, the id is gone.
    ws.close(None).await.unwrap();
    let gone = log_line(url, &format!("DISCONNECT {id}")).await.expect("$disconnect ran");
    assert!(gone.ends_with(" 1005") || gone.ends_with(" 1000"), "{gone}");
    let e = mgmt.post_to_connection().connection_id(&id).data(Blob::new("late")).send().await.unwrap_err();
    assert_eq!(common::code(&e), "GoneException");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(410));
    let e = mgmt.get_connection().connection_id("nope").send().await.unwrap_err();
    assert_eq!(common::code(&e), "GoneException");

    // DeleteConnection closes the client's socket and fires $disconnect too.
    let (mut ws2, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    ws2.send(Message::text("who")).await.unwrap();
    let id2 = next_text(&mut ws2).await;
    mgmt.delete_connection().connection_id(&id2).send().await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws2.next().await {
            if matches!(m, Ok(Message::Close(_)) | Err(_)) {
                return true;
            }
        }
        true
    })
    .await
    .unwrap();
    assert!(closed);
    assert!(log_line(url, &format!("DISCONNECT {id2}")).await.is_some());
}

#[tokio::test]
async fn websocket_limits_oversized_messages_and_idle_connections() {
    let emu = common::builder().ws_idle_timeout(Duration::from_millis(500)).start().await.unwrap();
    let url = emu.url();
    let (_, ws_url) = websocket_api(url).await;

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    ws.send(Message::text("x".repeat(128 * 1024 + 1))).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(Some(f))) = m {
                return Some(u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1009), "a message over 128 KB closes the connection");

    let (mut idle, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token=good")).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = idle.next().await {
            if let Ok(Message::Close(Some(f))) = m {
                return Some(u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1001), "idle connections are closed (going away)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !function_logs(url, "ws-fn")
        .await
        .iter()
        .any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("DISCONNECT") && m.ends_with(" 1001")))
    {
        assert!(Instant::now() < deadline, "$disconnect after the idle timeout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
