//! DynamoDB Streams: stream lifecycle, the change records item writes leave, the Streams API
//! (`DynamoDBStreams_20120810.*`: ListStreams, DescribeStream, GetShardIterator, GetRecords) and
//! the reader other services poll (Lambda event-source mappings).
//!
//! Model: enabling a table's stream opens a new stream with one shard; disabling it (or deleting
//! the table) closes that shard. Every committed change to an item of a table with an open
//! stream appends one record, in the same SQLite transaction as the change, so records are in
//! commit order and a rolled-back write leaves none. Sequence numbers come from one
//! AUTOINCREMENT column: strictly increasing, never reused, and ordered per key (indeed
//! globally). Records and closed streams are trimmed after 24 hours of emulator-clock time.
//!
//! Writes that change nothing (a put of an identical item, a delete of an absent one) leave no
//! record, as on AWS.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Row, SqliteConnection};

use super::tables::Table;
use super::value::{Item, item_size};
use crate::error::{AwsError, Result};
use crate::protocol::aws_json;
use crate::state::{Ctx, Emu};

pub const TARGET_PREFIX: &str = "DynamoDBStreams_20120810";

/// How long records and closed streams stay readable.
const RETENTION_SECS: f64 = 24.0 * 3600.0;
/// How long a shard iterator stays valid.
const ITERATOR_TTL_MS: i64 = 15 * 60 * 1000;
/// GetRecords' response cap, as on AWS.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The operation table of the Streams API.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<axum::response::Response> {
    super::ttl::sweep(ctx).await?;
    aws_json::json_operations!(super::FLAVOR, ctx, op, body, {
        "ListStreams" => list_streams,
        "DescribeStream" => describe_stream,
        "GetShardIterator" => get_shard_iterator,
        "GetRecords" => get_records,
    })
}

/// A table's latest stream.
#[derive(Debug, Clone)]
pub struct Stream {
    pub arn: String,
    pub label: String,
    pub view_type: String,
    /// Open (records are being written) rather than closed.
    pub enabled: bool,
}

/// The four view types a StreamSpecification may ask for.
pub const VIEW_TYPES: &[&str] = &["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

/// The next sequence number the store will hand out.
async fn next_seq(tx: &mut SqliteConnection) -> Result<i64> {
    let row =
        sqlx::query("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'ddb_stream_records'), 0) + 1")
            .fetch_one(&mut *tx)
            .await?;
    Ok(row.get(0))
}

/// Opens a new stream on `table` (the caller checked none is open) and makes it the table's latest.
pub(super) async fn open(
    tx: &mut SqliteConnection,
    ctx: &Ctx,
    table_name: &str,
    key_schema: &Value,
    view_type: &str,
) -> Result<Stream> {
    // Labels are creation times in milliseconds; a frozen clock must still give distinct ones.
    let last: Option<f64> = sqlx::query("SELECT MAX(created_at) FROM ddb_streams WHERE table_name = ?")
        .bind(table_name)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    let now_ms = ctx.now().timestamp_millis();
    let created_ms = match last {
        Some(l) if (l * 1000.0).round() as i64 >= now_ms => (l * 1000.0).round() as i64 + 1,
        _ => now_ms,
    };
    let created = chrono::DateTime::from_timestamp_millis(created_ms).unwrap_or_default();
    let label = created.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    let arn = format!("arn:aws:dynamodb:{}:{}:table/{table_name}/stream/{label}", ctx.config().region, ctx.account());
    let shard_id = format!("shardId-{created_ms:020}-{}", ctx.rng().hex(8));
    let start = next_seq(tx).await?;
    sqlx::query(
        "INSERT INTO ddb_streams (stream_arn, table_name, label, view_type, key_schema, shard_id, created_at, start_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&arn)
    .bind(table_name)
    .bind(&label)
    .bind(view_type)
    .bind(key_schema.to_string())
    .bind(shard_id)
    .bind(created_ms as f64 / 1000.0)
    .bind(start)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE ddb_tables SET stream_arn = ? WHERE name = ?")
        .bind(&arn)
        .bind(table_name)
        .execute(&mut *tx)
        .await?;
    Ok(Stream { arn, label, view_type: view_type.to_string(), enabled: true })
}

/// Closes a stream: no more records; readers reach the shard's end.
pub(super) async fn close(tx: &mut SqliteConnection, ctx: &Ctx, arn: &str) -> Result<()> {
    sqlx::query("UPDATE ddb_streams SET closed_at = ? WHERE stream_arn = ? AND closed_at IS NULL")
        .bind(ctx.epoch())
        .bind(arn)
        .execute(&mut *tx)
        .await?;
    ctx.emu.ttl_quiet.lower(retained_until(ctx.epoch()));
    Ok(())
}

/// Who made a change, when it was not a caller: the TTL sweeper.
pub(super) fn ttl_identity() -> Value {
    json!({ "PrincipalId": "dynamodb.amazonaws.com", "Type": "Service" })
}

/// Appends the record of one item change, if the table's stream is open and something changed.
pub(super) async fn record(
    tx: &mut SqliteConnection,
    ctx: &Ctx,
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
    identity: Option<Value>,
) -> Result<()> {
    let Some(stream) = table.stream.as_ref().filter(|s| s.enabled) else { return Ok(()) };
    let name = match (old, new) {
        (None, Some(_)) => "INSERT",
        (Some(o), Some(n)) if o != n => "MODIFY",
        (Some(_), None) => "REMOVE",
        _ => return Ok(()),
    };
    let Some(whole) = new.or(old) else { return Ok(()) };
    let keys: Item = std::iter::once(table.hash_key())
        .chain(table.range_key())
        .filter_map(|k| whole.get(&k.name).map(|v| (k.name.clone(), v.clone())))
        .collect();
    let mut size = item_size(&keys);
    let mut change = json!({
        "ApproximateCreationDateTime": ctx.now().timestamp(),
        "Keys": keys,
        "StreamViewType": stream.view_type,
    });
    let vt = stream.view_type.as_str();
    if let Some(n) = new.filter(|_| matches!(vt, "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")) {
        size += item_size(n);
        change["NewImage"] = serde_json::to_value(n).unwrap_or_default();
    }
    if let Some(o) = old.filter(|_| matches!(vt, "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")) {
        size += item_size(o);
        change["OldImage"] = serde_json::to_value(o).unwrap_or_default();
    }
    change["SizeBytes"] = size.into();
    let mut rec = json!({
        "eventID": ctx.rng().hex(32),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": ctx.region,
        "dynamodb": change,
    });
    if let Some(who) = identity {
        rec["userIdentity"] = who;
    }
    sqlx::query("INSERT INTO ddb_stream_records (stream_arn, created_at, record) VALUES (?, ?, ?)")
        .bind(&stream.arn)
        .bind(ctx.epoch())
        .bind(rec.to_string())
        .execute(&mut *tx)
        .await?;
    ctx.emu.ttl_quiet.lower(retained_until(ctx.epoch()));
    Ok(())
}

/// Drops records older than the retention period and streams closed longer than it.
pub(super) async fn trim(tx: &mut SqliteConnection, now: f64) -> Result<()> {
    let horizon = now - RETENTION_SECS;
    sqlx::query(
        "UPDATE ddb_streams SET trimmed_seq = (SELECT MAX(seq) FROM ddb_stream_records r
           WHERE r.stream_arn = ddb_streams.stream_arn AND r.created_at < ?)
         WHERE EXISTS (SELECT 1 FROM ddb_stream_records r WHERE r.stream_arn = ddb_streams.stream_arn AND r.created_at < ?)",
    )
    .bind(horizon)
    .bind(horizon)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM ddb_stream_records WHERE created_at < ?").bind(horizon).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM ddb_streams WHERE closed_at IS NOT NULL AND closed_at < ?")
        .bind(horizon)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Whether [`trim`] has work, as an SQL expression with two parameters (the horizon, twice), so
/// that the TTL sweeper can ask it in the same query as its own question.
pub(super) const TRIM_DUE_SQL: &str = "(EXISTS (SELECT 1 FROM ddb_stream_records WHERE created_at < ?)
    OR EXISTS (SELECT 1 FROM ddb_streams WHERE closed_at IS NOT NULL AND closed_at < ?))";

/// The retention horizon at epoch seconds `now`.
pub(super) fn horizon(now: f64) -> f64 {
    now - RETENTION_SECS
}

/// Until when a record created (or a stream closed) at `at` is kept.
pub(super) fn retained_until(at: f64) -> f64 {
    at + RETENTION_SECS
}

// ---- reading ---------------------------------------------------------------------------------

/// A stream as stored.
struct StreamRow {
    arn: String,
    table_name: String,
    label: String,
    view_type: String,
    key_schema: Value,
    shard_id: String,
    created_at: f64,
    start_seq: i64,
    trimmed_seq: i64,
    closed: bool,
}

fn stream_not_found(arn: &str) -> AwsError {
    AwsError::bad_request("ResourceNotFoundException", format!("Requested resource not found: Stream: {arn} not found"))
}

async fn load_stream(conn: &mut SqliteConnection, arn: &str) -> Result<StreamRow> {
    let r = sqlx::query(
        "SELECT stream_arn, table_name, label, view_type, key_schema, shard_id, created_at, start_seq,
                COALESCE(trimmed_seq, 0), closed_at IS NOT NULL
         FROM ddb_streams WHERE stream_arn = ?",
    )
    .bind(arn)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| stream_not_found(arn))?;
    Ok(StreamRow {
        arn: r.get(0),
        table_name: r.get(1),
        label: r.get(2),
        view_type: r.get(3),
        key_schema: serde_json::from_str(r.get::<&str, _>(4)).unwrap_or_default(),
        shard_id: r.get(5),
        created_at: r.get(6),
        start_seq: r.get(7),
        trimmed_seq: r.get(8),
        closed: r.get(9),
    })
}

/// Sequence numbers on the wire: 21 digits, zero-padded (the API's minimum length).
fn seq_text(seq: i64) -> String {
    format!("{seq:021}")
}

fn parse_seq(text: &str) -> Result<i64> {
    if !(21..=40).contains(&text.len()) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{text}' at 'sequenceNumber' failed to satisfy constraint: Member must have length {}",
            if text.len() < 21 { "greater than or equal to 21" } else { "less than or equal to 40" }
        )));
    }
    text.parse().map_err(|_| AwsError::validation(format!("Invalid SequenceNumber: {text}")))
}

/// Records of a stream with sequence number `>= from`, in order, at most `limit`, within `budget` bytes.
async fn records_from(
    conn: &mut SqliteConnection,
    arn: &str,
    from: i64,
    limit: i64,
    budget: usize,
) -> Result<Vec<(i64, Value)>> {
    let rows = sqlx::query(
        "SELECT seq, record FROM ddb_stream_records WHERE stream_arn = ? AND seq >= ? ORDER BY seq LIMIT ?",
    )
    .bind(arn)
    .bind(from)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut used = 0;
    for r in rows {
        let text: &str = r.get(1);
        used += text.len();
        if used > budget && !out.is_empty() {
            break;
        }
        let seq: i64 = r.get(0);
        let mut rec: Value = serde_json::from_str(text).unwrap_or_default();
        rec["dynamodb"]["SequenceNumber"] = seq_text(seq).into();
        out.push((seq, rec));
    }
    Ok(out)
}

/// The event-source hook: up to `limit` records of `stream_arn` after sequence number `after`
/// (from the stream's start when `None`), in order, with their sequence numbers. Pollers keep
/// the last sequence number they processed as their checkpoint and wait on
/// [`Emu::stream_writes`] between empty polls.
pub async fn read_after(emu: &Arc<Emu>, stream_arn: &str, after: Option<i64>, limit: i64) -> Result<Vec<(i64, Value)>> {
    let mut conn = emu.store.pool().acquire().await?;
    let s = load_stream(&mut conn, stream_arn).await?;
    let from = after.map_or(s.start_seq, |a| a + 1).max(s.trimmed_seq + 1);
    records_from(&mut conn, stream_arn, from, limit, MAX_RESPONSE_BYTES).await
}

/// Lambda's `DynamodbEvent` for records read from `stream_arn`: the Streams API records with
/// `eventSourceARN` added and the identity in the event's casing.
pub fn lambda_event(stream_arn: &str, records: &[(i64, Value)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(_, r)| {
            let mut r = r.clone();
            r["eventSourceARN"] = stream_arn.into();
            if let Some(who) = r.get("userIdentity").cloned() {
                r["userIdentity"] = json!({ "type": who["Type"], "principalId": who["PrincipalId"] });
            }
            r
        })
        .collect();
    json!({ "Records": records })
}

/// Whether a stream with this ARN exists (enabled or not).
pub async fn exists(emu: &Arc<Emu>, stream_arn: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM ddb_streams WHERE stream_arn = ?")
        .bind(stream_arn)
        .fetch_optional(emu.store.pool())
        .await?;
    Ok(row.is_some())
}

/// The latest sequence number of a stream's table's writes, for LATEST iterators of pollers.
pub async fn latest_seq(emu: &Arc<Emu>) -> Result<i64> {
    let mut conn = emu.store.pool().acquire().await?;
    Ok(next_seq(&mut conn).await? - 1)
}

// ---- the Streams API -------------------------------------------------------------------------

fn limit_error(member: &str, value: i64, max: i64) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value {}",
        if value < 1 { "greater than or equal to 1".to_string() } else { format!("less than or equal to {max}") }
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    table_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_stream_arn: Option<String>,
}

pub async fn list_streams(ctx: &Ctx, input: ListStreamsInput) -> Result<Value> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(limit_error("limit", limit, 100));
    }
    let rows = sqlx::query(
        "SELECT stream_arn, table_name, label FROM ddb_streams
         WHERE (? IS NULL OR table_name = ?) AND stream_arn > ? ORDER BY stream_arn LIMIT ?",
    )
    .bind(&input.table_name)
    .bind(&input.table_name)
    .bind(input.exclusive_start_stream_arn.unwrap_or_default())
    .bind(limit + 1)
    .fetch_all(ctx.store().pool())
    .await?;
    let mut streams: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "StreamArn": r.get::<String, _>(0), "TableName": r.get::<String, _>(1), "StreamLabel": r.get::<String, _>(2) })
        })
        .collect();
    let more = streams.len() as i64 > limit;
    streams.truncate(limit as usize);
    let mut out = json!({ "Streams": streams });
    if more && let Some(last) = streams.last() {
        out["LastEvaluatedStreamArn"] = last["StreamArn"].clone();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    stream_arn: String,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

pub async fn describe_stream(ctx: &Ctx, input: DescribeStreamInput) -> Result<Value> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(limit_error("limit", limit, 100));
    }
    let mut conn = ctx.store().pool().acquire().await?;
    let s = load_stream(&mut conn, &input.stream_arn).await?;
    let mut range = json!({ "StartingSequenceNumber": seq_text(s.start_seq) });
    if s.closed {
        let last: Option<i64> = sqlx::query("SELECT MAX(seq) FROM ddb_stream_records WHERE stream_arn = ?")
            .bind(&s.arn)
            .fetch_one(&mut *conn)
            .await?
            .get(0);
        range["EndingSequenceNumber"] = seq_text(last.unwrap_or(s.start_seq).max(s.trimmed_seq)).into();
    }
    let shards = if input.exclusive_start_shard_id.as_deref() == Some(s.shard_id.as_str()) {
        vec![]
    } else {
        vec![json!({ "ShardId": s.shard_id, "SequenceNumberRange": range })]
    };
    Ok(json!({ "StreamDescription": {
        "StreamArn": s.arn,
        "StreamLabel": s.label,
        "StreamStatus": if s.closed { "DISABLED" } else { "ENABLED" },
        "StreamViewType": s.view_type,
        "CreationRequestDateTime": s.created_at,
        "TableName": s.table_name,
        "KeySchema": s.key_schema,
        "Shards": shards,
    }}))
}

/// What an iterator points at: the next sequence number to read from one shard.
struct Position {
    arn: String,
    shard_id: String,
    next: i64,
    issued_ms: i64,
}

impl Position {
    /// `<stream arn>|1|<opaque>`, the shape of AWS's iterators.
    fn encode(&self) -> String {
        let inner = format!("{}|{}|{}", self.shard_id, self.next, self.issued_ms);
        format!("{}|1|{}", self.arn, URL_SAFE_NO_PAD.encode(inner))
    }

    fn decode(text: &str) -> Result<Position> {
        let bad = || AwsError::validation(format!("Invalid ShardIterator: {text}"));
        let (arn, rest) = text.rsplit_once("|1|").ok_or_else(bad)?;
        let inner = String::from_utf8(URL_SAFE_NO_PAD.decode(rest).map_err(|_| bad())?).map_err(|_| bad())?;
        let mut parts = inner.split('|');
        let (Some(shard), Some(next), Some(issued), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Position {
            arn: arn.to_string(),
            shard_id: shard.to_string(),
            next: next.parse().map_err(|_| bad())?,
            issued_ms: issued.parse().map_err(|_| bad())?,
        })
    }
}

fn trimmed(what: &str) -> AwsError {
    AwsError::bad_request("TrimmedDataAccessException", what.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    stream_arn: String,
    shard_id: String,
    shard_iterator_type: String,
    sequence_number: Option<String>,
}

pub async fn get_shard_iterator(ctx: &Ctx, input: GetShardIteratorInput) -> Result<Value> {
    let kind = input.shard_iterator_type.as_str();
    if !matches!(kind, "TRIM_HORIZON" | "LATEST" | "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
        )));
    }
    let with_seq = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
    let seq = match (&input.sequence_number, with_seq) {
        (Some(s), true) => Some(parse_seq(s)?),
        (None, true) => {
            return Err(AwsError::validation(format!("SequenceNumber is required when ShardIteratorType is {kind}")));
        }
        (Some(_), false) => {
            return Err(AwsError::validation(format!(
                "SequenceNumber must not be given when ShardIteratorType is {kind}"
            )));
        }
        (None, false) => None,
    };
    let mut conn = ctx.store().pool().acquire().await?;
    let s = load_stream(&mut conn, &input.stream_arn).await?;
    if input.shard_id != s.shard_id {
        return Err(AwsError::bad_request(
            "ResourceNotFoundException",
            format!("Requested resource not found: Shard does not exist: {}", input.shard_id),
        ));
    }
    let latest = next_seq(&mut conn).await?;
    let next = match (kind, seq) {
        ("TRIM_HORIZON", _) => s.start_seq.max(s.trimmed_seq + 1),
        ("LATEST", _) => latest,
        (_, Some(n)) => {
            if n < s.start_seq || n >= latest {
                return Err(AwsError::validation(format!(
                    "Invalid SequenceNumber {} for shard {}: not a sequence number of this shard",
                    seq_text(n),
                    s.shard_id
                )));
            }
            if n <= s.trimmed_seq {
                return Err(trimmed(&format!(
                    "The sequence number {} is beyond the trim horizon of shard {}",
                    seq_text(n),
                    s.shard_id
                )));
            }
            if kind == "AT_SEQUENCE_NUMBER" { n } else { n + 1 }
        }
        _ => unreachable!("kind and sequence number checked above"),
    };
    let pos = Position { arn: s.arn, shard_id: s.shard_id, next, issued_ms: ctx.now().timestamp_millis() };
    Ok(json!({ "ShardIterator": pos.encode() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    shard_iterator: String,
    limit: Option<i64>,
}

pub async fn get_records(ctx: &Ctx, input: GetRecordsInput) -> Result<Value> {
    let limit = input.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(limit_error("limit", limit, 1000));
    }
    let pos = Position::decode(&input.shard_iterator)?;
    let now_ms = ctx.now().timestamp_millis();
    if now_ms - pos.issued_ms > ITERATOR_TTL_MS {
        return Err(AwsError::bad_request(
            "ExpiredIteratorException",
            format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                pos.issued_ms, now_ms
            ),
        ));
    }
    let mut conn = ctx.store().pool().acquire().await?;
    let s = load_stream(&mut conn, &pos.arn).await?;
    if pos.shard_id != s.shard_id {
        return Err(AwsError::bad_request(
            "ResourceNotFoundException",
            format!("Requested resource not found: Shard does not exist: {}", pos.shard_id),
        ));
    }
    if pos.next <= s.trimmed_seq {
        return Err(trimmed("The operation attempted to read past the oldest stream record in a shard."));
    }
    let records = records_from(&mut conn, &s.arn, pos.next, limit, MAX_RESPONSE_BYTES).await?;
    let mut out = json!({ "Records": records.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>() });
    // A closed shard read to its end has no next iterator.
    if !(s.closed && records.is_empty()) {
        let next = records.last().map_or(pos.next, |(seq, _)| seq + 1);
        out["NextShardIterator"] = Position { next, issued_ms: now_ms, ..pos }.encode().into();
    }
    Ok(out)
}
