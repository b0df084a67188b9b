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
//!   `pools` with their `clients` and `users` (passwords, attributes, confirmed or not). A
//!   world section never wipes: it adds what is missing (tables, pools with their clients,
//!   users) and puts its items, so loading a world twice is harmless.
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
}

/// Parses a fixture document (YAML, of which JSON is a subset).
pub fn parse(text: &str) -> Result<Fixture, String> {
    let fixture: Fixture = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if let Some(v) = fixture.fixture
        && v != FORMAT
    {
        return Err(format!("fixture format {v} (this emulator reads {FORMAT})"));
    }
    Ok(fixture)
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
    })
}

/// Loads a fixture into a running instance: exact state first, then the world sections.
pub async fn load(emu: &Arc<Emu>, fixture: &Fixture) -> Result<(), String> {
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
            let created =
                call("CreateUserPool", json!({ "PoolName": pool.name, "AutoVerifiedAttributes": ["email"] })).await?;
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
        call(
            "AdminSetUserPassword",
            json!({ "UserPoolId": pool_id, "Username": user.username, "Password": user.password, "Permanent": true }),
        )
        .await?;
    }
    Ok(())
}
