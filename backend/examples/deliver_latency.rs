//! Send → deliver latency of the whole chat, end to end, under the emulator.
//!
//! ```text
//! cargo build --release -p backend --bins
//! cargo run --release -p backend --example deliver_latency -- [--runs 200] [--functions-dir target/release]
//! ```
//!
//! Brings the chat up in process (`backend/template.yaml`, the release function binaries), signs
//! two users up (codes from the mailbox) and in (SRP), connects Bob's WebSocket, then Alice sends
//! `runs` messages one after another through the HTTP API. Each sample is the time from just
//! before Alice's POST to Bob's socket receiving the push for that message: API Gateway, the JWT
//! authorizer, the API function (KMS data keys for both readers, two S3 objects, the DynamoDB
//! transaction), the table's stream, the stream processor and `@connections`. Prints the median
//! and the 90th and 99th percentiles.

use std::time::{Duration, Instant};

use emulator::template::provision::FunctionBinaries;
use emulator::up::UpOptions;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "Correct-Horse-9";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let runs: usize = arg("--runs").and_then(|r| r.parse().ok()).unwrap_or(200);
    let dir =
        arg("--functions-dir").unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release").into());

    let mut options = UpOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"));
    options.stack_name = Some("bench".into());
    options.functions = FunctionBinaries::Dir(dir.into());
    let up = emulator::up::up(emulator::Emulator::builder().in_memory().port(0), &options).await?;
    let url = up.handle.url().to_string();
    let emu = up.handle.state();
    let api = |name: &str| {
        let id = up.stack.physical_id(name).unwrap_or_default();
        let spec = up.stack.apis.iter().find(|a| a.id == id).expect("api");
        emulator::services::apigw::spec::invoke_url(emu, spec)
    };
    let (http_api, ws_url) = (api("ChatHttpApi"), api("ChatWebSocket"));
    let pool = up.stack.physical_id("UserPool").unwrap_or_default().to_string();
    let client = up.stack.physical_id("UserPoolClient").unwrap_or_default().to_string();

    let idp = aws_sdk_cognitoidentityprovider::Client::new(&testkit::sdk_config(&url));
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        testkit::sign_up(&url, &client, name, &format!("{name}@example.com"), PASSWORD).await?;
        tokens.push(testkit::srp::login(&idp, &pool, &client, name, PASSWORD).await?);
    }
    let (alice, bob) = (&tokens[0], &tokens[1]);
    let http = reqwest::Client::new();
    let me: Value =
        http.get(format!("{http_api}/me")).bearer_auth(bob.id_token().unwrap_or("")).send().await?.json().await?;
    let bob_sub = me["userId"].as_str().unwrap_or_default().to_string();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}?token={}", bob.access_token().unwrap_or(""))).await?;

    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 10 {
        let started = Instant::now();
        let sent: Value = http
            .post(format!("{http_api}/users/{bob_sub}/messages"))
            .bearer_auth(alice.id_token().unwrap_or(""))
            .json(&json!({ "text": format!("message {i}") }))
            .send()
            .await?
            .json()
            .await?;
        let id = sent["messageId"].as_str().ok_or("no message id")?.to_string();
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), ws.next()).await?;
            if let Some(Ok(Message::Text(t))) = next
                && serde_json::from_str::<Value>(t.as_str())?["messageId"] == id.as_str()
            {
                break;
            }
        }
        if i >= 10 {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "send → WebSocket delivery, {runs} messages: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99)
    );
    up.handle.shutdown().await;
    Ok(())
}
