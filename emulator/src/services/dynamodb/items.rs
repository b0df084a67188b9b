//! Single-item operations: PutItem, GetItem, DeleteItem.

use serde_json::{Value, json};
use sqlx::Row;

use std::collections::BTreeSet;

use super::eval::{self, Values};
use super::expr::{self, Kind, Names, Path, PathElem, Placeholders, Usage};
use super::tables::{self, Table};
use super::value::{AttributeValue, Item, item_size, key_bytes};
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

/// The legacy (pre-expression) parameters, not emulated.
const LEGACY_PARAMS: &[&str] = &["Expected", "AttributesToGet", "ConditionalOperator", "AttributeUpdates"];

/// One request's expression placeholders and which of them its expressions used.
pub(super) struct Exprs {
    names: Names,
    pub values: Values,
    keys: BTreeSet<String>,
    usage: Usage,
}

impl Exprs {
    pub fn from(input: &Value) -> Result<Exprs> {
        let names: Names = match input.get("ExpressionAttributeNames") {
            None | Some(Value::Null) => Names::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?,
        };
        let raw: std::collections::HashMap<String, AttributeValue> = match input.get("ExpressionAttributeValues") {
            None | Some(Value::Null) => Default::default(),
            Some(Value::Object(m)) if m.is_empty() => {
                return Err(AwsError::validation("ExpressionAttributeValues must not be empty"));
            }
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?,
        };
        let mut values = Values::new();
        for (k, v) in raw {
            if !k.starts_with(':') || k.len() < 2 {
                return Err(AwsError::validation(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                )));
            }
            values.insert(k, v.validate()?);
        }
        for k in names.keys() {
            if !k.starts_with('#') || k.len() < 2 {
                return Err(AwsError::validation(format!(
                    "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                )));
            }
        }
        let keys = values.keys().cloned().collect();
        Ok(Exprs { names, values, keys, usage: Usage::default() })
    }

    pub fn condition(&mut self, kind: Kind, text: Option<&str>) -> Result<Option<expr::Condition>> {
        let Some(text) = text else { return Ok(None) };
        let ph = Placeholders { names: &self.names, values: &self.keys };
        expr::parse_condition(kind, text, &ph, &mut self.usage).map(Some).map_err(|e| AwsError::validation(e.message))
    }

    pub fn projection(&mut self, text: Option<&str>) -> Result<Option<Vec<Path>>> {
        let Some(text) = text else { return Ok(None) };
        let ph = Placeholders { names: &self.names, values: &self.keys };
        expr::parse_projection(text, &ph, &mut self.usage).map(Some).map_err(|e| AwsError::validation(e.message))
    }

    pub fn key_condition(&mut self, text: &str) -> Result<Vec<(String, expr::KeyPredicate)>> {
        let ph = Placeholders { names: &self.names, values: &self.keys };
        expr::parse_key_condition(text, &ph, &mut self.usage).map_err(|e| AwsError::validation(e.message))
    }

    fn update(&mut self, text: Option<&str>) -> Result<Option<expr::Update>> {
        let Some(text) = text else { return Ok(None) };
        let ph = Placeholders { names: &self.names, values: &self.keys };
        expr::parse_update(text, &ph, &mut self.usage).map(Some).map_err(|e| AwsError::validation(e.message))
    }

    /// Names or values given but used by no expression are an error, as on AWS.
    pub fn finish(&self) -> Result<()> {
        let ph = Placeholders { names: &self.names, values: &self.keys };
        expr::check_unused(&self.usage, &ph).map_err(|e| AwsError::validation(e.message))
    }
}

pub(super) fn conditional_check_failed() -> AwsError {
    AwsError::bad_request("ConditionalCheckFailedException", "The conditional request failed")
}

/// The attributes a ProjectionExpression selects, nested as in the item.
pub(super) fn project(item: &Item, paths: &[Path]) -> Item {
    let mut out = Item::new();
    for path in paths {
        let Some(v) = eval::resolve(item, path) else { continue };
        let mut elems = path.0.iter();
        let Some(PathElem::Attr(first)) = elems.next() else { continue };
        let rest: Vec<&PathElem> = elems.collect();
        if rest.is_empty() {
            out.insert(first.clone(), v.clone());
            continue;
        }
        let slot = out.entry(first.clone()).or_insert_with(|| container_for(rest[0]));
        insert_nested(slot, &rest, v.clone());
    }
    out
}

fn container_for(e: &PathElem) -> AttributeValue {
    match e {
        PathElem::Attr(_) => AttributeValue::M(Default::default()),
        PathElem::Index(_) => AttributeValue::L(Vec::new()),
    }
}

fn insert_nested(slot: &mut AttributeValue, rest: &[&PathElem], v: AttributeValue) {
    let (head, tail) = (rest[0], &rest[1..]);
    match (head, slot) {
        (PathElem::Attr(a), AttributeValue::M(m)) => {
            if tail.is_empty() {
                m.insert(a.clone(), v);
            } else {
                insert_nested(m.entry(a.clone()).or_insert_with(|| container_for(tail[0])), tail, v);
            }
        }
        (PathElem::Index(_), AttributeValue::L(l)) => {
            if tail.is_empty() {
                l.push(v);
            } else {
                l.push(container_for(tail[0]));
                if let Some(last) = l.last_mut() {
                    insert_nested(last, tail, v);
                }
            }
        }
        _ => {}
    }
}

async fn save(tx: &mut sqlx::SqliteConnection, table: &Table, pk: &[u8], sk: &[u8], item: &Item) -> Result<()> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(AwsError::validation("Item size has exceeded the maximum allowed size"));
    }
    sqlx::query(
        "INSERT INTO ddb_items (table_name, pk, sk, item, size, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (table_name, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size,
           expires_at = excluded.expires_at",
    )
    .bind(&table.name)
    .bind(pk)
    .bind(sk)
    .bind(serde_json::to_string(item).unwrap_or_default())
    .bind(size as i64)
    .bind(super::ttl::expiry(table, item))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

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

pub(super) fn key_input(input: &Value) -> Result<Item> {
    let key = input.get("Key").cloned().ok_or_else(|| AwsError::member_null("Key"))?;
    let key: Item =
        serde_json::from_value(key).map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?;
    validate_item(key)
}

pub async fn get_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    refuse_unsupported(&input, LEGACY_PARAMS)?;
    let key = key_input(&input)?;
    let mut exprs = Exprs::from(&input)?;
    let projection = exprs.projection(input["ProjectionExpression"].as_str())?;
    exprs.finish()?;
    let table = tables::load(ctx, name).await?;
    let (pk, sk) = key_argument(&table, &key)?;
    let mut conn = ctx.store().pool().acquire().await?;
    Ok(match load_item(&mut conn, &table.name, &pk, &sk).await? {
        Some(item) => {
            let item = match &projection {
                Some(paths) => project(&item, paths),
                None => item,
            };
            json!({ "Item": item })
        }
        None => json!({}),
    })
}

/// What a write does once its item is loaded.
pub(super) enum Action {
    Put(Item),
    Delete,
    Update(Option<expr::Update>),
    Check,
}

/// One write, validated and parsed, ready to run inside a transaction.
pub(super) struct Write {
    pub table: Table,
    pub pk: Vec<u8>,
    pub sk: Vec<u8>,
    pub key: Item,
    pub action: Action,
    pub cond: Option<expr::Condition>,
    pub values: Values,
    pub touched: BTreeSet<String>,
    /// ReturnValuesOnConditionCheckFailure is ALL_OLD: a failed condition reports the item.
    pub old_on_failure: bool,
}

fn table_name(input: &Value) -> Result<&str> {
    input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))
}

/// Validates a Put, Delete, Update or ConditionCheck request (single, batch or transaction).
pub(super) async fn prepare(ctx: &Ctx, kind: &str, input: &Value) -> Result<Write> {
    let name = table_name(input)?;
    refuse_unsupported(input, LEGACY_PARAMS)?;
    let mut exprs = Exprs::from(input)?;
    let (item, key) = if kind == "Put" {
        let raw: Item =
            serde_json::from_value(input.get("Item").cloned().ok_or_else(|| AwsError::member_null("Item"))?)
                .map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?;
        (Some(validate_item(raw)?), None)
    } else {
        (None, Some(key_input(input)?))
    };
    let update = if kind == "Update" { exprs.update(input["UpdateExpression"].as_str())? } else { None };
    let old_on_failure = match input["ReturnValuesOnConditionCheckFailure"].as_str() {
        None | Some("NONE") => false,
        Some("ALL_OLD") => true,
        Some(other) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
            )));
        }
    };
    let cond = exprs.condition(Kind::Condition, input["ConditionExpression"].as_str())?;
    if kind == "Check" && cond.is_none() {
        return Err(AwsError::member_null("ConditionExpression"));
    }
    exprs.finish()?;
    let table = tables::load(ctx, name).await?;
    let (pk, sk, key) = match (&item, key) {
        (Some(item), _) => {
            let (pk, sk) = item_key(&table, item)?;
            if item_size(item) > MAX_ITEM_BYTES {
                return Err(AwsError::validation("Item size has exceeded the maximum allowed size"));
            }
            let key = std::iter::once(table.hash_key())
                .chain(table.range_key())
                .filter_map(|k| item.get(&k.name).map(|v| (k.name.clone(), v.clone())))
                .collect();
            (pk, sk, key)
        }
        (None, Some(key)) => {
            let (pk, sk) = key_argument(&table, &key)?;
            (pk, sk, key)
        }
        (None, None) => unreachable!("either an item or a key was read above"),
    };
    let touched = update.as_ref().map(eval::touched).unwrap_or_default();
    for k in std::iter::once(table.hash_key()).chain(table.range_key()) {
        if touched.contains(&k.name) {
            return Err(AwsError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                k.name
            )));
        }
    }
    let action = match (kind, item) {
        ("Put", Some(item)) => Action::Put(item),
        ("Delete", _) => Action::Delete,
        ("Update", _) => Action::Update(update),
        _ => Action::Check,
    };
    Ok(Write { table, pk, sk, key, action, cond, values: exprs.values, touched, old_on_failure })
}

/// Whether a write's condition holds for the item as stored.
pub(super) fn condition_holds(w: &Write, old: Option<&Item>) -> Result<bool> {
    let Some(cond) = &w.cond else { return Ok(true) };
    let empty = Item::new();
    eval::evaluate(cond, old.unwrap_or(&empty), &w.values)
}

/// Runs a prepared write in `tx` (its condition already checked): the old and new item.
pub(super) async fn execute(
    tx: &mut sqlx::SqliteConnection,
    ctx: &Ctx,
    w: &Write,
    old: Option<Item>,
) -> Result<(Option<Item>, Option<Item>)> {
    let new = match &w.action {
        Action::Check => return Ok((old.clone(), old)),
        Action::Put(item) => Some(item.clone()),
        Action::Delete => None,
        Action::Update(u) => {
            let base = old.clone().unwrap_or_else(|| w.key.clone());
            Some(match u {
                Some(u) => eval::apply(u, &base, &w.values)?,
                None => base,
            })
        }
    };
    sync_indexes(tx, &w.table, &w.pk, &w.sk, new.as_ref()).await?;
    match &new {
        Some(item) => {
            save(tx, &w.table, &w.pk, &w.sk, item).await?;
            if let Some(at) = super::ttl::expiry(&w.table, item) {
                ctx.emu.ttl_quiet.lower(at);
            }
        }
        None => {
            sqlx::query("DELETE FROM ddb_items WHERE table_name = ? AND pk = ? AND sk = ?")
                .bind(&w.table.name)
                .bind(&w.pk)
                .bind(&w.sk)
                .execute(&mut *tx)
                .await?;
        }
    }
    super::streams::record(tx, ctx, &w.table, old.as_ref(), new.as_ref(), None).await?;
    Ok((old, new))
}

/// Commits a transaction that wrote items and wakes stream pollers.
pub(super) async fn commit(ctx: &Ctx, tx: crate::store::WriteTx) -> Result<()> {
    tx.commit().await?;
    ctx.emu.stream_writes.notify_waiters();
    Ok(())
}

/// The encoded index key of an item, or `None` when the item lacks an index key attribute
/// (secondary indexes are sparse). A key attribute of the wrong type is refused, as on AWS.
pub(super) fn index_key(ix: &tables::Index, item: &Item) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut parts = Vec::with_capacity(2);
    for key in std::iter::once(&ix.keys.hash).chain(ix.keys.range.as_ref()) {
        let Some(v) = item.get(&key.name) else { return Ok(None) };
        if v.type_name() != key.kind {
            return Err(invalid(&format!(
                "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                key.name,
                key.kind,
                v.type_name(),
                ix.name
            )));
        }
        let bytes = key_bytes(v).unwrap_or_default();
        if bytes.is_empty() {
            return Err(AwsError::validation(format!(
                "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                ix.name, key.name
            )));
        }
        parts.push(bytes);
    }
    let isk = if parts.len() == 2 { parts.pop().unwrap_or_default() } else { Vec::new() };
    Ok(Some((parts.pop().unwrap_or_default(), isk)))
}

/// The attributes an index stores for an item: all, or the table and index keys (plus the
/// INCLUDE list).
fn project_for_index(table: &Table, ix: &tables::Index, item: &Item) -> Item {
    if ix.projection == "ALL" {
        return item.clone();
    }
    let keys = [Some(table.hash_key()), table.range_key(), Some(ix.keys.hash.clone()), ix.keys.range.clone()];
    let mut names: Vec<String> = keys.into_iter().flatten().map(|k| k.name).collect();
    if ix.projection == "INCLUDE" {
        names.extend(ix.non_key.iter().cloned());
    }
    item.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Brings every secondary index in step with the item now stored under (pk, sk).
async fn sync_indexes(
    tx: &mut sqlx::SqliteConnection,
    table: &Table,
    pk: &[u8],
    sk: &[u8],
    item: Option<&Item>,
) -> Result<()> {
    let indexes = table.indexes();
    if indexes.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM ddb_index_items WHERE table_name = ? AND pk = ? AND sk = ?")
        .bind(&table.name)
        .bind(pk)
        .bind(sk)
        .execute(&mut *tx)
        .await?;
    let Some(item) = item else { return Ok(()) };
    for ix in &indexes {
        let Some((ipk, isk)) = index_key(ix, item)? else { continue };
        insert_index_entry(tx, table, ix, (&ipk, &isk), (pk, sk), item).await?;
    }
    Ok(())
}

async fn insert_index_entry(
    tx: &mut sqlx::SqliteConnection,
    table: &Table,
    ix: &tables::Index,
    (ipk, isk): (&[u8], &[u8]),
    (pk, sk): (&[u8], &[u8]),
    item: &Item,
) -> Result<()> {
    let projected = project_for_index(table, ix, item);
    sqlx::query(
        "INSERT INTO ddb_index_items (table_name, index_name, ipk, isk, pk, sk, item, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&table.name)
    .bind(&ix.name)
    .bind(ipk)
    .bind(isk)
    .bind(pk)
    .bind(sk)
    .bind(serde_json::to_string(&projected).unwrap_or_default())
    .bind(item_size(&projected) as i64)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Fills a newly created index from the table's items. Items whose index key attribute has the
/// wrong type are left out of the index (AWS reports them as index violations; the table keeps them).
pub(super) async fn backfill_index(tx: &mut sqlx::SqliteConnection, table: &Table, ix: &tables::Index) -> Result<()> {
    let rows = sqlx::query("SELECT pk, sk, item FROM ddb_items WHERE table_name = ?")
        .bind(&table.name)
        .fetch_all(&mut *tx)
        .await?;
    for r in rows {
        let Ok(item) = serde_json::from_str::<Item>(r.get::<&str, _>(2)) else { continue };
        let Ok(Some((ipk, isk))) = index_key(ix, &item) else { continue };
        let (pk, sk): (Vec<u8>, Vec<u8>) = (r.get(0), r.get(1));
        insert_index_entry(tx, table, ix, (&ipk, &isk), (&pk, &sk), &item).await?;
    }
    Ok(())
}

pub(super) async fn load_for(tx: &mut sqlx::SqliteConnection, w: &Write) -> Result<Option<Item>> {
    load_item(tx, &w.table.name, &w.pk, &w.sk).await
}

/// A single write: load, check, apply, commit.
async fn single(ctx: &Ctx, kind: &str, input: &Value) -> Result<(Write, Option<Item>, Option<Item>)> {
    let w = prepare(ctx, kind, input).await?;
    let mut tx = ctx.store().begin_write().await?;
    let old = load_for(&mut tx, &w).await?;
    if !condition_holds(&w, old.as_ref())? {
        let err = conditional_check_failed();
        return Err(match old {
            Some(item) if w.old_on_failure => err.with_json("Item", serde_json::to_value(item).unwrap_or_default()),
            _ => err,
        });
    }
    let (old, new) = execute(&mut tx, ctx, &w, old).await?;
    commit(ctx, tx).await?;
    Ok((w, old, new))
}

pub async fn put_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let want_old = return_values(&input)?;
    let (_, old, _) = single(ctx, "Put", &input).await?;
    Ok(with_old(old, want_old))
}

pub async fn delete_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let want_old = return_values(&input)?;
    let (_, old, _) = single(ctx, "Delete", &input).await?;
    Ok(with_old(old, want_old))
}

/// UpdateItem: creates the item if absent; condition, update and write in one transaction.
pub async fn update_item(ctx: &Ctx, input: Value) -> Result<Value> {
    let returns = input["ReturnValues"].as_str().unwrap_or("NONE");
    if !matches!(returns, "NONE" | "ALL_OLD" | "UPDATED_OLD" | "ALL_NEW" | "UPDATED_NEW") {
        return Err(AwsError::validation("Return values set to invalid value"));
    }
    let (w, old, new) = single(ctx, "Update", &input).await?;
    let only = |item: &Item| -> Item {
        item.iter().filter(|(k, _)| w.touched.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let attributes = match returns {
        "ALL_OLD" => old,
        "UPDATED_OLD" => old.as_ref().map(only),
        "ALL_NEW" => new,
        "UPDATED_NEW" => new.as_ref().map(only),
        _ => None,
    };
    Ok(match attributes {
        Some(a) if !a.is_empty() => json!({ "Attributes": a }),
        _ => json!({}),
    })
}
