//! `emulator up --demo`: confirmed users and a little traffic, so a newcomer can log in at once.
//!
//! A demo file (YAML, next to the template by default) names users by the logical id of their
//! pool, and requests to the stack's APIs made as one of them:
//!
//! ```yaml
//! password: Demo-Passw0rd
//! users:
//!   - { pool: UserPool, username: alice, attributes: { email: alice@example.com } }
//!   - { pool: UserPool, username: bob, attributes: { email: bob@example.com } }
//! requests:
//!   - { as: alice, api: ChatHttpApi, method: POST, path: /rooms, body: { name: Lobby }, save: { lobby: conversationId } }
//!   - { as: bob, api: ChatHttpApi, method: POST, path: "/rooms/${saved:lobby}/join" }
//!   - { as: alice, api: ChatHttpApi, method: POST, path: "/users/${sub:bob}/messages", body: { text: Hi } }
//! items:
//!   - { table: ChatTable, item: { pk: { S: "USER#${sub:bob}" }, sk: { S: "NOTE" } } }
//! ```
//!
//! In a request's path and in the strings of its body (and of an item), `${sub:USERNAME}` is
//! that demo user's id and `${saved:NAME}` a value an earlier request kept with `save:` (a
//! field of its JSON answer, nested fields joined by dots), so a later request can use the id of
//! a room an earlier one created. A name that no demo user has, or that no earlier request
//! saves, is refused before anything is made, so a typo never leaves half a world behind.
//! `items` are put into a stack's table (by logical id) after the requests, through DynamoDB's
//! own handler: records the application keeps but that its API cannot make, such as a
//! WebSocket connection whose socket is long gone.
//!
//! Users are created the way an administrator creates them on AWS (`AdminCreateUser` without an
//! invitation, then a permanent password), through the emulator's own Cognito handlers, and each
//! new user signs in once so the pool's sign-in triggers run as they would at a first login.
//! Requests go over HTTP to the local API with the user's access token, so they pass the same
//! authorizer and functions as a client's. Seeding is idempotent: users that exist are left as
//! they are, and the requests and items run only when some user was new, so restarting on saved
//! state does not repeat the conversation.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Items put into the stack's tables after the requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<DemoItem>,
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

/// An API request made as a demo user; `${sub:USERNAME}` and `${saved:NAME}` in the path or
/// the body's strings are substituted.
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
    /// Values of the JSON answer kept for later requests: `{NAME: FIELD}`, FIELD a field of the
    /// answer (`conversationId`; nested: `room.id`, `items.0.id`) holding a string or a number.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub save: BTreeMap<String, String>,
}

/// An item put into one of the stack's tables, in DynamoDB JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoItem {
    /// The logical id of the `AWS::DynamoDB::Table`.
    pub table: String,
    /// `${sub:USERNAME}` and `${saved:NAME}` are substituted in its strings.
    pub item: Value,
}

/// What seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Every demo user's name, new or not.
    pub users: Vec<String>,
    pub created: usize,
    pub requests: usize,
    pub items: usize,
}

impl Demo {
    pub fn read(path: &Path) -> anyhow::Result<Demo> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the demo file {}", path.display()))?;
        let demo: Demo =
            serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not a demo file", path.display()))?;
        demo.check().map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Ok(demo)
    }

    /// Refuses what cannot run: a request as someone who is not a demo user, a `${sub:…}` naming
    /// no demo user, a `${saved:…}` naming nothing an earlier request saves, a name saved twice.
    pub fn check(&self) -> Result<(), String> {
        let users: BTreeSet<&str> = self.users.iter().map(|u| u.username.as_str()).collect();
        let mut saved: BTreeSet<&str> = BTreeSet::new();
        let known = |text: &str, saved: &BTreeSet<&str>| -> Result<(), String> {
            for piece in pieces(text)? {
                match piece {
                    Piece::Sub(name) if !users.contains(name) => {
                        return Err(format!("${{sub:{name}}}: {name} is not a demo user"));
                    }
                    Piece::Saved(name) if !saved.contains(name) => {
                        return Err(format!("${{saved:{name}}}: no earlier request saves {name}"));
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        for request in &self.requests {
            let what = format!("request {} {}", request.method, request.path);
            if !users.contains(request.as_user.as_str()) {
                return Err(format!("{what}: {} is not a demo user", request.as_user));
            }
            known(&request.path, &saved).map_err(|e| format!("{what}: {e}"))?;
            if let Some(body) = &request.body {
                strings(body, &mut |s| known(s, &saved)).map_err(|e| format!("{what}: {e}"))?;
            }
            for (name, field) in &request.save {
                if name.is_empty() || field.is_empty() {
                    return Err(format!("{what}: `save` takes NAME: FIELD, both non-empty"));
                }
                if !saved.insert(name) {
                    return Err(format!("{what}: {name} is saved twice"));
                }
            }
        }
        for item in &self.items {
            strings(&item.item, &mut |s| known(s, &saved)).map_err(|e| format!("item in {}: {e}", item.table))?;
        }
        Ok(())
    }
}

/// Creates the demo's users and, when any was new, makes its requests and puts its items.
pub async fn seed(emu: &Arc<Emu>, stack: &Stack, demo: &Demo) -> anyhow::Result<Seeded> {
    demo.check().map_err(|e| anyhow!(e))?;
    let ctx = Ctx::internal(emu);
    let cognito = |op: &'static str, input: Value| {
        let ctx = ctx.clone();
        async move { call_json(&ctx, JsonService::Cognito, op, &input).await.map_err(|e| anyhow!("{op}: {e}")) }
    };
    let mut seeded = Seeded::default();
    let mut vars = Vars::default();
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
        vars.subs.insert(user.username.clone(), (pool, sub));
        seeded.users.push(user.username.clone());
    }
    if seeded.created == 0 {
        return Ok(seeded);
    }
    for request in &demo.requests {
        let Some((pool, _)) = vars.subs.get(&request.as_user) else {
            bail!("demo request {} {}: {} is not a demo user", request.method, request.path, request.as_user);
        };
        if !sessions.contains_key(&request.as_user) {
            let session = sign_in(&ctx, stack, pool, &request.as_user, &demo.password).await?;
            sessions.insert(request.as_user.clone(), session);
        }
        let answer = send(emu, stack, request, &sessions[&request.as_user], &vars).await?;
        for (name, field) in &request.save {
            let value = answer.as_ref().and_then(|a| lookup(a, field)).ok_or_else(|| {
                anyhow!(
                    "demo request {} {}: its answer has no string or number `{field}` to save as {name}",
                    request.method,
                    request.path
                )
            })?;
            vars.saved.insert(name.clone(), value);
        }
        seeded.requests += 1;
    }
    seeded.items = put_items(&ctx, stack, &demo.items, &vars).await?;
    Ok(seeded)
}

/// Puts the items into the stack's tables through DynamoDB's own handler, in order, up to 25
/// to a `BatchWriteItem`. The emulator sweeps expired items before each DynamoDB call, so
/// batching keeps records already past their TTL (a world captured before the sweep) together
/// until the load ends, where one `PutItem` each would sweep the ones put before.
async fn put_items(ctx: &Ctx, stack: &Stack, items: &[DemoItem], vars: &Vars) -> anyhow::Result<usize> {
    let mut batches: Vec<(&str, String, Vec<Value>)> = Vec::new();
    for item in items {
        let table = stack
            .resources
            .iter()
            .find(|r| r.logical_id == item.table && r.kind == "AWS::DynamoDB::Table")
            .and_then(|r| r.physical_id.clone())
            .ok_or_else(|| anyhow!("demo item: the stack has no table {}", item.table))?;
        let mut value = item.item.clone();
        substitute_strings(&mut value, vars).with_context(|| format!("demo item in {}", item.table))?;
        match batches.last_mut() {
            Some((_, name, batch)) if *name == table && batch.len() < 25 => batch.push(value),
            _ => batches.push((item.table.as_str(), table, vec![value])),
        }
    }
    let mut put = 0;
    for (logical, table, batch) in batches {
        let requests: Vec<Value> = batch.into_iter().map(|item| json!({"PutRequest": {"Item": item}})).collect();
        let count = requests.len();
        let out = call_json(ctx, JsonService::DynamoDb, "BatchWriteItem", &json!({"RequestItems": {&table: requests}}))
            .await
            .map_err(|e| anyhow!("demo items in {logical}: BatchWriteItem: {e}"))?;
        if out["UnprocessedItems"].as_object().is_some_and(|u| !u.is_empty()) {
            bail!("demo items in {logical}: BatchWriteItem left items unprocessed");
        }
        put += count;
    }
    Ok(put)
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

/// What placeholders stand for: each demo user's pool and id, and the values saved so far.
#[derive(Debug, Default)]
struct Vars {
    subs: BTreeMap<String, (String, String)>,
    saved: BTreeMap<String, String>,
}

/// A piece of a string with placeholders.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Sub(&'a str),
    Saved(&'a str),
}

/// Splits `text` at `${sub:NAME}` and `${saved:NAME}`; any other `$` is text.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let next = [("${sub:", 0u8), ("${saved:", 1u8)]
            .into_iter()
            .filter_map(|(open, kind)| rest.find(open).map(|at| (at, open.len(), kind)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, open, kind)) = next else { break };
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + open..];
        let end = after.find('}').ok_or_else(|| format!("unclosed {} in {text}", &rest[at..at + open]))?;
        let name = &after[..end];
        out.push(if kind == 0 { Piece::Sub(name) } else { Piece::Saved(name) });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// `text` with its placeholders replaced.
fn substitute(text: &str, vars: &Vars) -> anyhow::Result<String> {
    let mut out = String::new();
    for piece in pieces(text).map_err(|e| anyhow!(e))? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Sub(name) => {
                let (_, sub) =
                    vars.subs.get(name).ok_or_else(|| anyhow!("${{sub:{name}}}: {name} is not a demo user"))?;
                out.push_str(sub);
            }
            Piece::Saved(name) => {
                let value =
                    vars.saved.get(name).ok_or_else(|| anyhow!("${{saved:{name}}}: nothing was saved as {name}"))?;
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

/// Calls `f` on every string of a JSON value, object keys included.
fn strings(value: &Value, f: &mut dyn FnMut(&str) -> Result<(), String>) -> Result<(), String> {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().try_for_each(|v| strings(v, f)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            f(k)?;
            strings(v, f)
        }),
        _ => Ok(()),
    }
}

/// Substitutes the placeholders in every string of a JSON value, object keys included. Working
/// on the parsed value, not its text, keeps a substituted value that holds quotes valid JSON.
fn substitute_strings(value: &mut Value, vars: &Vars) -> anyhow::Result<()> {
    match value {
        Value::String(s) => *s = substitute(s, vars)?,
        Value::Array(items) => items.iter_mut().try_for_each(|v| substitute_strings(v, vars))?,
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, mut v) in std::mem::take(map) {
                substitute_strings(&mut v, vars)?;
                out.insert(substitute(&k, vars)?, v);
            }
            *map = out;
        }
        _ => {}
    }
    Ok(())
}

/// A field of a JSON answer by a dotted path (`room.id`, `items.0.id`), as text: a string as it
/// is, a number in its JSON form; anything else is no value to save.
fn lookup(answer: &Value, path: &str) -> Option<String> {
    let mut at = answer;
    for part in path.split('.') {
        at = match at {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match at {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Makes one request; its answer as JSON, when it is JSON.
async fn send(
    emu: &Arc<Emu>,
    stack: &Stack,
    request: &DemoRequest,
    token: &str,
    vars: &Vars,
) -> anyhow::Result<Option<Value>> {
    let id = stack.physical_id(&request.api).ok_or_else(|| anyhow!("demo request: no API {}", request.api))?;
    let api =
        stack.apis.iter().find(|a| a.id == id).ok_or_else(|| anyhow!("demo request: {} is not an API", request.api))?;
    let url = format!("{}{}", crate::services::apigw::spec::invoke_url(emu, api), substitute(&request.path, vars)?);
    let method = http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| anyhow!("demo request: bad method {}", request.method))?;
    let mut builder = emu.http.request(method, &url).bearer_auth(token);
    if let Some(body) = &request.body {
        let mut body = body.clone();
        substitute_strings(&mut body, vars)?;
        builder = builder.header("content-type", "application/json").body(body.to_string());
    }
    let response = builder.send().await.with_context(|| format!("demo request {} {url}", request.method))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("demo request {} {} as {} answered {status}: {body}", request.method, request.path, request.as_user);
    }
    let body = response.bytes().await.with_context(|| format!("demo request {} {url}", request.method))?;
    Ok(serde_json::from_slice(&body).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.subs.insert("bob".into(), ("pool".into(), "b-1".into()));
        vars.saved.insert("room".into(), "r-9".into());
        vars
    }

    #[test]
    fn subs_and_saved_values_are_substituted_and_unknown_names_refused() {
        let vars = vars();
        assert_eq!(substitute("/users/${sub:bob}/messages", &vars).unwrap(), "/users/b-1/messages");
        assert_eq!(substitute("/rooms/${saved:room}/join", &vars).unwrap(), "/rooms/r-9/join");
        assert_eq!(substitute("${saved:room}${sub:bob}", &vars).unwrap(), "r-9b-1");
        assert_eq!(substitute("/plain", &vars).unwrap(), "/plain");
        assert_eq!(substitute("costs ${5} and $x", &vars).unwrap(), "costs ${5} and $x", "other `$` is text");
        assert!(substitute("/users/${sub:eve}", &vars).is_err());
        assert!(substitute("/rooms/${saved:lobby}", &vars).is_err());
        assert!(substitute("/users/${sub:bob", &vars).is_err());
        assert!(substitute("/rooms/${saved:room", &vars).is_err());

        let mut body = json!({"to": "${sub:bob}", "room": "${saved:room}", "${sub:bob}": ["${saved:room}", 3]});
        substitute_strings(&mut body, &vars).unwrap();
        assert_eq!(body, json!({"to": "b-1", "room": "r-9", "b-1": ["r-9", 3]}));
        // A value with quotes stays one JSON string.
        let mut quoted = Vars::default();
        quoted.saved.insert("q".into(), "say \"hi\"".into());
        let mut body = json!({"text": "${saved:q}"});
        substitute_strings(&mut body, &quoted).unwrap();
        assert_eq!(body["text"], "say \"hi\"");
    }

    #[test]
    fn saved_fields_are_looked_up_by_dotted_path() {
        let answer =
            json!({"conversationId": "r-1", "room": {"id": "r-2", "size": 50}, "items": [{"id": "m-1"}], "ok": true});
        assert_eq!(lookup(&answer, "conversationId").as_deref(), Some("r-1"));
        assert_eq!(lookup(&answer, "room.id").as_deref(), Some("r-2"));
        assert_eq!(lookup(&answer, "room.size").as_deref(), Some("50"));
        assert_eq!(lookup(&answer, "items.0.id").as_deref(), Some("m-1"));
        assert_eq!(lookup(&answer, "items.1.id"), None);
        assert_eq!(lookup(&answer, "room"), None, "an object is no value");
        assert_eq!(lookup(&answer, "ok"), None, "nor is a boolean");
        assert_eq!(lookup(&answer, "missing"), None);
    }

    #[test]
    fn the_file_format_is_strict() {
        let demo: Demo = serde_yaml_ng::from_str(
            "password: P\nusers:\n  - { pool: UserPool, username: a, attributes: { email: a@x.y } }\nrequests:\n  - { as: a, api: Api, method: GET, path: /me }\n",
        )
        .unwrap();
        assert_eq!(demo.users[0].attributes["email"], "a@x.y");
        assert_eq!(demo.requests[0].as_user, "a");
        assert!(demo.requests[0].save.is_empty() && demo.items.is_empty());
        assert!(serde_yaml_ng::from_str::<Demo>("password: P\nusers: []\nextra: 1\n").is_err());
        assert!(
            serde_yaml_ng::from_str::<Demo>("password: P\nusers: []\nitems: [{ table: T, item: {}, extra: 1 }]\n")
                .is_err()
        );
    }

    #[test]
    fn names_are_checked_before_anything_runs() {
        let check = |requests: &str, items: &str| {
            let text = format!(
                "password: P\nusers:\n  - {{ pool: UserPool, username: a }}\n  - {{ pool: UserPool, username: b }}\nrequests: {requests}\nitems: {items}\n"
            );
            serde_yaml_ng::from_str::<Demo>(&text).unwrap().check()
        };
        let room = "{ as: a, api: Api, method: POST, path: /rooms, body: { name: R }, save: { room: conversationId } }";
        let join = "{ as: b, api: Api, method: POST, path: \"/rooms/${saved:room}/join\" }";
        let item = "{ table: T, item: { pk: { S: \"USER#${sub:b}\" }, room: { S: \"${saved:room}\" } } }";
        assert_eq!(check(&format!("[{room}, {join}]"), &format!("[{item}]")), Ok(()));
        // Used before it is saved.
        let e = check(&format!("[{join}, {room}]"), "[]").unwrap_err();
        assert!(e.contains("${saved:room}: no earlier request saves room"), "{e}");
        // Saved under another name; in a body; in an item.
        let e = check(
            &format!("[{room}, {{ as: b, api: Api, method: POST, path: \"/rooms/${{saved:lobby}}/join\" }}]"),
            "[]",
        )
        .unwrap_err();
        assert!(e.contains("no earlier request saves lobby"), "{e}");
        let e =
            check("[{ as: a, api: Api, method: POST, path: /x, body: { to: \"${saved:nope}\" } }]", "[]").unwrap_err();
        assert!(e.contains("saves nope"), "{e}");
        let e = check("[]", "[{ table: T, item: { pk: { S: \"${saved:room}\" } } }]").unwrap_err();
        assert!(e.contains("item in T") && e.contains("saves room"), "{e}");
        let e = check("[]", "[{ table: T, item: { pk: { S: \"${sub:eve}\" } } }]").unwrap_err();
        assert!(e.contains("eve is not a demo user"), "{e}");
        // Unknown users, names saved twice, empty names, unclosed placeholders.
        let e = check("[{ as: eve, api: Api, method: GET, path: /me }]", "[]").unwrap_err();
        assert!(e.contains("eve is not a demo user"), "{e}");
        let e = check(&format!("[{room}, {room}]"), "[]").unwrap_err();
        assert!(e.contains("room is saved twice"), "{e}");
        let e = check("[{ as: a, api: Api, method: GET, path: /me, save: { x: \"\" } }]", "[]").unwrap_err();
        assert!(e.contains("NAME: FIELD"), "{e}");
        let e = check("[{ as: a, api: Api, method: GET, path: \"/u/${sub:a\" }]", "[]").unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
    }
}
