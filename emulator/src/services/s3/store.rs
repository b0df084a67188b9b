//! The S3 tables (see `migrations/0002_s3.sql`). Listing queries never select a body.

use std::collections::BTreeMap;

use sqlx::{Row, SqliteConnection};

use super::no_such_bucket;
use crate::error::Result;
use crate::state::Ctx;

#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    pub created_at: String,
}

/// Everything about an object except its body.
#[derive(Debug, Clone, Default)]
pub struct ObjectMeta {
    pub key: String,
    pub size: i64,
    pub etag: String,
    pub last_modified: String,
    /// Lower-case standard header name → value (content-type, cache-control, …).
    pub headers: BTreeMap<String, String>,
    /// User metadata, names without `x-amz-meta-`.
    pub metadata: BTreeMap<String, String>,
    pub checksum_algorithm: Option<String>,
    pub checksum_value: Option<String>,
    pub checksum_type: Option<String>,
    pub parts_count: Option<i64>,
    pub sse: String,
    pub kms_key_arn: Option<String>,
    pub kms_context: Option<String>,
    pub wrapped_key: Option<Vec<u8>>,
    pub blob_id: i64,
}

pub async fn get_bucket(ctx: &Ctx, name: &str) -> Result<Option<Bucket>> {
    let row = sqlx::query("SELECT name, region, created_at FROM s3_buckets WHERE name = ?")
        .bind(name)
        .fetch_optional(ctx.store().pool())
        .await?;
    Ok(row.map(|r| Bucket { name: r.get(0), region: r.get(1), created_at: r.get(2) }))
}

/// The bucket, or `NoSuchBucket`.
pub async fn require_bucket(ctx: &Ctx, name: &str) -> Result<Bucket> {
    get_bucket(ctx, name).await?.ok_or_else(|| no_such_bucket(name))
}

pub async fn list_buckets(ctx: &Ctx) -> Result<Vec<Bucket>> {
    let rows = sqlx::query("SELECT name, region, created_at FROM s3_buckets ORDER BY name")
        .fetch_all(ctx.store().pool())
        .await?;
    Ok(rows.into_iter().map(|r| Bucket { name: r.get(0), region: r.get(1), created_at: r.get(2) }).collect())
}

const OBJECT_COLUMNS: &str = "key, size, etag, last_modified, headers, metadata, checksum_algorithm, checksum_value, \
     checksum_type, parts_count, sse, kms_key_arn, kms_context, wrapped_key, blob_id";

fn object_from_row(r: &sqlx::sqlite::SqliteRow) -> ObjectMeta {
    let json = |s: String| serde_json::from_str(&s).unwrap_or_default();
    ObjectMeta {
        key: r.get(0),
        size: r.get(1),
        etag: r.get(2),
        last_modified: r.get(3),
        headers: json(r.get(4)),
        metadata: json(r.get(5)),
        checksum_algorithm: r.get(6),
        checksum_value: r.get(7),
        checksum_type: r.get(8),
        parts_count: r.get(9),
        sse: r.get(10),
        kms_key_arn: r.get(11),
        kms_context: r.get(12),
        wrapped_key: r.get(13),
        blob_id: r.get(14),
    }
}

pub async fn get_object(ctx: &Ctx, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
    let row = sqlx::query(&format!("SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ?"))
        .bind(bucket)
        .bind(key)
        .fetch_optional(ctx.store().pool())
        .await?;
    Ok(row.as_ref().map(object_from_row))
}

/// Objects with `key > after` and `key >= prefix`, in key order, at most `limit`.
pub async fn list_objects(ctx: &Ctx, bucket: &str, prefix: &str, after: &str, limit: i64) -> Result<Vec<ObjectMeta>> {
    let rows = sqlx::query(&format!(
        "SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key > ? AND key >= ? ORDER BY key LIMIT ?"
    ))
    .bind(bucket)
    .bind(after)
    .bind(prefix)
    .bind(limit)
    .fetch_all(ctx.store().pool())
    .await?;
    Ok(rows.iter().map(object_from_row).collect())
}

/// A stored body; `None` when it is gone: metadata and body are read by separate queries, so an
/// object replaced (or a part uploaded again) in between has lost the body its metadata named.
pub async fn read_blob(ctx: &Ctx, id: i64) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT data FROM s3_blobs WHERE id = ?").bind(id).fetch_optional(ctx.store().pool()).await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn insert_blob(conn: &mut SqliteConnection, data: &[u8]) -> Result<i64> {
    let r = sqlx::query("INSERT INTO s3_blobs (data) VALUES (?)").bind(data).execute(conn).await?;
    Ok(r.last_insert_rowid())
}

/// Writes (or replaces) an object with its encrypted body, in one transaction.
///
/// Other writers wait for the whole transaction, and each statement sent is a round trip to
/// the database's thread, so the work is sent in two: one query that reads, one that writes.
pub async fn put_object(ctx: &Ctx, bucket: &str, meta: &ObjectMeta, sealed: &[u8]) -> Result<()> {
    let mut tx = ctx.store().begin_write().await?;
    // Whether the bucket still exists (it may have been deleted since the caller looked), and
    // the body the object has now, if any.
    let found = sqlx::query(
        "SELECT (SELECT blob_id FROM s3_objects WHERE bucket = ?1 AND key = ?2) FROM s3_buckets WHERE name = ?1",
    )
    .bind(bucket)
    .bind(&meta.key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else { return Err(no_such_bucket(bucket)) };
    let old: Option<i64> = found.get(0);
    // The new body, the object pointing to it, then the old body (`id = NULL` matches nothing).
    sqlx::query(
        "INSERT INTO s3_blobs (data) VALUES (?); \
         INSERT OR REPLACE INTO s3_objects (bucket, key, size, etag, last_modified, headers, metadata, \
         checksum_algorithm, checksum_value, checksum_type, parts_count, sse, kms_key_arn, kms_context, wrapped_key, \
         blob_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, last_insert_rowid()); \
         DELETE FROM s3_blobs WHERE id = ?",
    )
    .bind(sealed)
    .bind(bucket)
    .bind(&meta.key)
    .bind(meta.size)
    .bind(&meta.etag)
    .bind(&meta.last_modified)
    .bind(serde_json::to_string(&meta.headers).unwrap_or_default())
    .bind(serde_json::to_string(&meta.metadata).unwrap_or_default())
    .bind(&meta.checksum_algorithm)
    .bind(&meta.checksum_value)
    .bind(&meta.checksum_type)
    .bind(meta.parts_count)
    .bind(&meta.sse)
    .bind(&meta.kms_key_arn)
    .bind(&meta.kms_context)
    .bind(&meta.wrapped_key)
    .bind(old)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes an object if present; true if it existed.
pub async fn delete_object(ctx: &Ctx, bucket: &str, key: &str) -> Result<bool> {
    let mut tx = ctx.store().begin_write().await?;
    let row = sqlx::query("DELETE FROM s3_objects WHERE bucket = ? AND key = ? RETURNING blob_id")
        .bind(bucket)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    let existed = row.is_some();
    if let Some(row) = row {
        let id: i64 = row.get(0);
        sqlx::query("DELETE FROM s3_blobs WHERE id = ?").bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(existed)
}
