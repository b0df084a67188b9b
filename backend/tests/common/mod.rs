//! Helpers shared by the suites that run the backend's real binaries under `emulator up`.

// Each suite uses some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;

use emulator::template::provision::FunctionBinaries;

/// The backend's binaries, which cargo builds for the integration tests.
pub fn binaries() -> FunctionBinaries {
    let map: BTreeMap<String, std::path::PathBuf> = [
        ("api", env!("CARGO_BIN_EXE_api")),
        ("ws_connect", env!("CARGO_BIN_EXE_ws_connect")),
        ("ws_disconnect", env!("CARGO_BIN_EXE_ws_disconnect")),
        ("ws_message", env!("CARGO_BIN_EXE_ws_message")),
        ("stream_processor", env!("CARGO_BIN_EXE_stream_processor")),
        ("onboard", env!("CARGO_BIN_EXE_onboard")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into()))
    .collect();
    FunctionBinaries::Map(map)
}

/// `backend/template.yaml` as the stack `chat`, run with [`binaries`].
pub fn options() -> emulator::up::UpOptions {
    let mut options = emulator::up::UpOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"));
    options.stack_name = Some("chat".into());
    options.functions = binaries();
    options
}

/// Brings the stack up on a free port, with e-mail subscriptions confirmed at once.
pub async fn up(builder: emulator::EmulatorBuilder, options: &emulator::up::UpOptions) -> emulator::up::Up {
    let builder = builder.port(0).auto_confirm_subscriptions(true);
    emulator::up::up(builder, options).await.expect("the stack comes up")
}

/// The local invoke URL of the stack's API `logical_id`.
pub fn api_url(up: &emulator::up::Up, logical_id: &str) -> String {
    let id = up.stack.physical_id(logical_id).expect("the API is in the stack");
    let spec = up.stack.apis.iter().find(|a| a.id == id).expect("the API is saved");
    emulator::services::apigw::spec::invoke_url(up.handle.state(), spec)
}

/// A user's connection rows in the stack's table (`pk = USER#{sub}`, `sk` beginning `CONN#`),
/// through a DynamoDB query.
pub async fn connection_items(
    up: &emulator::up::Up,
    sub: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&testkit::sdk_config(up.handle.url()))
        .query()
        .table_name(up.stack.physical_id("ChatTable").expect("the table"))
        .key_condition_expression("pk = :p AND begins_with(sk, :c)")
        .expression_attribute_values(":p", AttributeValue::S(format!("USER#{sub}")))
        .expression_attribute_values(":c", AttributeValue::S("CONN#".into()))
        .send()
        .await
        .expect("Query of a user's connections")
        .items
        .unwrap_or_default()
}

/// The password every test user signs up with.
pub const PASSWORD: &str = "Correct-Horse-9";

/// A running chat stack and where it answers, with a plain HTTP client for its API.
pub struct Chat {
    pub up: emulator::up::Up,
    pub url: String,
    pub http_api: String,
    pub ws: String,
    pub pool: String,
    pub client: String,
    pub http: reqwest::Client,
}

/// A signed-up, logged-in user: their id (`sub`) and tokens.
pub struct User {
    pub sub: String,
    pub access: String,
    pub id: String,
}

impl Chat {
    /// Brings the stack up ([`up`]) and finds its APIs, pool and client.
    pub async fn start(builder: emulator::EmulatorBuilder, options: &emulator::up::UpOptions) -> Chat {
        let up = up(builder, options).await;
        Chat {
            url: up.handle.url().to_string(),
            http_api: api_url(&up, "ChatHttpApi"),
            ws: api_url(&up, "ChatWebSocket"),
            pool: up.stack.physical_id("UserPool").expect("the pool").to_string(),
            client: up.stack.physical_id("UserPoolClient").expect("the client").to_string(),
            up,
            http: reqwest::Client::new(),
        }
    }

    pub async fn mailbox(&self, address: &str) -> Vec<serde_json::Value> {
        testkit::mailbox(&self.url, address).await
    }

    /// Signs up `name` with the e-mailed code, then logs in with SRP; the profile must exist.
    pub async fn user(&self, name: &str) -> User {
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&testkit::sdk_config(&self.url));
        let email = format!("{name}@example.com");
        testkit::sign_up(&self.url, &self.client, name, &email, PASSWORD).await.unwrap();
        let tokens = testkit::srp::login(&idp, &self.pool, &self.client, name, PASSWORD).await.expect("SRP login");
        let access = tokens.access_token.unwrap();
        let id = tokens.id_token.unwrap();
        let (status, me) = self.get(&id, "/me").await;
        assert_eq!(status, 200, "profile created by PostConfirmation: {me}");
        User { sub: me["userId"].as_str().unwrap().to_string(), access, id }
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(format!("{}{path}", self.http_api)).bearer_auth(token).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post(&self, token: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self.http.post(format!("{}{path}", self.http_api)).bearer_auth(token).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(serde_json::Value::Null))
    }
}
