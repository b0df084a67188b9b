//! KMS keys: id, ARN, aliases, state, spec and usage, description, policy, dates.
//!
//! Keys and aliases are listed with `ListKeys` and `ListAliases` in process; each key's record
//! is then read from the KMS store rather than with `DescribeKey`/`GetKeyPolicy`, because a key
//! policy may deny the account root those calls (recipient-bound keys do) and the console must
//! still show it. Key material never leaves the store.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, from_aws};
use crate::error::Result;
use crate::services::kms::keys;
use crate::services::{JsonService, call_json};
use crate::state::Ctx;

fn epoch(secs: f64) -> Value {
    chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into())
        .unwrap_or(Value::Null)
}

/// Every page of a KMS listing operation, concatenated.
async fn list_all(ctx: &Ctx, op: &str, member: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut input = json!({ "Limit": 1000 });
        if let Some(m) = &marker {
            input["Marker"] = m.clone().into();
        }
        let page = call_json(ctx, JsonService::Kms, op, &input).await?;
        out.extend(page[member].as_array().cloned().unwrap_or_default());
        match page["NextMarker"].as_str() {
            Some(m) if page["Truncated"] == true => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

async fn all_keys(ctx: &Ctx) -> Result<Vec<Value>> {
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in list_all(ctx, "ListAliases", "Aliases").await? {
        if let (Some(key), Some(name)) = (a["TargetKeyId"].as_str(), a["AliasName"].as_str()) {
            aliases.entry(key.to_string()).or_default().push(name.to_string());
        }
    }
    let mut out = Vec::new();
    for entry in list_all(ctx, "ListKeys", "Keys").await? {
        let Some(id) = entry["KeyId"].as_str() else { continue };
        let Some(k) = keys::load(ctx, id).await? else { continue };
        let policy = serde_json::from_str::<Value>(&k.policy).unwrap_or_else(|_| Value::String(k.policy.clone()));
        out.push(json!({
            "keyId": k.key_id,
            "arn": k.arn,
            "aliases": aliases.remove(&k.key_id).unwrap_or_default(),
            "state": k.state,
            "keySpec": k.key_spec,
            "keyUsage": k.key_usage,
            "keyManager": k.key_manager,
            "description": k.description,
            "created": epoch(k.created_at),
            "deletionDate": k.deletion_date.map(epoch),
            "tags": k.tags,
            "policy": policy,
        }));
    }
    Ok(out)
}

/// `GET /console/keys`.
pub(super) async fn keys(State(emu): Shared) -> Response {
    match all_keys(&Ctx::internal(&emu)).await {
        Ok(k) => axum::Json(json!({ "keys": k })).into_response(),
        Err(e) => from_aws(e),
    }
}
