//! Client-side helpers shared by the test suites (emulator, backend, conformance).
//!
//! - [`srp`]: Cognito's `USER_SRP_AUTH` from the client's side, written as the JavaScript and
//!   Python client libraries compute it, independently of the emulator's server half, so the
//!   two check each other.
//! - [`sdk_config`], [`mailbox`], [`sign_up`]: talking to an emulator as a test client.

pub mod srp;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cognitoidentityprovider::types::AttributeType;
use serde_json::Value;

/// SDK configuration for an emulator at `url`: plain HTTP, `test`/`test`, us-east-1.
pub fn sdk_config(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "test")))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build()
}

/// The emulator's mailbox for one address, newest first.
pub async fn mailbox(url: &str, address: &str) -> Vec<Value> {
    let Ok(resp) = reqwest::Client::new().get(format!("{url}/_emulator/mailbox?address={address}")).send().await else {
        return Vec::new();
    };
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    v["messages"].as_array().cloned().unwrap_or_default()
}

/// Signs a user up with an e-mail address and confirms them with the code mailed to it.
pub async fn sign_up(url: &str, client_id: &str, username: &str, email: &str, password: &str) -> Result<(), String> {
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk_config(url));
    idp.sign_up()
        .client_id(client_id)
        .username(username)
        .password(password)
        .user_attributes(AttributeType::builder().name("email").value(email).build().map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| format!("SignUp: {e:?}"))?;
    let mail = mailbox(url, email).await;
    let body = mail.first().and_then(|m| m["body"].as_str()).ok_or("no code mail")?.to_string();
    let code = body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).ok_or("no code in the mail")?;
    idp.confirm_sign_up()
        .client_id(client_id)
        .username(username)
        .confirmation_code(code)
        .send()
        .await
        .map_err(|e| format!("ConfirmSignUp: {e:?}"))?;
    Ok(())
}
