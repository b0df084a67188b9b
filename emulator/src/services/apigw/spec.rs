//! API definitions: what the template (or `POST /_emulator/apigw/apis`) provisions, kept as one
//! JSON document per API in SQLite. Route keys use API Gateway's own syntax (`GET /users/{id}`,
//! `ANY /{proxy+}`, `$default`, `$connect`, `sendMessage`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::error::{AwsError, Result};
use crate::state::Emu;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiProtocol {
    /// HTTP API (payload format 2.0 by default).
    Http,
    /// REST API with Lambda proxy integrations (payload format 1.0).
    Rest,
    Websocket,
}

impl ApiProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiProtocol::Http => "HTTP",
            ApiProtocol::Rest => "REST",
            ApiProtocol::Websocket => "WEBSOCKET",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpec {
    /// Generated (10 lowercase letters and digits, as AWS's) when empty.
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub protocol: ApiProtocol,
    /// `$default` serves at the root; any other stage is the first path segment.
    #[serde(default = "default_stage")]
    pub stage: String,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    #[serde(default)]
    pub authorizers: BTreeMap<String, AuthorizerSpec>,
    #[serde(default)]
    pub cors: Option<Cors>,
    /// WebSocket APIs: how a message picks its route.
    #[serde(default = "default_selection")]
    pub route_selection_expression: String,
    #[serde(default)]
    pub stage_variables: BTreeMap<String, String>,
}

fn default_stage() -> String {
    "$default".into()
}
fn default_selection() -> String {
    "$request.body.action".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    pub key: String,
    /// The Lambda function of the route's proxy integration.
    #[serde(default)]
    pub function: Option<String>,
    /// A name in [`ApiSpec::authorizers`]; `None` is an open route.
    #[serde(default)]
    pub authorizer: Option<String>,
    /// JWT authorizers: scopes one of which the token must carry.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `1.0` or `2.0`; defaults by protocol (HTTP 2.0, REST and WebSocket 1.0).
    #[serde(default)]
    pub payload_version: Option<String>,
    /// WebSocket routes: whether the integration's response is sent back to the client (a
    /// route response exists).
    #[serde(default)]
    pub route_response: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizerSpec {
    /// HTTP APIs: a JWT checked against the issuer's JWKS.
    #[serde(rename_all = "camelCase")]
    Jwt {
        issuer: String,
        #[serde(default)]
        audience: Vec<String>,
        #[serde(default = "authorization_header")]
        identity_source: String,
    },
    /// REST APIs: a Cognito user pool's ID (or access) token.
    #[serde(rename_all = "camelCase")]
    CognitoUserPools {
        provider_arns: Vec<String>,
        #[serde(default = "authorization_header")]
        identity_source: String,
    },
    /// A Lambda REQUEST authorizer (WebSocket `$connect`, HTTP and REST APIs).
    #[serde(rename_all = "camelCase")]
    Request {
        function: String,
        #[serde(default)]
        identity_source: Vec<String>,
        /// HTTP APIs with payload 2.0: `{"isAuthorized": bool, "context": {…}}` answers.
        #[serde(default)]
        simple_responses: bool,
    },
}

fn authorization_header() -> String {
    "$request.header.Authorization".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub allow_credentials: bool,
}

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn check(spec: &ApiSpec) -> Result<()> {
    let bad = |m: String| AwsError::bad_request("BadRequestException", m);
    if spec.name.is_empty() {
        return Err(bad("Invalid API name specified".into()));
    }
    for r in &spec.routes {
        if let Some(a) = &r.authorizer
            && !spec.authorizers.contains_key(a)
        {
            return Err(bad(format!("Route {} names an unknown authorizer {a}", r.key)));
        }
        let well_formed = match spec.protocol {
            ApiProtocol::Websocket => !r.key.is_empty() && !r.key.contains(' '),
            _ => r.key == "$default" || r.key.split_once(' ').is_some_and(|(_, p)| p.starts_with('/')),
        };
        if !well_formed {
            return Err(bad(format!("Invalid route key {:?}", r.key)));
        }
    }
    Ok(())
}

/// Stores (or replaces, by id or by name and protocol) an API; returns it with its id.
pub async fn save(emu: &Arc<Emu>, mut spec: ApiSpec) -> Result<ApiSpec> {
    check(&spec)?;
    if spec.id.is_empty() {
        let existing = sqlx::query("SELECT api_id FROM apigw_apis WHERE name = ? AND protocol = ?")
            .bind(&spec.name)
            .bind(spec.protocol.as_str())
            .fetch_optional(emu.store.pool())
            .await?;
        spec.id = match existing {
            Some(r) => r.get(0),
            None => emu.rng.string_from(ID_ALPHABET, 10),
        };
    }
    let now = emu.clock.now().timestamp_millis() as f64 / 1000.0;
    sqlx::query(
        "INSERT INTO apigw_apis (api_id, name, protocol, definition, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (api_id) DO UPDATE SET name = excluded.name, protocol = excluded.protocol,
           definition = excluded.definition",
    )
    .bind(&spec.id)
    .bind(&spec.name)
    .bind(spec.protocol.as_str())
    .bind(serde_json::to_string(&spec).unwrap_or_default())
    .bind(now)
    .execute(&mut *emu.store.turn().await?)
    .await?;
    Ok(spec)
}

pub async fn load(emu: &Emu, api_id: &str) -> Result<Option<ApiSpec>> {
    let row = sqlx::query("SELECT definition FROM apigw_apis WHERE api_id = ?")
        .bind(api_id)
        .fetch_optional(emu.store.pool())
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(r.get::<&str, _>(0)).ok()))
}

pub async fn list(emu: &Emu) -> Result<Vec<ApiSpec>> {
    let rows = sqlx::query("SELECT definition FROM apigw_apis ORDER BY created_at, api_id")
        .fetch_all(emu.store.pool())
        .await?;
    Ok(rows.iter().filter_map(|r| serde_json::from_str(r.get::<&str, _>(0)).ok()).collect())
}

/// Where clients reach an API's stage on this instance.
pub fn invoke_url(emu: &Emu, spec: &ApiSpec) -> String {
    let base = match spec.protocol {
        ApiProtocol::Websocket => emu.endpoint.replacen("http", "ws", 1),
        _ => emu.endpoint.clone(),
    };
    let stage = if spec.stage == "$default" { String::new() } else { format!("/{}", spec.stage) };
    format!("{base}{}/{}{stage}", super::PATH_PREFIX, spec.id)
}

/// The summary `/_emulator/apigw/apis` lists.
pub fn summary(emu: &Emu, spec: &ApiSpec) -> Value {
    json!({
        "id": spec.id,
        "name": spec.name,
        "protocol": spec.protocol,
        "stage": spec.stage,
        "url": invoke_url(emu, spec),
        "routes": spec.routes.iter().map(|r| &r.key).collect::<Vec<_>>(),
    })
}
