//! Shared helpers: start an emulator, build SDK clients pointed at it, call the admin API.

#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::Builder as HttpClientBuilder;
use emulator::{Emulator, EmulatorBuilder, EmulatorHandle};

/// Creates an on-demand table `name` keyed by a string attribute `pk`.
pub async fn pk_table(db: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    db.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// A fresh in-memory emulator on an ephemeral port.
pub async fn start() -> EmulatorHandle {
    builder().start().await.expect("emulator starts")
}

/// The builder tests customise: in memory, port 0, fixed seed.
pub fn builder() -> EmulatorBuilder {
    Emulator::builder().in_memory().port(0).seed(42)
}

/// SDK configuration for `url` with the default `test`/`test` credentials.
pub fn sdk_config(url: &str) -> SdkConfig {
    sdk_config_as(url, "test", "test")
}

/// SDK configuration signing with the given access key / secret.
pub fn sdk_config_as(url: &str, access_key: &str, secret: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
            access_key, secret, None, None, "test",
        )))
        .http_client(HttpClientBuilder::new().build_http())
        .build()
}

pub fn s3(url: &str) -> aws_sdk_s3::Client {
    s3_with(&sdk_config(url))
}

pub fn s3_with(cfg: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(cfg).force_path_style(true).build())
}

pub fn kms(url: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&sdk_config(url))
}

pub fn sns(url: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&sdk_config(url))
}

/// Plain HTTP client for admin calls and hand-made requests.
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// `GET /_emulator/mailbox?address=…` → the messages, newest first.
pub async fn mailbox(url: &str, address: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = http()
        .get(format!("{url}/_emulator/mailbox"))
        .query(&[("address", address)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["messages"].as_array().cloned().unwrap_or_default()
}

/// Advances the emulator clock by a humantime duration such as `"2h"`.
pub async fn advance_clock(url: &str, by: &str) {
    let status = http().post(format!("{url}/_emulator/clock")).query(&[("advance", by)]).send().await.unwrap().status();
    assert!(status.is_success(), "advance clock: {status}");
}

/// Error code of an SDK error (`NoSuchKey`, `NotFoundException`, …).
pub fn code<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

/// Error message of an SDK error.
pub fn message<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> String {
    e.message().unwrap_or("<none>").to_string()
}

/// HTTP status of an SDK error, when a response came back.
pub fn status<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Replaces request ids and host ids in an error body with fixed placeholders.
pub fn redact_ids(body: &str) -> String {
    let mut out = body.to_string();
    for (open, close) in [("<RequestId>", "</RequestId>"), ("<HostId>", "</HostId>")] {
        let mut from = 0;
        while let Some(s) = out[from..].find(open).map(|i| i + from + open.len()) {
            let Some(e) = out[s..].find(close).map(|i| i + s) else { break };
            out.replace_range(s..e, "REDACTED");
            from = s + "REDACTED".len();
        }
    }
    out
}
