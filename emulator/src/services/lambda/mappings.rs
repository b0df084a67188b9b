//! Event source mappings: a DynamoDB stream feeding a function in batches, as Lambda's pollers do.
//!
//! Each enabled mapping has one poller task. It reads up to `BatchSize` records after its
//! checkpoint ([`streams::read_after`]), invokes the function synchronously with a
//! `DynamodbEvent`, and only then moves the checkpoint (kept in SQLite, so a restarted
//! emulator resumes where it stopped). A failed batch is retried with backoff, in order, until
//! it succeeds or `MaximumRetryAttempts` is spent (the default, -1, retries until the records
//! are trimmed from the stream, as on AWS); `BisectBatchOnFunctionError` halves a failing batch
//! and `ReportBatchItemFailures` checkpoints up to the first reported failure. Between empty
//! polls the task waits on [`Emu::stream_writes`], so a write reaches the function at once.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use super::pool::Outcome;
use super::{function_name, functions};
use crate::error::{AwsError, Result};
use crate::services::dynamodb::streams;
use crate::state::{Ctx, Emu};

/// The path prefix of the mapping operations.
pub const PATH_PREFIX: &str = "/2015-03-31/event-source-mappings";

/// A mapping's settings, as given to Create/UpdateEventSourceMapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    pub batch_size: i64,
    pub starting_position: String,
    pub enabled: bool,
    pub maximum_retry_attempts: i64,
    pub bisect_batch_on_function_error: bool,
    pub maximum_batching_window_in_seconds: i64,
    pub function_response_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    function_name: Option<String>,
    event_source_arn: Option<String>,
    batch_size: Option<i64>,
    starting_position: Option<String>,
    enabled: Option<bool>,
    maximum_retry_attempts: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
}

struct Mapping {
    uuid: String,
    function: String,
    source_arn: String,
    settings: Settings,
    checkpoint: Option<i64>,
    last_result: String,
    updated_at: f64,
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidParameterValueException", message)
}

fn not_found(uuid: &str) -> AwsError {
    AwsError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"),
    )
}

fn range(member: &str, value: i64, min: i64, max: i64) -> Result<i64> {
    if value < min {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if value > max {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(value)
}

/// Creates a mapping and starts its poller.
pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Value> {
    let input: CreateInput = serde_json::from_slice(body).map_err(|e| {
        AwsError::bad_request("InvalidRequestContentException", format!("Could not parse request body: {e}"))
    })?;
    let reference = input.function_name.ok_or_else(|| AwsError::member_null("functionName"))?;
    let arn = input.event_source_arn.ok_or_else(|| invalid("EventSourceArn is required"))?;
    if !(arn.starts_with("arn:aws:dynamodb:") && arn.contains("/stream/")) {
        return Err(invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs."));
    }
    let name = function_name(&reference).to_string();
    functions::describe(&ctx.emu, &name).await?;
    if !streams::exists(&ctx.emu, &arn).await? {
        return Err(invalid(format!("Stream not found: {arn}")));
    }
    let starting_position = match input.starting_position.as_deref() {
        Some(p @ ("TRIM_HORIZON" | "LATEST")) => p.to_string(),
        Some("AT_TIMESTAMP") => {
            return Err(invalid("Unsupported starting position for DynamoDB streams: AT_TIMESTAMP"));
        }
        Some(other) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
            )));
        }
        None => return Err(invalid("1 validation error detected: StartingPosition must not be null")),
    };
    let types = input.function_response_types.unwrap_or_default();
    if let Some(t) = types.iter().find(|t| *t != "ReportBatchItemFailures") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '[{t}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]"
        )));
    }
    let settings = Settings {
        batch_size: range("batchSize", input.batch_size.unwrap_or(100), 1, 10_000)?,
        starting_position,
        enabled: input.enabled.unwrap_or(true),
        maximum_retry_attempts: range("maximumRetryAttempts", input.maximum_retry_attempts.unwrap_or(-1), -1, 10_000)?,
        bisect_batch_on_function_error: input.bisect_batch_on_function_error.unwrap_or(false),
        maximum_batching_window_in_seconds: range(
            "maximumBatchingWindowInSeconds",
            input.maximum_batching_window_in_seconds.unwrap_or(0),
            0,
            300,
        )?,
        function_response_types: types,
    };
    if let Some(existing) = find_pair(&ctx.emu, &name, &arn).await? {
        return Err(AwsError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!(
                "The event source arn ({arn}) and function ({name}) provided mapping already exists. Please update or delete the existing mapping with UUID {existing}"
            ),
        ));
    }
    // LATEST starts after everything written so far; TRIM_HORIZON from the oldest record kept.
    let checkpoint = (settings.starting_position == "LATEST").then_some(streams::latest_seq(&ctx.emu).await?);
    let uuid = ctx.rng().uuid();
    let now = ctx.epoch();
    sqlx::query(
        "INSERT INTO lambda_event_source_mappings (uuid, function_name, source_arn, definition, checkpoint, last_result, updated_at, seq)
         VALUES (?, ?, ?, ?, ?, 'No records processed', ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM lambda_event_source_mappings))",
    )
    .bind(&uuid)
    .bind(&name)
    .bind(&arn)
    .bind(serde_json::to_string(&settings).unwrap_or_default())
    .bind(checkpoint)
    .bind(now)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    let m = load(&ctx.emu, &uuid).await?.ok_or_else(|| not_found(&uuid))?;
    if m.settings.enabled {
        ctx.emu.functions.start_poller(&ctx.emu, &uuid);
    }
    let mut doc = document(&ctx.emu, &m);
    doc["State"] = (if m.settings.enabled { "Creating" } else { "Disabled" }).into();
    Ok(doc)
}

async fn find_pair(emu: &Emu, function: &str, arn: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT uuid FROM lambda_event_source_mappings WHERE function_name = ? AND source_arn = ?")
        .bind(function)
        .bind(arn)
        .fetch_optional(emu.store.pool())
        .await?;
    Ok(row.map(|r| r.get(0)))
}

const COLUMNS: &str = "uuid, function_name, source_arn, definition, checkpoint, last_result, updated_at";

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Option<Mapping> {
    Some(Mapping {
        uuid: r.get(0),
        function: r.get(1),
        source_arn: r.get(2),
        settings: serde_json::from_str(r.get::<&str, _>(3)).ok()?,
        checkpoint: r.get(4),
        last_result: r.get(5),
        updated_at: r.get(6),
    })
}

async fn load(emu: &Emu, uuid: &str) -> Result<Option<Mapping>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM lambda_event_source_mappings WHERE uuid = ?"))
        .bind(uuid)
        .fetch_optional(emu.store.pool())
        .await?;
    Ok(row.as_ref().and_then(from_row))
}

fn document(emu: &Emu, m: &Mapping) -> Value {
    json!({
        "UUID": m.uuid,
        "StartingPosition": m.settings.starting_position,
        "BatchSize": m.settings.batch_size,
        "MaximumBatchingWindowInSeconds": m.settings.maximum_batching_window_in_seconds,
        "ParallelizationFactor": 1,
        "EventSourceArn": m.source_arn,
        "FunctionArn": functions::arn(emu, &m.function),
        "LastModified": m.updated_at,
        "LastProcessingResult": m.last_result,
        "State": if m.settings.enabled { "Enabled" } else { "Disabled" },
        "StateTransitionReason": "User action",
        "DestinationConfig": { "OnFailure": {} },
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": m.settings.bisect_batch_on_function_error,
        "MaximumRetryAttempts": m.settings.maximum_retry_attempts,
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": m.settings.function_response_types,
        "EventSourceMappingArn": format!("arn:aws:lambda:{}:{}:event-source-mapping:{}", emu.config.region, emu.config.account, m.uuid),
    })
}

pub async fn get(ctx: &Ctx, uuid: &str) -> Result<Value> {
    let m = load(&ctx.emu, uuid).await?.ok_or_else(|| not_found(uuid))?;
    Ok(document(&ctx.emu, &m))
}

pub async fn delete(ctx: &Ctx, uuid: &str) -> Result<Value> {
    let m = load(&ctx.emu, uuid).await?.ok_or_else(|| not_found(uuid))?;
    ctx.emu.functions.stop_poller(uuid);
    sqlx::query("DELETE FROM lambda_event_source_mappings WHERE uuid = ?")
        .bind(uuid)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    let mut doc = document(&ctx.emu, &m);
    doc["State"] = "Deleting".into();
    Ok(doc)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateInput {
    function_name: Option<String>,
    batch_size: Option<i64>,
    enabled: Option<bool>,
    maximum_retry_attempts: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
}

pub async fn update(ctx: &Ctx, uuid: &str, body: &[u8]) -> Result<Value> {
    let input: UpdateInput = serde_json::from_slice(body).map_err(|e| {
        AwsError::bad_request("InvalidRequestContentException", format!("Could not parse request body: {e}"))
    })?;
    let mut m = load(&ctx.emu, uuid).await?.ok_or_else(|| not_found(uuid))?;
    if let Some(f) = input.function_name {
        let name = function_name(&f).to_string();
        functions::describe(&ctx.emu, &name).await?;
        m.function = name;
    }
    let s = &mut m.settings;
    if let Some(b) = input.batch_size {
        s.batch_size = range("batchSize", b, 1, 10_000)?;
    }
    if let Some(r) = input.maximum_retry_attempts {
        s.maximum_retry_attempts = range("maximumRetryAttempts", r, -1, 10_000)?;
    }
    if let Some(w) = input.maximum_batching_window_in_seconds {
        s.maximum_batching_window_in_seconds = range("maximumBatchingWindowInSeconds", w, 0, 300)?;
    }
    if let Some(b) = input.bisect_batch_on_function_error {
        s.bisect_batch_on_function_error = b;
    }
    if let Some(t) = input.function_response_types {
        s.function_response_types = t;
    }
    if let Some(e) = input.enabled {
        s.enabled = e;
    }
    sqlx::query(
        "UPDATE lambda_event_source_mappings SET function_name = ?, definition = ?, updated_at = ? WHERE uuid = ?",
    )
    .bind(&m.function)
    .bind(serde_json::to_string(&m.settings).unwrap_or_default())
    .bind(ctx.epoch())
    .bind(uuid)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    ctx.emu.functions.stop_poller(uuid);
    if m.settings.enabled {
        ctx.emu.functions.start_poller(&ctx.emu, uuid);
    }
    let mut doc = document(&ctx.emu, &m);
    doc["State"] = "Updating".into();
    Ok(doc)
}

pub async fn list(
    ctx: &Ctx,
    source: Option<&str>,
    function: Option<&str>,
    marker: Option<&str>,
    max: i64,
) -> Result<Value> {
    let after: i64 = marker.and_then(|m| m.parse().ok()).unwrap_or(0);
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, seq FROM lambda_event_source_mappings
         WHERE seq > ? AND (? IS NULL OR source_arn = ?) AND (? IS NULL OR function_name = ?) ORDER BY seq LIMIT ?"
    ))
    .bind(after)
    .bind(source)
    .bind(source)
    .bind(function.map(function_name))
    .bind(function.map(function_name))
    .bind(max + 1)
    .fetch_all(ctx.store().pool())
    .await?;
    let more = rows.len() as i64 > max;
    let shown = &rows[..rows.len().min(max as usize)];
    let mut out = json!({
        "EventSourceMappings": shown.iter().filter_map(from_row).map(|m| document(&ctx.emu, &m)).collect::<Vec<_>>(),
    });
    if more && let Some(last) = shown.last() {
        out["NextMarker"] = last.get::<i64, _>(7).to_string().into();
    }
    Ok(out)
}

/// Every enabled mapping's uuid (pollers to start when an instance opens existing state).
pub async fn enabled(emu: &Emu) -> Result<Vec<String>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM lambda_event_source_mappings ORDER BY seq"))
        .fetch_all(emu.store.pool())
        .await?;
    Ok(rows.iter().filter_map(from_row).filter(|m| m.settings.enabled).map(|m| m.uuid).collect())
}

async fn save_progress(emu: &Emu, uuid: &str, checkpoint: Option<i64>, result: &str) -> Result<()> {
    sqlx::query("UPDATE lambda_event_source_mappings SET checkpoint = ?, last_result = ? WHERE uuid = ?")
        .bind(checkpoint)
        .bind(result)
        .bind(uuid)
        .execute(&mut *emu.store.turn().await?)
        .await?;
    Ok(())
}

/// What the function made of one batch.
enum BatchResult {
    Done,
    /// Handled up to (not including) the record with this sequence number.
    FailedAt(i64),
}

fn judge(settings: &Settings, batch: &[(i64, Value)], outcome: &Outcome) -> BatchResult {
    match outcome {
        Outcome::Error { .. } => BatchResult::FailedAt(batch[0].0),
        Outcome::Ok(body) if settings.function_response_types.iter().any(|t| t == "ReportBatchItemFailures") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let failed = v["batchItemFailures"].as_array().into_iter().flatten().filter_map(|f| {
                let id = &f["itemIdentifier"];
                id.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| id.as_i64())
            });
            match failed.filter(|seq| batch.iter().any(|(s, _)| s == seq)).min() {
                Some(seq) => BatchResult::FailedAt(seq),
                None => BatchResult::Done,
            }
        }
        Outcome::Ok(_) => BatchResult::Done,
    }
}

/// The poller of one mapping; runs until the mapping is deleted, disabled or the task aborted.
pub(super) async fn poll(emu: Arc<Emu>, uuid: String) {
    let mut failures: i64 = 0;
    let mut batch_limit: Option<i64> = None;
    loop {
        let notified = emu.stream_writes.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let m = match load(&emu, &uuid).await {
            Ok(Some(m)) if m.settings.enabled => m,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(mapping = %uuid, error = %e.message, "event source mapping unreadable");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let limit = batch_limit.unwrap_or(m.settings.batch_size).min(m.settings.batch_size);
        let batch = match streams::read_after(&emu, &m.source_arn, m.checkpoint, limit).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(mapping = %uuid, stream = %m.source_arn, error = %e.message, "stream unreadable");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        if m.settings.maximum_batching_window_in_seconds > 0 && (batch.len() as i64) < limit && failures == 0 {
            // Wait for the window to fill the batch, then read again.
            tokio::time::sleep(Duration::from_secs(m.settings.maximum_batching_window_in_seconds as u64)).await;
            if let Ok(fuller) = streams::read_after(&emu, &m.source_arn, m.checkpoint, limit).await
                && fuller.len() > batch.len()
            {
                let outcome = run(&emu, &m, &fuller).await;
                failures = settle(&emu, &m, &fuller, outcome, failures, &mut batch_limit).await;
                continue;
            }
        }
        let outcome = run(&emu, &m, &batch).await;
        failures = settle(&emu, &m, &batch, outcome, failures, &mut batch_limit).await;
    }
}

async fn run(emu: &Arc<Emu>, m: &Mapping, batch: &[(i64, Value)]) -> Option<Outcome> {
    let event = streams::lambda_event(&m.source_arn, batch);
    match emu.functions.invoke(emu, &m.function, event.to_string().into()).await {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!(mapping = %m.uuid, function = %m.function, error = %e.message, "stream batch could not be delivered");
            None
        }
    }
}

/// Moves the checkpoint after a batch; returns the failure count of the batch now at the head.
async fn settle(
    emu: &Emu,
    m: &Mapping,
    batch: &[(i64, Value)],
    outcome: Option<Outcome>,
    failures: i64,
    batch_limit: &mut Option<i64>,
) -> i64 {
    let last = batch.last().map(|(s, _)| *s);
    let verdict = match &outcome {
        Some(o) => judge(&m.settings, batch, o),
        None => BatchResult::FailedAt(batch[0].0),
    };
    let (checkpoint, result, failed) = match verdict {
        BatchResult::Done => (last, "OK", false),
        BatchResult::FailedAt(seq) => {
            let before = batch.iter().take_while(|(s, _)| *s < seq).last().map(|(s, _)| *s).or(m.checkpoint);
            (before, "PROBLEM: Function call failed", true)
        }
    };
    if !failed {
        *batch_limit = None;
        let _ = save_progress(emu, &m.uuid, checkpoint, result).await;
        return 0;
    }
    let failures = failures + 1;
    let max = m.settings.maximum_retry_attempts;
    if max >= 0 && failures > max {
        if m.settings.bisect_batch_on_function_error && batch.len() > 1 {
            // Split first: a smaller batch may isolate the bad record.
            *batch_limit = Some((batch.len() as i64 / 2).max(1));
        } else {
            tracing::warn!(mapping = %m.uuid, function = %m.function, records = batch.len(), "stream batch discarded after retries");
            *batch_limit = None;
            let _ = save_progress(emu, &m.uuid, last, result).await;
            return 0;
        }
    } else if m.settings.bisect_batch_on_function_error && batch.len() > 1 {
        *batch_limit = Some((batch.len() as i64 / 2).max(1));
    }
    let _ = save_progress(emu, &m.uuid, checkpoint, result).await;
    let pause = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
    tokio::time::sleep(pause).await;
    failures
}
