//! `emulator up --demo`: confirmed users and a little traffic, so a newcomer can log in at once.
//!
//! A demo file (YAML, next to the template by default) names users by the logical id of their
//! pool, and requests to the stack's APIs made as one of them:
//!
//! ```yaml
//! password: Demo-Passw0rd
//! users:
//!   - { pool: UserPool, username: alice, attributes: { email: alice@example.com } }
//! requests:
//!   - { as: alice, api: ChatHttpApi, method: POST, path: "/users/${sub:bob}/messages", body: { text: Hi } }
//! ```
//!
//! Users are created the way an administrator creates them on AWS (`AdminCreateUser` without an
//! invitation, then a permanent password), through the emulator's own Cognito handlers, and each
//! new user signs in once so the pool's sign-in triggers run as they would at a first login.
//! Requests go over HTTP to the local API with the user's access token, so they pass the same
//! authorizer and functions as a client's. Seeding is idempotent: users that exist are left as
//! they are, and the requests run only when some user was new, so restarting on saved state
//! does not repeat the conversation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::services::{JsonService, call_json};
use crate::state::{Ctx, Emu};
use crate::template::provision::Stack;

/// A demo file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    /// Every demo user's password.
    pub password: String,
    pub users: Vec<DemoUser>,
    #[serde(default)]
    pub requests: Vec<DemoRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    /// The logical id of the user's `AWS::Cognito::UserPool`.
    pub pool: String,
    pub username: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// An API request made as a demo user; `${sub:USERNAME}` in the path or body is that user's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoRequest {
    #[serde(rename = "as")]
    pub as_user: String,
    /// The logical id of the API.
    pub api: String,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<Value>,
}

/// What seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Every demo user's name, new or not.
    pub users: Vec<String>,
    pub created: usize,
    pub requests: usize,
}

impl Demo {
    pub fn read(path: &Path) -> anyhow::Result<Demo> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the demo file {}", path.display()))?;
        serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not a demo file", path.display()))
    }
}

/// Creates the demo's users and, when any was new, makes its requests.
pub async fn seed(emu: &Arc<Emu>, stack: &Stack, demo: &Demo) -> anyhow::Result<Seeded> {
    let ctx = Ctx::internal(emu);
    let cognito = |op: &'static str, input: Value| {
        let ctx = ctx.clone();
        async move { call_json(&ctx, JsonService::Cognito, op, &input).await.map_err(|e| anyhow!("{op}: {e}")) }
    };
    let mut seeded = Seeded::default();
    let mut subs = BTreeMap::new();
    let mut sessions = BTreeMap::new();
    for user in &demo.users {
        let pool = stack
            .physical_id(&user.pool)
            .ok_or_else(|| anyhow!("demo user {}: the stack has no user pool {}", user.username, user.pool))?
            .to_string();
        let key = json!({"UserPoolId": pool, "Username": user.username});
        let existing = match cognito("AdminGetUser", key.clone()).await {
            Ok(found) => Some(found),
            Err(e) if e.to_string().contains("UserNotFoundException") => None,
            Err(e) => return Err(e),
        };
        let found = match existing {
            Some(found) => found,
            None => {
                let mut attributes: Vec<Value> =
                    user.attributes.iter().map(|(k, v)| json!({"Name": k, "Value": v})).collect();
                for (address, verified) in [("email", "email_verified"), ("phone_number", "phone_number_verified")] {
                    if user.attributes.contains_key(address) && !user.attributes.contains_key(verified) {
                        attributes.push(json!({"Name": verified, "Value": "true"}));
                    }
                }
                let mut create = key.clone();
                create["UserAttributes"] = Value::Array(attributes);
                create["MessageAction"] = json!("SUPPRESS");
                cognito("AdminCreateUser", create).await.with_context(|| format!("demo user {}", user.username))?;
                let mut password = key.clone();
                password["Password"] = json!(demo.password);
                password["Permanent"] = json!(true);
                cognito("AdminSetUserPassword", password)
                    .await
                    .with_context(|| format!("demo user {}", user.username))?;
                seeded.created += 1;
                // The first sign-in runs the pool's sign-in triggers, as a real first login does.
                let session = sign_in(&ctx, stack, &pool, &user.username, &demo.password).await?;
                sessions.insert(user.username.clone(), session);
                cognito("AdminGetUser", key).await?
            }
        };
        let sub = found["UserAttributes"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["Name"] == "sub"))
            .and_then(|a| a["Value"].as_str())
            .unwrap_or_default()
            .to_string();
        subs.insert(user.username.clone(), (pool, sub));
        seeded.users.push(user.username.clone());
    }
    if seeded.created == 0 {
        return Ok(seeded);
    }
    for request in &demo.requests {
        let Some((pool, _)) = subs.get(&request.as_user) else {
            bail!("demo request {} {}: {} is not a demo user", request.method, request.path, request.as_user);
        };
        if !sessions.contains_key(&request.as_user) {
            let session = sign_in(&ctx, stack, pool, &request.as_user, &demo.password).await?;
            sessions.insert(request.as_user.clone(), session);
        }
        send(emu, stack, request, &sessions[&request.as_user], &subs).await?;
        seeded.requests += 1;
    }
    Ok(seeded)
}

/// Signs a user in with `USER_PASSWORD_AUTH` through a client of their pool; their access token.
async fn sign_in(ctx: &Ctx, stack: &Stack, pool: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let client = stack
        .resources
        .iter()
        .find(|r| {
            r.kind == "AWS::Cognito::UserPoolClient"
                && r.attributes.get("UserPoolId").and_then(Value::as_str) == Some(pool)
        })
        .and_then(|r| r.physical_id.clone())
        .ok_or_else(|| anyhow!("demo user {username}: the stack has no client for the pool {pool} to sign in with"))?;
    let input = json!({
        "ClientId": client,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": username, "PASSWORD": password},
    });
    let out = call_json(ctx, JsonService::Cognito, "InitiateAuth", &input)
        .await
        .map_err(|e| anyhow!("demo user {username} cannot sign in (the client must allow USER_PASSWORD_AUTH): {e}"))?;
    out["AuthenticationResult"]["AccessToken"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("demo user {username}: sign-in answered a challenge, not tokens"))
}

/// `${sub:USERNAME}` replaced by that demo user's id.
fn substitute(text: &str, subs: &BTreeMap<String, (String, String)>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${sub:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after.find('}').ok_or_else(|| anyhow!("unclosed ${{sub:…}} in {text}"))?;
        let name = &after[..end];
        let (_, sub) = subs.get(name).ok_or_else(|| anyhow!("${{sub:{name}}}: {name} is not a demo user"))?;
        out.push_str(sub);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

async fn send(
    emu: &Arc<Emu>,
    stack: &Stack,
    request: &DemoRequest,
    token: &str,
    subs: &BTreeMap<String, (String, String)>,
) -> anyhow::Result<()> {
    let id = stack.physical_id(&request.api).ok_or_else(|| anyhow!("demo request: no API {}", request.api))?;
    let api =
        stack.apis.iter().find(|a| a.id == id).ok_or_else(|| anyhow!("demo request: {} is not an API", request.api))?;
    let url = format!("{}{}", crate::services::apigw::spec::invoke_url(emu, api), substitute(&request.path, subs)?);
    let method = http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| anyhow!("demo request: bad method {}", request.method))?;
    let mut builder = emu.http.request(method, &url).bearer_auth(token);
    if let Some(body) = &request.body {
        builder = builder.header("content-type", "application/json").body(substitute(&body.to_string(), subs)?);
    }
    let response = builder.send().await.with_context(|| format!("demo request {} {url}", request.method))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("demo request {} {} as {} answered {status}: {body}", request.method, request.path, request.as_user);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subs_are_substituted_and_unknown_names_refused() {
        let subs: BTreeMap<String, (String, String)> =
            [("bob".to_string(), ("pool".to_string(), "b-1".to_string()))].into_iter().collect();
        assert_eq!(substitute("/users/${sub:bob}/messages", &subs).unwrap(), "/users/b-1/messages");
        assert_eq!(
            substitute("{\"to\":\"${sub:bob}\",\"x\":\"${sub:bob}\"}", &subs).unwrap(),
            "{\"to\":\"b-1\",\"x\":\"b-1\"}"
        );
        assert_eq!(substitute("/plain", &subs).unwrap(), "/plain");
        assert!(substitute("/users/${sub:eve}", &subs).is_err());
        assert!(substitute("/users/${sub:bob", &subs).is_err());
    }

    #[test]
    fn the_file_format_is_strict() {
        let demo: Demo = serde_yaml_ng::from_str(
            "password: P\nusers:\n  - { pool: UserPool, username: a, attributes: { email: a@x.y } }\nrequests:\n  - { as: a, api: Api, method: GET, path: /me }\n",
        )
        .unwrap();
        assert_eq!(demo.users[0].attributes["email"], "a@x.y");
        assert_eq!(demo.requests[0].as_user, "a");
        assert!(serde_yaml_ng::from_str::<Demo>("password: P\nusers: []\nextra: 1\n").is_err());
    }
}
