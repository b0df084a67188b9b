//! Fixtures: a whole emulator world in one YAML (or JSON) document, loaded into an instance
//! (`emulator fixtures load`, `--fixture FILE`, `POST /_emulator/state`) or exported from one
//! (`emulator fixtures export`, `GET /_emulator/state`). The format is described by
//! `fixtures/fixture.schema.json`.
//!
//! A document has two kinds of sections:
//!
//! - **Exact state**, as `export` writes it: `clock`, `rng` (the generator's exact position, so
//!   the ids, keys and codes generated after loading are those the exported instance would
//!   have generated), `faults`, and `state`: every row of every table
//!   ([`crate::store::dump`]) — KMS key material, password hashes, object bodies, stream
//!   records, mailbox, stack records. Loading it replaces everything, so
//!   `load(export(s)) == s`.
//! - **World**, written by hand and applied after `state`, through the services' own handlers
//!   (so it gets AWS's validation, hashing and encryption): `tables` with their `items`,
//!   `pools` (admin-only or not) with their `clients` and `users` (passwords, attributes;
//!   confirmed, waiting for the sign-up code, or created by an administrator and awaiting a new
//!   password), KMS
//!   `keys` (with given ids and material, so ciphertexts made elsewhere decrypt) and aliases,
//!   `buckets` with objects (encrypted at rest as any upload), `topics` with subscriptions. A
//!   world section never wipes: it adds what is missing (tables, pools with their clients,
//!   users) and puts its items, so loading a world twice is harmless.
//!
//! - **Application data**, `app`: users and requests made through the application's own API
//!   (the `--demo` format, ids of what earlier requests made carried to later ones by `save:`),
//!   applied by `emulator up --fixture` once the stack is provisioned, so rooms, conversations
//!   and messages given as plaintext are stored by the real backend, encrypted as in
//!   production; and items the application's API cannot make, put into its tables.
//!
//! `seed` reseeds the generator (for hand-written fixtures); `rng` wins when both are given.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::FaultSpec;
use crate::rng::RngState;
use crate::services::{JsonService, call_json};
use crate::state::{Ctx, Emu};
use crate::store::dump::TableDump;

/// The format's version.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Format version (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixture: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockSpec>,
    /// Reseed the generator behind ids, keys and codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The generator's exact position (as exported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<RngState>,
    /// Faults in force after loading (replacing any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<FaultSpec>>,
    /// Every row of every table (as exported); replaces all state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<BTreeMap<String, TableDump>>,
    /// DynamoDB tables to create (if missing) and items to put.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableSpec>,
    /// Cognito user pools to create (if missing), with clients and users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolSpec>,
    /// KMS keys (with their material, so existing ciphertexts decrypt) and aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KmsKeySpec>,
    /// S3 buckets to create (if missing) and objects to put.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketSpec>,
    /// SNS topics to create and subscriptions to make.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<TopicSpec>,
    /// Users and requests made through the application's own API once `emulator up` has
    /// provisioned the stack (the `--demo` format): rooms, conversations and messages given as
    /// plaintext go through the real backend, so they are stored as in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<crate::up::demo::Demo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmsKeySpec {
    /// The key id (a UUID); default: generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 32 bytes of AES-256 key material, base64; default: generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    #[serde(default)]
    pub description: String,
    /// `alias/…` names pointing at the key.
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketSpec {
    pub name: String,
    #[serde(default)]
    pub objects: Vec<ObjectSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectSpec {
    pub key: String,
    /// The body as text, or `base64` for bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionSpec {
    /// `email`, `email-json`, `sms`, `http`, `https`, `lambda`.
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClockSpec {
    pub now: DateTime<Utc>,
    /// Frozen (the default) or running from `now` on.
    #[serde(default = "yes")]
    pub frozen: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    /// `{name: S|N|B}` of the partition key (and `sortKey`); needed only to create the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<KeySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeySpec>,
    /// Items in DynamoDB JSON (`{"pk": {"S": "a"}}`).
    #[serde(default)]
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
}

fn string_type() -> String {
    "S".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolSpec {
    /// The pool's name; an existing pool of that name is used. A new pool verifies e-mail
    /// addresses by mailed code.
    pub name: String,
    /// App clients by name (password, SRP and refresh-token flows allowed), created with the
    /// pool.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Only administrators create users (`AdminCreateUserConfig.AllowAdminCreateUserOnly`):
    /// `SignUp` is refused. Applies to a pool the fixture creates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin_create_user_only: bool,
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Confirmed (the default) or still waiting for the sign-up code.
    #[serde(default = "yes")]
    pub confirmed: bool,
    /// Created by an administrator with `password` as the temporary password and never signed
    /// in (`FORCE_CHANGE_PASSWORD`): the first sign-in answers the `NEW_PASSWORD_REQUIRED`
    /// challenge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_change_password: bool,
}

/// Parses a fixture document (YAML, of which JSON is a subset).
pub fn parse(text: &str) -> Result<Fixture, String> {
    let fixture: Fixture = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if let Some(v) = fixture.fixture
        && v != FORMAT
    {
        return Err(format!("fixture format {v} (this emulator reads {FORMAT})"));
    }
    for pool in &fixture.pools {
        if let Some(user) = pool.users.iter().find(|u| u.force_change_password && !u.confirmed) {
            return Err(format!(
                "pool {}: user {}: `confirmed: false` (signed up) and `forceChangePassword` (created by an administrator) exclude each other",
                pool.name, user.username
            ));
        }
    }
    if let Some(app) = &fixture.app {
        app.check().map_err(|e| format!("app: {e}"))?;
    }
    Ok(fixture)
}

/// A fixture as a YAML document, the form `emulator fixtures export` writes.
pub fn to_yaml(fixture: &Fixture) -> Result<String, String> {
    serde_yaml_ng::to_string(fixture).map_err(|e| e.to_string())
}

/// Reads a fixture file.
pub fn read(path: &std::path::Path) -> anyhow::Result<Fixture> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read fixture {}: {e}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("fixture {}: {e}", path.display()))
}

/// The instance's complete state as a fixture.
pub async fn export(emu: &Emu) -> anyhow::Result<Fixture> {
    let state = emu.store.dump().await?;
    let clock = emu.clock.now();
    Ok(Fixture {
        fixture: Some(FORMAT),
        clock: Some(ClockSpec { now: clock, frozen: emu.clock.is_frozen() }),
        seed: None,
        rng: Some(emu.rng.state()),
        faults: Some(emu.faults.list().into_iter().filter(|f| f.active).map(|f| f.as_spec()).collect()),
        state: Some(state),
        tables: Vec::new(),
        pools: Vec::new(),
        keys: Vec::new(),
        buckets: Vec::new(),
        topics: Vec::new(),
        app: None,
    })
}

/// Loads a fixture into a running instance: exact state first, then the world sections. All or
/// nothing: the world sections go through the services one call at a time, so when one fails
/// the instance is put back as it was before the load (its exported state, clock, generator
/// and faults) rather than left with the sections before it applied.
pub async fn load(emu: &Arc<Emu>, fixture: &Fixture) -> Result<(), String> {
    let hand_written = !(fixture.tables.is_empty()
        && fixture.pools.is_empty()
        && fixture.keys.is_empty()
        && fixture.buckets.is_empty()
        && fixture.topics.is_empty());
    if !hand_written {
        // The exact part alone is restored in one transaction: nothing to put back.
        return apply(emu, fixture).await;
    }
    let before = export(emu).await.map_err(|e| format!("cannot keep the state to return to: {e}"))?;
    match apply(emu, fixture).await {
        Ok(()) => Ok(()),
        Err(e) => match Box::pin(apply(emu, &before)).await {
            Ok(()) => Err(format!("{e} (nothing was loaded: the state is as it was)")),
            Err(again) => Err(format!("{e}; putting the earlier state back failed too: {again}")),
        },
    }
}

async fn apply(emu: &Arc<Emu>, fixture: &Fixture) -> Result<(), String> {
    // Check what can be checked before anything changes.
    let faults = crate::faults::Faults::default();
    for spec in fixture.faults.iter().flatten() {
        faults.add(spec.clone(), emu.config.seed)?;
    }
    if let Some(state) = &fixture.state {
        emu.functions.stop_all();
        emu.sockets.close_all();
        emu.store.restore(state).await.map_err(|e| e.to_string())?;
        emu.functions.resume(emu).await.map_err(|e| e.message)?;
    }
    if let Some(clock) = &fixture.clock {
        if clock.frozen {
            emu.clock.freeze_at(clock.now);
        } else {
            emu.clock.run_with_offset(clock.now - Utc::now());
        }
    }
    if let Some(seed) = fixture.seed {
        emu.rng.restore(&crate::rng::Rng::new(Some(seed)).state())?;
    }
    if let Some(rng) = &fixture.rng {
        emu.rng.restore(rng)?;
    }
    if let Some(specs) = &fixture.faults {
        emu.faults.clear();
        for spec in specs {
            emu.faults.add(spec.clone(), emu.config.seed)?;
        }
    }
    let ctx = Ctx::internal(emu);
    for table in &fixture.tables {
        load_table(&ctx, table).await.map_err(|e| format!("table {}: {e}", table.name))?;
    }
    for pool in &fixture.pools {
        load_pool(&ctx, pool).await.map_err(|e| format!("pool {}: {e}", pool.name))?;
    }
    for (i, key) in fixture.keys.iter().enumerate() {
        load_key(&ctx, key)
            .await
            .map_err(|e| format!("key {}: {e}", key.id.clone().unwrap_or_else(|| i.to_string())))?;
    }
    for bucket in &fixture.buckets {
        load_bucket(&ctx, bucket).await.map_err(|e| format!("bucket {}: {e}", bucket.name))?;
    }
    for topic in &fixture.topics {
        load_topic(&ctx, topic).await.map_err(|e| format!("topic {}: {e}", topic.name))?;
    }
    if fixture.app.is_some() {
        tracing::info!("the fixture's `app` section is applied by `emulator up` once the stack is provisioned");
    }
    Ok(())
}

async fn load_key(ctx: &Ctx, spec: &KmsKeySpec) -> Result<(), String> {
    use crate::services::kms::keys;
    use base64::Engine as _;
    let exists = match &spec.id {
        Some(id) => keys::load(ctx, id).await.map_err(|e| e.message)?.is_some(),
        None => false,
    };
    let key_id = if exists {
        spec.id.clone().unwrap_or_default()
    } else {
        let mut key = keys::new_key(ctx, spec.description.clone(), None, "CUSTOMER");
        if let Some(id) = &spec.id {
            if !keys::is_uuid(id) {
                return Err("`id` must be a UUID".into());
            }
            key.key_id = id.clone();
            key.arn = keys::key_arn(ctx, id);
        }
        if let Some(material) = &spec.material {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(material)
                .map_err(|e| format!("`material` is not base64: {e}"))?;
            if bytes.len() != 32 {
                return Err(format!("`material` must be 32 bytes, got {}", bytes.len()));
            }
            key.material = bytes;
        }
        let mut turn = ctx.store().turn().await.map_err(|e| e.to_string())?;
        keys::insert(&mut turn, &key).await.map_err(|e| e.message)?;
        key.key_id
    };
    for alias in &spec.aliases {
        let created =
            call_json(ctx, JsonService::Kms, "CreateAlias", &json!({ "AliasName": alias, "TargetKeyId": key_id }))
                .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code == "AlreadyExistsException" => {}
            Err(e) => return Err(format!("CreateAlias {alias}: {} {}", e.code, e.message)),
        }
    }
    Ok(())
}

/// Runs an S3 request in process, through the handler an SDK request reaches.
async fn s3_call(
    ctx: &Ctx,
    method: http::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<(), String> {
    let uri: http::Uri = path.parse().map_err(|e| format!("{path}: {e}"))?;
    let mut headers = http::HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_str(ct).map_err(|e| e.to_string())?);
    }
    let req = crate::protocol::HttpRequest { method, uri, headers, body: body.into() };
    crate::services::s3::handle(ctx, &req).await.map(|_| ()).map_err(|e| format!("{} {}", e.code, e.message))
}

async fn load_bucket(ctx: &Ctx, bucket: &BucketSpec) -> Result<(), String> {
    use base64::Engine as _;
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    match s3_call(ctx, http::Method::PUT, &format!("/{}", enc(&bucket.name)), None, Vec::new()).await {
        Ok(()) => {}
        Err(e) if e.starts_with("BucketAlreadyOwnedByYou") => {}
        Err(e) => return Err(format!("CreateBucket: {e}")),
    }
    for object in &bucket.objects {
        let body = match (&object.body, &object.base64) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("object {}: `base64` is not base64: {e}", object.key))?,
            (None, None) => Vec::new(),
            (Some(_), Some(_)) => return Err(format!("object {}: give `body` or `base64`, not both", object.key)),
        };
        let path = format!("/{}/{}", enc(&bucket.name), object.key.split('/').map(enc).collect::<Vec<_>>().join("/"));
        s3_call(ctx, http::Method::PUT, &path, object.content_type.as_deref(), body)
            .await
            .map_err(|e| format!("PutObject {}: {e}", object.key))?;
    }
    Ok(())
}

async fn load_topic(ctx: &Ctx, topic: &TopicSpec) -> Result<(), String> {
    use crate::protocol::aws_query::QueryInput;
    let call = |pairs: Vec<(&'static str, String)>| async move {
        let form = serde_urlencoded::to_string(&pairs).map_err(|e| e.to_string())?;
        let input = QueryInput::parse(form.as_bytes()).map_err(|e| e.message)?;
        let resp = crate::services::sns::handle(ctx, &input).await.map_err(|e| format!("{} {}", e.code, e.message))?;
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(String::from_utf8_lossy(&body).into_owned())
    };
    // CreateTopic is idempotent by name; its ARN follows from the name.
    call(vec![
        ("Action", "CreateTopic".into()),
        ("Version", crate::services::sns::VERSION.into()),
        ("Name", topic.name.clone()),
    ])
    .await
    .map_err(|e| format!("CreateTopic: {e}"))?;
    let arn = format!("arn:aws:sns:{}:{}:{}", ctx.region, ctx.account(), topic.name);
    for s in &topic.subscriptions {
        call(vec![
            ("Action", "Subscribe".into()),
            ("Version", crate::services::sns::VERSION.into()),
            ("TopicArn", arn.clone()),
            ("Protocol", s.protocol.clone()),
            ("Endpoint", s.endpoint.clone()),
        ])
        .await
        .map_err(|e| format!("Subscribe {} {}: {e}", s.protocol, s.endpoint))?;
    }
    Ok(())
}

async fn load_table(ctx: &Ctx, table: &TableSpec) -> Result<(), String> {
    let call = |op: &'static str, input: Value| async move {
        call_json(ctx, JsonService::DynamoDb, op, &input).await.map_err(|e| format!("{op}: {} {}", e.code, e.message))
    };
    let exists =
        call_json(ctx, JsonService::DynamoDb, "DescribeTable", &json!({ "TableName": table.name })).await.is_ok();
    if !exists {
        let Some(pk) = &table.partition_key else {
            return Err("does not exist; give `partitionKey` to create it".into());
        };
        let mut attrs = vec![json!({ "AttributeName": pk.name, "AttributeType": pk.kind })];
        let mut schema = vec![json!({ "AttributeName": pk.name, "KeyType": "HASH" })];
        if let Some(sk) = &table.sort_key {
            attrs.push(json!({ "AttributeName": sk.name, "AttributeType": sk.kind }));
            schema.push(json!({ "AttributeName": sk.name, "KeyType": "RANGE" }));
        }
        call(
            "CreateTable",
            json!({ "TableName": table.name, "AttributeDefinitions": attrs, "KeySchema": schema, "BillingMode": "PAY_PER_REQUEST" }),
        )
        .await?;
    }
    for item in &table.items {
        call("PutItem", json!({ "TableName": table.name, "Item": item })).await?;
    }
    Ok(())
}

async fn load_pool(ctx: &Ctx, pool: &PoolSpec) -> Result<(), String> {
    let call = |op: &'static str, input: Value| async move {
        call_json(ctx, JsonService::Cognito, op, &input).await.map_err(|e| format!("{op}: {} {}", e.code, e.message))
    };
    let pools = call("ListUserPools", json!({ "MaxResults": 60 })).await?;
    let existing = pools["UserPools"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["Name"] == pool.name.as_str())
        .and_then(|p| p["Id"].as_str().map(str::to_string));
    let (pool_id, new) = match existing {
        Some(id) => (id, false),
        None => {
            // E-mail verified automatically, as sign-up by mailed code needs.
            let mut input = json!({ "PoolName": pool.name, "AutoVerifiedAttributes": ["email"] });
            if pool.admin_create_user_only {
                input["AdminCreateUserConfig"] = json!({ "AllowAdminCreateUserOnly": true });
            }
            let created = call("CreateUserPool", input).await?;
            (created["UserPool"]["Id"].as_str().ok_or("CreateUserPool: no id")?.to_string(), true)
        }
    };
    // Clients come with the pool: an existing pool keeps the clients it has.
    let mut client_ids = Vec::new();
    for client in pool.clients.iter().filter(|_| new) {
        let created = call(
            "CreateUserPoolClient",
            json!({ "UserPoolId": pool_id, "ClientName": client,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"] }),
        )
        .await?;
        client_ids.push(created["UserPoolClient"]["ClientId"].as_str().unwrap_or_default().to_string());
    }
    for user in &pool.users {
        let known = call("AdminGetUser", json!({ "UserPoolId": pool_id, "Username": user.username })).await.is_ok();
        if known {
            // Loading a world again leaves its users as they are.
            continue;
        }
        let attributes: Vec<Value> = user.attributes.iter().map(|(k, v)| json!({ "Name": k, "Value": v })).collect();
        if !user.confirmed {
            // Unconfirmed means signed up, code mailed, not yet confirmed: sign up as a user would.
            let client = client_ids.first().ok_or_else(|| {
                format!("user {}: an unconfirmed user signs up through a client; list one in `clients`", user.username)
            })?;
            call(
                "SignUp",
                json!({ "ClientId": client, "Username": user.username, "Password": user.password,
                        "UserAttributes": attributes }),
            )
            .await?;
            continue;
        }
        call(
            "AdminCreateUser",
            json!({ "UserPoolId": pool_id, "Username": user.username, "UserAttributes": attributes,
                    "MessageAction": "SUPPRESS", "TemporaryPassword": user.password }),
        )
        .await?;
        if user.force_change_password {
            // The temporary password stands until the user answers NEW_PASSWORD_REQUIRED.
            continue;
        }
        call(
            "AdminSetUserPassword",
            json!({ "UserPoolId": pool_id, "Username": user.username, "Password": user.password, "Permanent": true }),
        )
        .await?;
    }
    Ok(())
}
