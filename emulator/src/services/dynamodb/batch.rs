//! BatchWriteItem, BatchGetItem, TransactWriteItems, TransactGetItems.
//!
//! Batches apply each request on its own (there is no unprocessed remainder locally).
//! Transactions run all their conditions and writes inside one SQLite write transaction: either
//! every write happens or none, and a failed condition cancels the whole transaction with
//! `TransactionCanceledException` and one `CancellationReasons` entry per item, as on AWS.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use sqlx::Row;

use super::items::{self, Write};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// How long a ClientRequestToken of TransactWriteItems is remembered (AWS: ten minutes).
const TOKEN_WINDOW_SECS: f64 = 600.0;

fn duplicates() -> AwsError {
    AwsError::validation("Provided list of item keys contains duplicates")
}

pub async fn batch_write_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let requests = input["RequestItems"].as_object().ok_or_else(|| AwsError::member_null("RequestItems"))?;
    let total: usize = requests.values().map(|v| v.as_array().map_or(0, Vec::len)).sum();
    if total == 0 || total > 25 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to 25 and greater than or equal to 1 (got {total})"
        )));
    }
    let mut writes = Vec::new();
    let mut seen = HashSet::new();
    for (table, list) in requests {
        for r in list.as_array().into_iter().flatten() {
            let (kind, body) = match (r.get("PutRequest"), r.get("DeleteRequest")) {
                (Some(p), None) => ("Put", p),
                (None, Some(d)) => ("Delete", d),
                _ => {
                    return Err(AwsError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            let mut body = body.clone();
            body["TableName"] = table.clone().into();
            let w = items::prepare(ctx, kind, &body).await?;
            if !seen.insert((w.table.name.clone(), w.pk.clone(), w.sk.clone())) {
                return Err(duplicates());
            }
            writes.push(w);
        }
    }
    let mut tx = ctx.store().begin_write().await?;
    for w in &writes {
        let old = items::load_for(&mut tx, w).await?;
        items::execute(&mut tx, ctx, w, old).await?;
    }
    items::commit(ctx, tx).await?;
    Ok(json!({ "UnprocessedItems": {} }))
}

pub async fn batch_get_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let requests = input["RequestItems"].as_object().ok_or_else(|| AwsError::member_null("RequestItems"))?;
    let total: usize = requests.values().map(|v| v["Keys"].as_array().map_or(0, Vec::len)).sum();
    if total == 0 || total > 100 {
        return Err(AwsError::validation(
            "Too many items requested for the BatchGetItem call: the number of keys must be between 1 and 100",
        ));
    }
    let mut responses = Map::new();
    for (table, req) in requests {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for key in req["Keys"].as_array().into_iter().flatten() {
            let mut one = req.clone();
            if let Some(o) = one.as_object_mut() {
                o.remove("Keys");
                o.insert("TableName".into(), table.clone().into());
                o.insert("Key".into(), key.clone());
            }
            let key_text = key.to_string();
            if !seen.insert(key_text) {
                return Err(duplicates());
            }
            if let Some(item) = items::get_item(ctx, one).await?.get("Item") {
                found.push(item.clone());
            }
        }
        responses.insert(table.clone(), Value::Array(found));
    }
    Ok(json!({ "Responses": responses, "UnprocessedKeys": {} }))
}

/// Kinds of transaction items and the prepared-write kinds they map to.
const TRANSACT_KINDS: &[(&str, &str)] =
    &[("Put", "Put"), ("Delete", "Delete"), ("Update", "Update"), ("ConditionCheck", "Check")];

pub async fn transact_write_items(ctx: &Ctx, input: Value) -> Result<Value> {
    let list = input["TransactItems"].as_array().ok_or_else(|| AwsError::member_null("TransactItems"))?;
    if list.is_empty() || list.len() > 100 {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1",
        ));
    }
    let token = input["ClientRequestToken"].as_str().map(str::to_string);
    let mut writes: Vec<Write> = Vec::new();
    let mut seen = HashSet::new();
    for entry in list {
        let (kind, body) =
            TRANSACT_KINDS.iter().find_map(|(k, kind)| entry.get(*k).map(|b| (*kind, b))).ok_or_else(|| {
                AwsError::validation("TransactItems can only contain one of Check, Put, Update or Delete")
            })?;
        let w = items::prepare(ctx, kind, body).await?;
        if !seen.insert((w.table.name.clone(), w.pk.clone(), w.sk.clone())) {
            return Err(AwsError::validation("Transaction request cannot include multiple operations on one item"));
        }
        writes.push(w);
    }
    let mut tx = ctx.store().begin_write().await?;
    // Idempotency: the same token with the same request is a no-op success for ten minutes.
    if let Some(t) = &token {
        let fingerprint = input["TransactItems"].to_string();
        let row = sqlx::query("SELECT request, created_at FROM ddb_transaction_tokens WHERE token = ?")
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = row
            && r.get::<f64, _>(1) + TOKEN_WINDOW_SECS > ctx.epoch()
        {
            if r.get::<String, _>(0) == fingerprint {
                return Ok(json!({}));
            }
            return Err(AwsError::bad_request(
                "IdempotentParameterMismatchException",
                "The request uses the same client token as a previous, but non-identical request.",
            ));
        }
        // Tokens past the window are forgotten, as AWS forgets them: SDKs send a fresh token with
        // every transaction, so kept for ever they would pile up in the state and its exports.
        sqlx::query("DELETE FROM ddb_transaction_tokens WHERE created_at + ? <= ?")
            .bind(TOKEN_WINDOW_SECS)
            .bind(ctx.epoch())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT OR REPLACE INTO ddb_transaction_tokens (token, request, created_at) VALUES (?, ?, ?)")
            .bind(t)
            .bind(fingerprint)
            .bind(ctx.epoch())
            .execute(&mut *tx)
            .await?;
    }
    let mut olds = Vec::with_capacity(writes.len());
    let mut reasons = Vec::with_capacity(writes.len());
    let mut failed = false;
    for w in &writes {
        let old = items::load_for(&mut tx, w).await?;
        if items::condition_holds(w, old.as_ref())? {
            reasons.push(json!({ "Code": "None" }));
        } else {
            failed = true;
            let mut reason = json!({ "Code": "ConditionalCheckFailed", "Message": "The conditional request failed" });
            if let Some(item) = old.as_ref().filter(|_| w.old_on_failure) {
                reason["Item"] = serde_json::to_value(item).unwrap_or_default();
            }
            reasons.push(reason);
        }
        olds.push(old);
    }
    if failed {
        // Dropping `tx` rolls back (the token record included).
        let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
        return Err(AwsError::bad_request(
            "TransactionCanceledException",
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        )
        .with_json("CancellationReasons", Value::Array(reasons)));
    }
    for (w, old) in writes.iter().zip(olds) {
        items::execute(&mut tx, ctx, w, old).await?;
    }
    items::commit(ctx, tx).await?;
    Ok(json!({}))
}

pub async fn transact_get_items(ctx: &Ctx, input: Value) -> Result<Value> {
    let list = input["TransactItems"].as_array().ok_or_else(|| AwsError::member_null("TransactItems"))?;
    if list.is_empty() || list.len() > 100 {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1",
        ));
    }
    let mut responses = Vec::with_capacity(list.len());
    for entry in list {
        let get = entry.get("Get").ok_or_else(|| AwsError::member_null("Get"))?;
        let out = items::get_item(ctx, get.clone()).await?;
        responses.push(match out.get("Item") {
            Some(item) => json!({ "Item": item }),
            None => json!({}),
        });
    }
    Ok(json!({ "Responses": responses }))
}
