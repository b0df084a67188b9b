//! Query and Scan. A key condition becomes a range over the encoded sort key within one
//! partition, read in key order (reversed for `ScanIndexForward=false`). As on AWS, `Limit` and
//! the 1 MB page size bound the items *evaluated*; the filter runs afterwards, so a page may hold
//! fewer items than `Limit`, and `LastEvaluatedKey` marks where the next page starts.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::eval::{self, Values};
use super::expr::{CmpOp, Condition, KeyPredicate, Kind, Path};
use super::items::{self, Exprs};
use super::tables::{self, KeyAttr, KeySchema, Table};
use super::value::{AttributeValue, Item, key_bytes};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// DynamoDB's page size limit for Query and Scan.
const PAGE_BYTES: i64 = 1024 * 1024;

/// A range over encoded sort keys: each bound with whether it is inclusive.
#[derive(Debug, Default, Clone)]
struct Range {
    lower: Option<(Vec<u8>, bool)>,
    upper: Option<(Vec<u8>, bool)>,
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

fn unsupported_key_condition() -> AwsError {
    AwsError::validation("Query key condition not supported")
}

fn key_value(exprs: &Exprs, placeholder: &str, key: &KeyAttr) -> Result<(AttributeValue, Vec<u8>)> {
    let v = exprs.values.get(placeholder).cloned().ok_or_else(|| {
        AwsError::validation(format!("Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: {placeholder}"))
    })?;
    if v.type_name() != key.kind {
        return Err(AwsError::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    let bytes = key_bytes(&v).ok_or_else(unsupported_key_condition)?;
    Ok((v, bytes))
}

/// The partition (encoded) and sort-key range a key condition selects.
fn key_range(schema: &KeySchema, exprs: &Exprs, parts: Vec<(String, KeyPredicate)>) -> Result<(Vec<u8>, Range)> {
    let hash = schema.hash.clone();
    let range_key = schema.range.clone();
    let mut partition = None;
    let mut range = Range::default();
    for (attr, pred) in parts {
        if attr == hash.name {
            let KeyPredicate::Cmp(CmpOp::Eq, v) = pred else { return Err(unsupported_key_condition()) };
            partition = Some(key_value(exprs, &v, &hash)?.1);
            continue;
        }
        let Some(rk) = range_key.as_ref().filter(|rk| rk.name == attr) else {
            return Err(unsupported_key_condition());
        };
        range = match pred {
            KeyPredicate::Cmp(op, v) => {
                let b = key_value(exprs, &v, rk)?.1;
                match op {
                    CmpOp::Eq => Range { lower: Some((b.clone(), true)), upper: Some((b, true)) },
                    CmpOp::Lt => Range { lower: None, upper: Some((b, false)) },
                    CmpOp::Le => Range { lower: None, upper: Some((b, true)) },
                    CmpOp::Gt => Range { lower: Some((b, false)), upper: None },
                    CmpOp::Ge => Range { lower: Some((b, true)), upper: None },
                    CmpOp::Ne => return Err(unsupported_key_condition()),
                }
            }
            KeyPredicate::Between(lo, hi) => {
                let (lo, hi) = (key_value(exprs, &lo, rk)?, key_value(exprs, &hi, rk)?);
                if lo.1 > hi.1 {
                    return Err(AwsError::validation(
                        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                    ));
                }
                Range { lower: Some((lo.1, true)), upper: Some((hi.1, true)) }
            }
            KeyPredicate::BeginsWith(p) => {
                if rk.kind == "N" {
                    return Err(AwsError::validation(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                    ));
                }
                let p = key_value(exprs, &p, rk)?.1;
                Range { upper: prefix_end(&p).map(|e| (e, false)), lower: Some((p, true)) }
            }
        };
    }
    let partition = partition
        .ok_or_else(|| AwsError::validation(format!("Query condition missed key schema element: {}", hash.name)))?;
    Ok((partition, range))
}

/// Which attributes to return, per `Select` and `ProjectionExpression`.
enum Selection {
    All,
    Count,
    Paths(Vec<Path>),
}

fn selection(input: &Value, projection: Option<Vec<Path>>) -> Result<Selection> {
    match (input["Select"].as_str(), projection) {
        (Some("COUNT"), None) => Ok(Selection::Count),
        (Some("COUNT"), Some(_)) | (Some("ALL_ATTRIBUTES"), Some(_)) => Err(AwsError::validation(
            "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES or COUNT",
        )),
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            Err(AwsError::validation("SPECIFIC_ATTRIBUTES requires a ProjectionExpression"))
        }
        (None | Some("SPECIFIC_ATTRIBUTES"), Some(p)) => Ok(Selection::Paths(p)),
        (None | Some("ALL_ATTRIBUTES") | Some("ALL_PROJECTED_ATTRIBUTES"), None) => Ok(Selection::All),
        (Some(other), _) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
        ))),
    }
}

fn limit(input: &Value) -> Result<Option<i64>> {
    match input["Limit"].as_i64() {
        None => Ok(None),
        Some(l) if l >= 1 => Ok(Some(l)),
        Some(l) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))),
    }
}

/// The key attributes of an item (for LastEvaluatedKey).
fn key_of(names: &[String], item: &Item) -> Item {
    names.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect()
}

/// LastEvaluatedKey names the table's key attributes, plus the index's when reading an index.
fn key_names(table: &Table, index: Option<&tables::Index>) -> Vec<String> {
    let mut keys = vec![Some(table.hash_key()), table.range_key()];
    if let Some(ix) = index {
        keys.extend([Some(ix.keys.hash.clone()), ix.keys.range.clone()]);
    }
    let mut names: Vec<String> = keys.into_iter().flatten().map(|k| k.name).collect();
    names.dedup();
    names
}

/// A bound SQL parameter.
enum Bind {
    Text(String),
    Blob(Vec<u8>),
}

/// Turns evaluated rows into the response: filter, projection, Count/ScannedCount, page key.
fn page(
    keys: &[String],
    rows: Vec<Item>,
    more: bool,
    filter: Option<&Condition>,
    sel: &Selection,
    vals: &Values,
) -> Result<Value> {
    let scanned = rows.len();
    let last_key = if more { rows.last().map(|i| key_of(keys, i)) } else { None };
    let mut kept = Vec::new();
    for item in rows {
        if let Some(f) = filter
            && !eval::evaluate(f, &item, vals)?
        {
            continue;
        }
        kept.push(item);
    }
    let mut out = json!({ "Count": kept.len(), "ScannedCount": scanned });
    match sel {
        Selection::Count => {}
        Selection::All => out["Items"] = serde_json::to_value(&kept).unwrap_or_default(),
        Selection::Paths(p) => {
            let projected: Vec<Item> = kept.iter().map(|i| items::project(i, p)).collect();
            out["Items"] = serde_json::to_value(projected).unwrap_or_default();
        }
    }
    if let Some(k) = last_key {
        out["LastEvaluatedKey"] = serde_json::to_value(k).unwrap_or_default();
    }
    Ok(out)
}

/// Reads rows in order until `limit` items or a 1 MB page; returns them and whether it stopped early.
async fn read(
    ctx: &Ctx,
    sql: &str,
    binds: Vec<Bind>,
    table: &str,
    limit: Option<i64>,
    keep: impl Fn(&[u8]) -> bool,
) -> Result<(Vec<Item>, bool)> {
    let mut q = sqlx::query(sql).bind(table);
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Blob(b) => q.bind(b),
        };
    }
    let rows = q.fetch_all(ctx.store().pool()).await?;
    let mut out = Vec::new();
    let mut bytes = 0i64;
    let mut more = false;
    for r in &rows {
        if !keep(r.get::<&[u8], _>(0)) {
            continue;
        }
        if limit.is_some_and(|l| out.len() as i64 >= l) || bytes >= PAGE_BYTES {
            more = true;
            break;
        }
        bytes += r.get::<i64, _>(2);
        if let Ok(item) = serde_json::from_str::<Item>(r.get::<&str, _>(1)) {
            out.push(item);
        }
    }
    // Stopping exactly at Limit still reports where it stopped, as DynamoDB does.
    if !more && limit.is_some_and(|l| out.len() as i64 == l) {
        more = true;
    }
    Ok((out, more))
}

/// Where a page starts: the encoded table key, and for index reads the index key too.
struct Start {
    pk: Vec<u8>,
    sk: Vec<u8>,
    index: Option<(Vec<u8>, Vec<u8>)>,
}

fn start_key(table: &Table, index: Option<&tables::Index>, input: &Value) -> Result<Option<Start>> {
    let Some(raw) = input.get("ExclusiveStartKey").filter(|v| !v.is_null()) else { return Ok(None) };
    let key: Item = serde_json::from_value(raw.clone())
        .map_err(|e| AwsError::bad_request("SerializationException", e.to_string()))?;
    let invalid = || {
        AwsError::validation("The provided starting key is invalid: The provided key element does not match the schema")
    };
    match index {
        None => {
            items::key_argument(table, &key).map(|(pk, sk)| Some(Start { pk, sk, index: None })).map_err(|_| invalid())
        }
        Some(ix) => {
            let (pk, sk) = items::item_key(table, &key).map_err(|_| invalid())?;
            let ikey = items::index_key(ix, &key).map_err(|_| invalid())?.ok_or_else(invalid)?;
            Ok(Some(Start { pk, sk, index: Some(ikey) }))
        }
    }
}

fn index_of(table: &Table, input: &Value) -> Result<Option<tables::Index>> {
    let Some(name) = input["IndexName"].as_str() else { return Ok(None) };
    let ix = table.index(name)?;
    if ix.global && input["ConsistentRead"] == true {
        return Err(AwsError::validation("Consistent reads are not supported on global secondary indexes"));
    }
    Ok(Some(ix))
}

pub async fn query(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    if input["KeyConditions"].is_object() || input["QueryFilter"].is_object() {
        return Err(AwsError::validation("KeyConditions and QueryFilter are not supported by this emulator yet"));
    }
    let key_text = input["KeyConditionExpression"].as_str().ok_or_else(|| {
        AwsError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        )
    })?;
    let mut exprs = Exprs::from(&input)?;
    let parts = exprs.key_condition(key_text)?;
    let filter = exprs.condition(Kind::Filter, input["FilterExpression"].as_str())?;
    let projection = exprs.projection(input["ProjectionExpression"].as_str())?;
    exprs.finish()?;
    let sel = selection(&input, projection)?;
    let limit = limit(&input)?;
    let table = tables::load(ctx, name).await?;
    let index = index_of(&table, &input)?;
    let schema = index.as_ref().map(|i| i.keys.clone()).unwrap_or_else(|| table.schema());
    let (partition, mut range) = key_range(&schema, &exprs, parts)?;
    let forward = input["ScanIndexForward"].as_bool().unwrap_or(true);
    let start = start_key(&table, index.as_ref(), &input)?;
    let (mut sql, mut binds, sort_col) = match &index {
        None => (
            String::from("SELECT sk, item, size FROM ddb_items WHERE table_name = ? AND pk = ?"),
            vec![Bind::Blob(partition.clone())],
            "sk",
        ),
        Some(ix) => (
            String::from(
                "SELECT isk, item, size FROM ddb_index_items WHERE table_name = ? AND index_name = ? AND ipk = ?",
            ),
            vec![Bind::Text(ix.name.clone()), Bind::Blob(partition.clone())],
            "isk",
        ),
    };
    let outside =
        || AwsError::validation("The provided starting key is outside query boundaries based on provided conditions");
    match start {
        Some(Start { pk, sk, index: None }) => {
            if pk != partition {
                return Err(outside());
            }
            if forward {
                range.lower = Some((sk, false));
            } else {
                range.upper = Some((sk, false));
            }
        }
        Some(Start { pk, sk, index: Some((ipk, isk)) }) => {
            if ipk != partition {
                return Err(outside());
            }
            sql.push_str(if forward { " AND (isk, pk, sk) > (?, ?, ?)" } else { " AND (isk, pk, sk) < (?, ?, ?)" });
            binds.extend([Bind::Blob(isk), Bind::Blob(pk), Bind::Blob(sk)]);
        }
        None => {}
    }
    if let Some((b, inclusive)) = range.lower {
        sql.push_str(&format!(" AND {sort_col} {} ?", if inclusive { ">=" } else { ">" }));
        binds.push(Bind::Blob(b));
    }
    if let Some((b, inclusive)) = range.upper {
        sql.push_str(&format!(" AND {sort_col} {} ?", if inclusive { "<=" } else { "<" }));
        binds.push(Bind::Blob(b));
    }
    let dir = if forward { "ASC" } else { "DESC" };
    match index {
        None => sql.push_str(&format!(" ORDER BY sk {dir}")),
        Some(_) => sql.push_str(&format!(" ORDER BY isk {dir}, pk {dir}, sk {dir}")),
    }
    if let Some(l) = limit {
        sql.push_str(&format!(" LIMIT {}", l + 1));
    }
    let (rows, more) = read(ctx, &sql, binds, &table.name, limit, |_| true).await?;
    page(&key_names(&table, index.as_ref()), rows, more, filter.as_ref(), &sel, &exprs.values)
}

/// Parallel scans split partitions by a hash of the encoded partition key.
fn segment_of(pk: &[u8], total: i64) -> i64 {
    let h = Sha256::digest(pk);
    (u64::from_be_bytes(h[..8].try_into().unwrap_or_default()) % total as u64) as i64
}

pub async fn scan(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    if input["ScanFilter"].is_object() {
        return Err(AwsError::validation("ScanFilter is not supported by this emulator yet"));
    }
    let mut exprs = Exprs::from(&input)?;
    let filter = exprs.condition(Kind::Filter, input["FilterExpression"].as_str())?;
    let projection = exprs.projection(input["ProjectionExpression"].as_str())?;
    exprs.finish()?;
    let sel = selection(&input, projection)?;
    let limit = limit(&input)?;
    let segments = match (input["Segment"].as_i64(), input["TotalSegments"].as_i64()) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(AwsError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(AwsError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(s), Some(t)) if !(1..=1_000_000).contains(&t) || !(0..t).contains(&s) => {
            return Err(AwsError::validation(format!(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
            )));
        }
        (Some(s), Some(t)) => Some((s, t)),
    };
    let table = tables::load(ctx, name).await?;
    let index = index_of(&table, &input)?;
    let (mut sql, mut binds) = match &index {
        None => (String::from("SELECT pk, item, size FROM ddb_items WHERE table_name = ?"), Vec::new()),
        Some(ix) => (
            String::from("SELECT ipk, item, size FROM ddb_index_items WHERE table_name = ? AND index_name = ?"),
            vec![Bind::Text(ix.name.clone())],
        ),
    };
    match start_key(&table, index.as_ref(), &input)? {
        Some(Start { pk, sk, index: None }) => {
            sql.push_str(" AND (pk, sk) > (?, ?)");
            binds.extend([Bind::Blob(pk), Bind::Blob(sk)]);
        }
        Some(Start { pk, sk, index: Some((ipk, isk)) }) => {
            sql.push_str(" AND (ipk, isk, pk, sk) > (?, ?, ?, ?)");
            binds.extend([Bind::Blob(ipk), Bind::Blob(isk), Bind::Blob(pk), Bind::Blob(sk)]);
        }
        None => {}
    }
    sql.push_str(if index.is_some() { " ORDER BY ipk, isk, pk, sk" } else { " ORDER BY pk, sk" });
    if let (Some(l), None) = (limit, segments) {
        sql.push_str(&format!(" LIMIT {}", l + 1));
    }
    let keep = move |pk: &[u8]| segments.is_none_or(|(s, t)| segment_of(pk, t) == s);
    let (rows, more) = read(ctx, &sql, binds, &table.name, limit, keep).await?;
    page(&key_names(&table, index.as_ref()), rows, more, filter.as_ref(), &sel, &exprs.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_string_after_all_extensions() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn segments_cover_every_partition_once() {
        for pk in [b"a".as_slice(), b"b", b"user#1", b""] {
            let hits: Vec<i64> = (0..4).filter(|s| segment_of(pk, 4) == *s).collect();
            assert_eq!(hits.len(), 1);
        }
    }
}
