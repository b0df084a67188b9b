//! DynamoDB latency through the Rust SDK over loopback, for endpoints run side by side.
//!
//! ```text
//! cargo run --release -p emulator --example dynamodb_latency -- \
//!     emulator=http://127.0.0.1:4566 moto=http://127.0.0.1:5000 [--runs 200]
//! ```
//!
//! For each endpoint: a fresh table (`pk` S + `sk` S), then PutItem of a small chat-message-sized
//! item, and Query of one partition holding 100 such items (one page). Endpoints are measured
//! in alternation, one call at a time, so both see the same machine load. Prints medians and
//! 90th percentiles in milliseconds and each endpoint's median relative to the first one.

use std::time::Instant;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

fn client(url: &str) -> Client {
    let cfg = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "bench")))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::new(&cfg)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

async fn setup(db: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let def = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
    let key = |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
    db.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def("pk").expect("complete"))
        .attribute_definitions(def("sk").expect("complete"))
        .key_schema(key("pk", KeyType::Hash).expect("complete"))
        .key_schema(key("sk", KeyType::Range).expect("complete"))
        .send()
        .await?;
    for i in 0..100 {
        put(db, table, "ROOM#bench", &format!("MSG#{i:04}")).await?;
    }
    Ok(())
}

async fn put(db: &Client, table: &str, pk: &str, sk: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    db.put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("sk", s(sk))
        .item("sender", s("alice"))
        .item("wrappedKey", AttributeValue::B(vec![7u8; 184].into()))
        .item("s3Key", s("messages/ROOM-bench/0001"))
        .item("sentAt", AttributeValue::N("1764000000123".into()))
        .send()
        .await?;
    Ok(())
}

async fn query(db: &Client, table: &str) -> Result<usize, aws_sdk_dynamodb::Error> {
    let out = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("ROOM#bench"))
        .send()
        .await?;
    Ok(out.items().len())
}

fn stats(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 200;
    let mut targets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().ok_or("--runs needs a number")?.parse()?;
        } else {
            let (label, url) = a.split_once('=').ok_or("targets are label=url")?;
            targets.push((label.to_string(), client(url)));
        }
    }
    if targets.is_empty() {
        return Err("usage: dynamodb_latency label=url [label=url ...] [--runs N]".into());
    }
    let table = format!("bench-{}", std::process::id());
    for (_, db) in &targets {
        setup(db, &table).await?;
        query(db, &table).await?;
    }
    let mut puts = vec![Vec::with_capacity(runs); targets.len()];
    let mut queries = vec![Vec::with_capacity(runs); targets.len()];
    for i in 0..runs {
        for (t, (_, db)) in targets.iter().enumerate() {
            let started = Instant::now();
            put(db, &table, "ROOM#writes", &format!("MSG#{i:06}")).await?;
            puts[t].push(started.elapsed().as_secs_f64() * 1000.0);
            let started = Instant::now();
            let n = query(db, &table).await?;
            queries[t].push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(n, 100, "the benchmark partition holds 100 items");
        }
    }
    println!("{runs} runs each; milliseconds (median / p90); ratio = median relative to {}", targets[0].0);
    println!("{:<12} {:>18} {:>8} {:>22} {:>8}", "endpoint", "PutItem", "ratio", "Query (100 items)", "ratio");
    let base_put = stats(&mut puts[0]).0;
    let base_query = stats(&mut queries[0]).0;
    for (t, (label, _)) in targets.iter().enumerate() {
        let (pm, p9) = stats(&mut puts[t]);
        let (qm, q9) = stats(&mut queries[t]);
        println!(
            "{label:<12} {:>18} {:>8.2} {:>22} {:>8.2}",
            format!("{pm:.2} / {p9:.2}"),
            pm / base_put,
            format!("{qm:.2} / {q9:.2}"),
            qm / base_query
        );
    }
    Ok(())
}
