//! API Gateway WebSocket: a client connects, learns its connection id, and the `@connections`
//! management API posts to it, describes it and deletes it; afterwards the id is Gone (410).
//!
//! The API has no routes, so any message is answered by API Gateway itself with
//! `{"message": "Forbidden", "connectionId": …, "requestId": …}`: that is how the client
//! learns its id without any function. On the emulator the API is created through its admin
//! API; on AWS, `CONFORMANCE_WS_URL` and `CONFORMANCE_WS_MANAGEMENT_URL` name a deployed one.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use conformance::{Run, Target, scenario};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// (WebSocket URL, management endpoint) of an API without routes.
async fn websocket_api(run: &Run) -> conformance::Result<(String, String)> {
    match (run.target, &run.endpoint) {
        (Target::Emulator, Some(url)) => {
            let spec = json!({ "name": run.name("ws"), "protocol": "WEBSOCKET", "stage": "prod", "routes": [] });
            let v: Value = reqwest::Client::new()
                .post(format!("{url}/_emulator/apigw/apis"))
                .json(&spec)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let id = v["id"].as_str().unwrap_or_default();
            Ok((v["url"].as_str().unwrap_or_default().to_string(), format!("{url}/_aws/execute-api/{id}/prod")))
        }
        _ => Ok((std::env::var("CONFORMANCE_WS_URL")?, std::env::var("CONFORMANCE_WS_MANAGEMENT_URL")?)),
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Socket) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Binary(b)) => return Some(String::from_utf8_lossy(&b).into_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn closed(ws: &mut Socket) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            if matches!(m, Ok(Message::Close(_)) | Err(_)) {
                return true;
            }
        }
        true
    })
    .await
    .unwrap_or(false)
}

scenario!(connections_post_get_delete_and_gone, [ApiGatewayWebSocket], |run| {
    let (ws_url, management) = websocket_api(run).await?;
    let mgmt = run.connections(&management);
    let (mut ws, resp) = tokio_tungstenite::connect_async(ws_url.as_str()).await?;
    run.note("connect", json!({ "status": resp.status().as_u16() }));
    ws.send(Message::text("who am i")).await?;
    let answer: Value = serde_json::from_str(&next_text(&mut ws).await.unwrap_or_default()).unwrap_or(Value::Null);
    run.note("message without a route", json!({ "message": answer["message"], "connectionId": answer["connectionId"], "requestId": answer["requestId"] }));
    let id = answer["connectionId"].as_str().unwrap_or_default().to_string();
    run.ok("GetConnection", mgmt.get_connection().connection_id(&id).send().await, |o| {
        json!({
            "ConnectedAt": o.connected_at().map(|t| t.secs()),
            "LastActiveAt": o.last_active_at().map(|t| t.secs()),
            "SourceIp": o.identity().and_then(|i| i.source_ip()).map(|ip| if ip.is_empty() { "" } else { "<ip>" }),
        })
    })?;
    run.ok(
        "PostToConnection",
        mgmt.post_to_connection().connection_id(&id).data(Blob::new("from the server")).send().await,
        |_| Value::Null,
    )?;
    let got = next_text(&mut ws).await;
    run.note("client receives", json!(got));
    run.err(
        "PostToConnection over 128 KB",
        mgmt.post_to_connection().connection_id(&id).data(Blob::new(vec![b'x'; 128 * 1024 + 1])).send().await,
    );
    run.ok("DeleteConnection", mgmt.delete_connection().connection_id(&id).send().await, |_| Value::Null)?;
    let was_closed = closed(&mut ws).await;
    run.note("client sees the close", json!(was_closed));
    run.err(
        "PostToConnection after delete",
        mgmt.post_to_connection().connection_id(&id).data(Blob::new("late")).send().await,
    );
    run.err("GetConnection after delete", mgmt.get_connection().connection_id(&id).send().await);
    run.err("DeleteConnection after delete", mgmt.delete_connection().connection_id(&id).send().await);
});
