//! Single-item operations: PutItem, GetItem, DeleteItem.

use serde_json::{Value, json};
use sqlx::Row;

use super::tables::{self, Table};
use super::value::{Item, item_size, key_bytes};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// DynamoDB's maximum item size.
const MAX_ITEM_BYTES: usize = 400 * 1024;

fn invalid(why: &str) -> AwsError {
    AwsError::validation(format!("One or more parameter values were invalid: {why}"))
}

/// Encoded (partition, sort) key of a full item, with AWS's messages for bad keys.
pub fn item_key(table: &Table, item: &Item) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut parts = Vec::with_capacity(2);
    for key in std::iter::once(table.hash_key()).chain(table.range_key()) {
        let v = item.get(&key.name).ok_or_else(|| invalid(&format!("Missing the key {} in the item", key.name)))?;
        if v.type_name() != key.kind {
            return Err(invalid(&format!(
                "Type mismatch for key {} expected: {} actual: {}",
                key.name,
                key.kind,
                v.type_name()
            )));
        }
        let bytes = key_bytes(v).ok_or_else(|| invalid(&format!("Type mismatch for key {}", key.name)))?;
        if bytes.is_empty() {
            return Err(AwsError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                key.name
            )));
        }
        parts.push(bytes);
    }
    let sk = if parts.len() == 2 { parts.pop().unwrap_or_default() } else { Vec::new() };
    Ok((parts.pop().unwrap_or_default(), sk))
}

/// Encoded key from a `Key` argument, which must name exactly the table's key attributes.
pub fn key_argument(table: &Table, key: &Item) -> Result<(Vec<u8>, Vec<u8>)> {
    let expected = 1 + table.range_key().is_some() as usize;
    let mismatch = || AwsError::validation("The provided key element does not match the schema");
    if key.len() != expected {
        return Err(mismatch());
    }
    item_key(table, key).map_err(|e| if e.message.contains("empty string") { e } else { mismatch() })
}

fn validate_item(raw: Item) -> Result<Item> {
    raw.into_iter().map(|(k, v)| v.validate().map(|v| (k, v))).collect()
}

/// Parameters this implementation does not handle yet are refused rather than ignored.
fn refuse_unsupported(input: &Value, names: &[&str]) -> Result<()> {
    for n in names {
        if !input[*n].is_null() {
            return Err(AwsError::validation(format!("{n} is not supported by this emulator yet")));
        }
    }
    Ok(())
}

const EXPRESSION_PARAMS: &[&str] = &[
    "ConditionExpression",
    "ProjectionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
    "Expected",
    "AttributesToGet",
    "ConditionalOperator",
];

fn return_values(input: &Value) -> Result<bool> {
    match input["ReturnValues"].as_str() {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(_) => Err(AwsError::validation("Return values set to invalid value")),
    }
}

async fn load_item(tx: &mut sqlx::SqliteConnection, table: &str, pk: &[u8], sk: &[u8]) -> Result<Option<Item>> {
    let row = sqlx::query("SELECT item FROM ddb_items WHERE table_name = ? AND pk = ? AND sk = ?")
        .bind(table)
        .bind(pk)
        .bind(sk)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(r.get::<&str, _>(0)).ok()))
}

fn with_old(old: Option<Item>, wanted: bool) -> Value {
    match old {
        Some(item) if wanted => json!({ "Attributes": item }),
        _ => json!({}),
    }
}

pub async fn put_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    refuse_unsupported(&input, EXPRESSION_PARAMS)?;
    let raw: Item = serde_json::from_value(input.get("Item").cloned().ok_or_else(|| AwsError::member_null("Item"))?)
        .map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?;
    let want_old = return_values(&input)?;
    let table = tables::load(ctx, name).await?;
    let item = validate_item(raw)?;
    let (pk, sk) = item_key(&table, &item)?;
    let size = item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(AwsError::validation("Item size has exceeded the maximum allowed size"));
    }
    let mut tx = ctx.store().pool().begin_with("BEGIN IMMEDIATE").await?;
    let old = if want_old { load_item(&mut tx, &table.name, &pk, &sk).await? } else { None };
    sqlx::query(
        "INSERT INTO ddb_items (table_name, pk, sk, item, size) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (table_name, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size",
    )
    .bind(&table.name)
    .bind(&pk)
    .bind(&sk)
    .bind(serde_json::to_string(&item).unwrap_or_default())
    .bind(size as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(with_old(old, want_old))
}

fn key_input(input: &Value) -> Result<Item> {
    let key = input.get("Key").cloned().ok_or_else(|| AwsError::member_null("Key"))?;
    let key: Item =
        serde_json::from_value(key).map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?;
    validate_item(key)
}

pub async fn get_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    refuse_unsupported(&input, EXPRESSION_PARAMS)?;
    let key = key_input(&input)?;
    let table = tables::load(ctx, name).await?;
    let (pk, sk) = key_argument(&table, &key)?;
    let mut conn = ctx.store().pool().acquire().await?;
    Ok(match load_item(&mut conn, &table.name, &pk, &sk).await? {
        Some(item) => json!({ "Item": item }),
        None => json!({}),
    })
}

pub async fn delete_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    refuse_unsupported(&input, EXPRESSION_PARAMS)?;
    let key = key_input(&input)?;
    let want_old = return_values(&input)?;
    let table = tables::load(ctx, name).await?;
    let (pk, sk) = key_argument(&table, &key)?;
    let mut tx = ctx.store().pool().begin_with("BEGIN IMMEDIATE").await?;
    let old = load_item(&mut tx, &table.name, &pk, &sk).await?;
    sqlx::query("DELETE FROM ddb_items WHERE table_name = ? AND pk = ? AND sk = ?")
        .bind(&table.name)
        .bind(&pk)
        .bind(&sk)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(with_old(old, want_old))
}
