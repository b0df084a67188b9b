//! WebSocket push latency: PostToConnection through the official `apigatewaymanagement` client
//! until a connected WebSocket client has the bytes, against a running emulator.
//!
//! ```text
//! cargo run --release -p emulator --example websocket_rtt -- http://127.0.0.1:4566 [--runs 500]
//! ```
//!
//! Creates a WebSocket API without integrations (every `$connect` is accepted) through the admin
//! API, connects one client, then times `runs` sequential posts of a 200-byte message (the size
//! of a chat notification). Prints the median, 90th and 99th percentiles in milliseconds.
//! No peer runs WebSocket APIs offline (moto has no sockets; LocalStack's are paid), so this is
//! an absolute figure, not a ratio.

use std::time::Instant;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().cloned().unwrap_or_else(|| "http://127.0.0.1:4566".into());
    let runs: usize =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(500);

    let http = reqwest::Client::new();
    let api: serde_json::Value = http
        .post(format!("{url}/_emulator/apigw/apis"))
        .json(&serde_json::json!({ "name": "rtt-bench", "protocol": "WEBSOCKET", "stage": "bench" }))
        .send()
        .await?
        .json()
        .await?;
    let (api_id, ws_url) = (api["id"].as_str().unwrap_or_default(), api["url"].as_str().unwrap_or_default());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await?;

    let cfg = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("{url}/_aws/execute-api/{api_id}/bench"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "bench")))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let mgmt = aws_sdk_apigatewaymanagement::Client::new(&cfg);

    // An unrouted message is answered with the connection's id, as API Gateway does.
    ws.send_text(r#"{"action":"who"}"#).await?;
    let id = loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            let v: serde_json::Value = serde_json::from_str(t.as_str())?;
            break v["connectionId"].as_str().unwrap_or_default().to_string();
        }
    };

    let payload = "x".repeat(200);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs + 20 {
        let started = Instant::now();
        mgmt.post_to_connection()
            .connection_id(&id)
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(payload.clone()))
            .send()
            .await?;
        loop {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                break;
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mut measured = times.split_off(20); // the first calls warm connections up
    measured.sort_by(f64::total_cmp);
    println!(
        "PostToConnection → client received, {runs} runs: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms",
        percentile(&measured, 0.5),
        percentile(&measured, 0.9),
        percentile(&measured, 0.99)
    );
    Ok(())
}

trait SendText {
    async fn send_text(&mut self, text: &str) -> Result<(), tokio_tungstenite::tungstenite::Error>;
}

impl<S> SendText for S
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    async fn send_text(&mut self, text: &str) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        futures_util::SinkExt::send(self, Message::text(text)).await
    }
}
