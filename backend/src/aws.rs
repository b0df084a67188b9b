//! SDK configuration and environment, the same on AWS and locally.
//!
//! Clients honour `AWS_ENDPOINT_URL` (set by the emulator for every function it runs, or by a
//! developer for LocalStack) exactly as the SDKs do. Two endpoints follow from it:
//! - Cognito's token issuer is `{Cognito endpoint}/{pool id}`, the Cognito endpoint being
//!   `https://cognito-idp.{region}.amazonaws.com` unless an endpoint override is in force;
//! - the WebSocket management API is `{endpoint}/{stage}` under an override, else the API's
//!   own `https://{api}.execute-api.{region}.amazonaws.com/{stage}` from `WS_MANAGEMENT_ENDPOINT`.
//!
//! TLS is compiled in with the `tls` feature (the deploy build); local runs speak plain HTTP.

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the environment (region, credentials, endpoint override).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).load().await
}

#[cfg(feature = "tls")]
fn http_client() -> aws_sdk_kms::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

#[cfg(not(feature = "tls"))]
fn http_client() -> aws_sdk_kms::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// A required environment variable.
pub fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

fn endpoint_override(service_env: &str) -> Option<String> {
    std::env::var(service_env)
        .ok()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|u| !u.is_empty())
        .map(|u| u.trim_end_matches('/').to_string())
}

/// The issuer of a user pool's tokens.
pub fn cognito_issuer(region: &str, pool_id: &str) -> String {
    match endpoint_override("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER") {
        Some(base) => format!("{base}/{pool_id}"),
        None => format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
    }
}

/// The WebSocket management endpoint for `stage`.
pub fn management_endpoint(stage: &str) -> Result<String, String> {
    match endpoint_override("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") {
        Some(base) => Ok(format!("{base}/{stage}")),
        None => env("WS_MANAGEMENT_ENDPOINT"),
    }
}

/// A management API client for the WebSocket API's stage.
pub fn management_client(config: &SdkConfig, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config).endpoint_url(endpoint).build();
    aws_sdk_apigatewaymanagement::Client::from_conf(conf)
}
