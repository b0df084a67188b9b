//! S3 buckets and object metadata, read from the S3 store directly.
//!
//! A listing through the S3 handlers would be XML and would not show how an object is kept;
//! the store has every header, the SSE mode, the KMS key and the wrapped data key. Bodies are
//! never decrypted or rendered as text: the view shows the stored bytes for what they are —
//! ciphertext — with their length and first 32 bytes in hex, read with `substr` so a large
//! body is never loaded.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx::Row;

use super::{Page, Shared, binary_summary, encode_cursor, from_aws};
use crate::error::Result;
use crate::services::s3::store::{self, ObjectMeta};
use crate::state::Ctx;

/// Stored bytes shown per object.
const BODY_PREFIX: usize = 32;

/// Objects listed per bucket in the overview.
const OVERVIEW_OBJECTS: i64 = 50;

async fn stored_body(ctx: &Ctx, blob_id: i64) -> Result<Value> {
    let row = sqlx::query("SELECT substr(data, 1, ?), length(data) FROM s3_blobs WHERE id = ?")
        .bind(BODY_PREFIX as i64)
        .bind(blob_id)
        .fetch_optional(ctx.store().pool())
        .await?;
    let Some(row) = row else { return Ok(Value::Null) };
    let prefix: Vec<u8> = row.get(0);
    let length: i64 = row.get(1);
    let mut summary = binary_summary(&prefix, BODY_PREFIX);
    summary["bytes"] = length.into();
    summary["truncated"] = (length as usize > prefix.len()).into();
    summary["kind"] = "ciphertext".into();
    Ok(summary)
}

async fn object(ctx: &Ctx, o: &ObjectMeta) -> Result<Value> {
    Ok(json!({
        "key": o.key,
        "size": o.size,
        "contentType": o.headers.get("content-type"),
        "etag": format!("\"{}\"", o.etag),
        "lastModified": o.last_modified,
        "headers": o.headers,
        "metadata": o.metadata,
        "checksum": o.checksum_algorithm.as_ref().map(|a| json!({ "algorithm": a, "value": o.checksum_value, "type": o.checksum_type })),
        "sse": o.sse,
        "kmsKeyId": o.kms_key_arn,
        "kmsContext": o.kms_context.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok()),
        "wrappedDataKeyBytes": o.wrapped_key.as_ref().map(Vec::len),
        "stored": stored_body(ctx, o.blob_id).await?,
    }))
}

/// Up to `limit` objects after `after`, and whether more follow.
async fn page(ctx: &Ctx, bucket: &str, after: &str, limit: i64) -> Result<(Vec<Value>, Option<String>)> {
    let mut metas = store::list_objects(ctx, bucket, "", after, limit + 1).await?;
    let more = metas.len() as i64 > limit;
    metas.truncate(limit as usize);
    let mut out = Vec::with_capacity(metas.len());
    for m in &metas {
        out.push(object(ctx, m).await?);
    }
    let next = more.then(|| metas.last().map(|m| encode_cursor(&m.key))).flatten();
    Ok((out, next))
}

async fn all_buckets(ctx: &Ctx) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for b in store::list_buckets(ctx).await? {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM s3_objects WHERE bucket = ?")
            .bind(&b.name)
            .fetch_one(ctx.store().pool())
            .await?
            .get(0);
        let (objects, cursor) = page(ctx, &b.name, "", OVERVIEW_OBJECTS).await?;
        out.push(json!({
            "name": b.name,
            "region": b.region,
            "created": b.created_at,
            "objectCount": count,
            "objects": objects,
            "cursor": cursor,
        }));
    }
    Ok(out)
}

/// `GET /console/buckets`: every bucket with its first objects.
pub(super) async fn buckets(State(emu): Shared) -> Response {
    match all_buckets(&Ctx::internal(&emu)).await {
        Ok(b) => axum::Json(json!({ "buckets": b })).into_response(),
        Err(e) => from_aws(e),
    }
}

/// `GET /console/buckets/{bucket}/objects?limit=&cursor=`: objects in key order.
pub(super) async fn objects(State(emu): Shared, Path(bucket): Path<String>, Query(q): Query<Page>) -> Response {
    let limit = match q.limit(OVERVIEW_OBJECTS, 1000) {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    let after = match q.cursor() {
        Ok(a) => a.unwrap_or_default(),
        Err(r) => return r.into_response(),
    };
    let ctx = Ctx::internal(&emu);
    if let Err(e) = store::require_bucket(&ctx, &bucket).await {
        return from_aws(e);
    }
    match page(&ctx, &bucket, &after, limit).await {
        Ok((objects, cursor)) => {
            axum::Json(json!({ "bucket": bucket, "objects": objects, "cursor": cursor })).into_response()
        }
        Err(e) => from_aws(e),
    }
}
