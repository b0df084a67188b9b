//! Time to live: UpdateTimeToLive, DescribeTimeToLive, and the sweeper that deletes expired
//! items (and stream records past retention). Expiry is judged by the emulator clock, so advancing it through `/_emulator/clock`
//! expires items at once (AWS deletes them within days; tests want it now).

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::streams;
use super::tables::{self, Table};
use super::value::{AttributeValue, Item, Number};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// When an item expires: its TTL attribute as epoch seconds, if the table has TTL enabled and
/// the attribute is a number (other types are ignored, as on AWS).
pub fn expiry(table: &Table, item: &Item) -> Option<f64> {
    let attr = table.ttl_attribute.as_ref()?;
    match item.get(attr)? {
        AttributeValue::N(n) => Number::parse(n).ok()?.to_string().parse().ok(),
        _ => None,
    }
}

/// Deletes every item whose expiry has passed (with its index entries), leaving a REMOVE
/// stream record by the DynamoDB service principal, as AWS's TTL deletions do; and trims stream
/// records past their retention. Looks with a read first, so ordinary requests never take the
/// write lock for it, and before the time it learnt nothing is due ([`Emu::ttl_quiet`]) not even
/// that.
///
/// [`Emu::ttl_quiet`]: crate::state::Emu::ttl_quiet
pub async fn sweep(ctx: &Ctx) -> Result<()> {
    let now = ctx.epoch();
    let generation = ctx.store().generation();
    let quiet = &ctx.emu.ttl_quiet;
    let Err(seen) = quiet.check(now, generation) else { return Ok(()) };
    let row = sqlx::query(&format!(
        "SELECT EXISTS (SELECT 1 FROM ddb_items WHERE expires_at IS NOT NULL AND expires_at <= ?), {},
                (SELECT MIN(expires_at) FROM ddb_items WHERE expires_at IS NOT NULL),
                (SELECT MIN(created_at) FROM ddb_stream_records),
                (SELECT MIN(closed_at) FROM ddb_streams WHERE closed_at IS NOT NULL)",
        streams::TRIM_DUE_SQL
    ))
    .bind(now)
    .bind(streams::horizon(now))
    .bind(streams::horizon(now))
    .fetch_one(ctx.store().pool())
    .await?;
    let (due, trim): (bool, bool) = (row.get(0), row.get(1));
    if !due && !trim {
        let next_expiry = row.get::<Option<f64>, _>(2).unwrap_or(f64::INFINITY);
        let next_trim = [row.get::<Option<f64>, _>(3), row.get::<Option<f64>, _>(4)]
            .into_iter()
            .flatten()
            .map(streams::retained_until)
            .fold(f64::INFINITY, f64::min);
        quiet.learn(next_expiry.min(next_trim), generation, seen);
        return Ok(());
    }
    let mut tx = ctx.store().begin_write().await?;
    let expired = sqlx::query(
        "SELECT table_name, pk, sk, item FROM ddb_items WHERE expires_at IS NOT NULL AND expires_at <= ?
         ORDER BY table_name, expires_at",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut table: Option<Table> = None;
    for row in &expired {
        let name: &str = row.get(0);
        if table.as_ref().is_none_or(|t| t.name != name) {
            table = Some(tables::load_in(&mut tx, name).await?);
        }
        let Some(t) = &table else { continue };
        let (pk, sk): (&[u8], &[u8]) = (row.get(1), row.get(2));
        for sql in [
            "DELETE FROM ddb_index_items WHERE table_name = ? AND pk = ? AND sk = ?",
            "DELETE FROM ddb_items WHERE table_name = ? AND pk = ? AND sk = ?",
        ] {
            sqlx::query(sql).bind(name).bind(pk).bind(sk).execute(&mut *tx).await?;
        }
        let old: Option<Item> = serde_json::from_str(row.get::<&str, _>(3)).ok();
        streams::record(&mut tx, ctx, t, old.as_ref(), None, Some(streams::ttl_identity())).await?;
    }
    streams::trim(&mut tx, now).await?;
    tx.commit().await?;
    ctx.emu.stream_writes.notify_waiters();
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Specification {
    enabled: bool,
    attribute_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    table_name: String,
    time_to_live_specification: Specification,
}

pub async fn update_time_to_live(ctx: &Ctx, input: UpdateInput) -> Result<Value> {
    let table = tables::load(ctx, &input.table_name).await?;
    let spec = input.time_to_live_specification;
    if spec.attribute_name.is_empty() {
        return Err(AwsError::validation("TimeToLiveSpecification AttributeName must not be empty"));
    }
    match (&table.ttl_attribute, spec.enabled) {
        (Some(_), true) => return Err(AwsError::validation("TimeToLive is already enabled")),
        (None, false) => return Err(AwsError::validation("TimeToLive is already disabled")),
        (Some(current), false) if *current != spec.attribute_name => {
            return Err(AwsError::validation(format!(
                "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
            )));
        }
        _ => {}
    }
    let mut tx = ctx.store().begin_write().await?;
    sqlx::query("UPDATE ddb_tables SET ttl_attribute = ? WHERE name = ?")
        .bind(spec.enabled.then_some(&spec.attribute_name))
        .bind(&table.name)
        .execute(&mut *tx)
        .await?;
    // Existing items get their expiry from the attribute (or lose it).
    let path = format!("$.\"{}\".N", spec.attribute_name.replace('"', "\\\""));
    sqlx::query("UPDATE ddb_items SET expires_at = CASE WHEN ? THEN CAST(json_extract(item, ?) AS REAL) END WHERE table_name = ?")
        .bind(spec.enabled)
        .bind(path)
        .bind(&table.name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    ctx.emu.ttl_quiet.forget();
    Ok(json!({ "TimeToLiveSpecification": { "Enabled": spec.enabled, "AttributeName": spec.attribute_name } }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    table_name: String,
}

pub async fn describe_time_to_live(ctx: &Ctx, input: DescribeInput) -> Result<Value> {
    let table = tables::load(ctx, &input.table_name).await?;
    Ok(match table.ttl_attribute {
        Some(a) => json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "ENABLED", "AttributeName": a } }),
        None => json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "DISABLED" } }),
    })
}
