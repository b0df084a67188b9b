//! Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
//! Parts are kept encrypted under the master key until completion, when the object is sealed
//! as the upload asked (SSE-S3 or SSE-KMS).

use std::collections::BTreeMap;

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::bucket::Owner;
use super::checksum::{self, Algo, ChecksumMembers};
use super::object::{check_key, ingest, request_metadata};
use super::sse::{self, SseRequest};
use super::store::{self, ObjectMeta};
use super::{S3Request, invalid_argument, response, xml_response, xml_time};
use crate::error::{AwsError, Result};
use crate::protocol::rest_xml::{S3_XMLNS, from_xml, malformed_xml};
use crate::services::kms;
use crate::state::Ctx;

const MIN_PART: i64 = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i64 = 10_000;

struct Upload {
    upload_id: String,
    key: String,
    initiated: String,
    headers: BTreeMap<String, String>,
    metadata: BTreeMap<String, String>,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
    sse: SseRequest,
}

fn no_such_upload(upload_id: &str) -> AwsError {
    AwsError::new(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with("UploadId", upload_id.to_string())
}

async fn require_upload(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Upload> {
    store::require_bucket(ctx, bucket).await?;
    let upload_id = r.q("uploadId").unwrap_or("");
    let row = sqlx::query(
        "SELECT upload_id, key, initiated, headers, metadata, checksum_algorithm, checksum_type, sse, kms_key_id, \
         kms_context FROM s3_uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
    )
    .bind(upload_id)
    .bind(bucket)
    .bind(key)
    .fetch_optional(ctx.store().pool())
    .await?
    .ok_or_else(|| no_such_upload(upload_id))?;
    Ok(upload_from_row(&row))
}

fn upload_from_row(row: &sqlx::sqlite::SqliteRow) -> Upload {
    let json = |s: String| serde_json::from_str(&s).unwrap_or_default();
    let sse_kind: String = row.get(7);
    let sse = if sse_kind == "aws:kms" {
        let context: Option<String> = row.get(9);
        SseRequest::Kms { key_id: row.get(8), context: context.map(json).unwrap_or_default() }
    } else {
        SseRequest::S3
    };
    Upload {
        upload_id: row.get(0),
        key: row.get(1),
        initiated: row.get(2),
        headers: json(row.get(3)),
        metadata: json(row.get(4)),
        checksum_algorithm: row.get(5),
        checksum_type: row.get(6),
        sse,
    }
}

#[derive(Serialize)]
struct InitiateMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "UploadId")]
    upload_id: String,
}

fn sse_headers(sse: &SseRequest, key_arn: Option<String>) -> Vec<(String, String)> {
    match sse {
        SseRequest::S3 => vec![("x-amz-server-side-encryption".into(), "AES256".into())],
        SseRequest::Kms { .. } => {
            let mut h = vec![("x-amz-server-side-encryption".into(), "aws:kms".into())];
            if let Some(arn) = key_arn {
                h.push(("x-amz-server-side-encryption-aws-kms-key-id".into(), arn));
            }
            h
        }
    }
}

pub async fn create(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    check_key(key)?;
    store::require_bucket(ctx, bucket).await?;
    let sse_req = sse::parse_request(r)?;
    let (headers, metadata) = request_metadata(r)?;
    let algo = match r.header("x-amz-checksum-algorithm") {
        None => None,
        Some(a) => Some(Algo::from_name(a).ok_or_else(|| {
            invalid_argument("Checksum algorithm provided is unsupported.", "x-amz-checksum-algorithm", a)
        })?),
    };
    let checksum_type = match (r.header("x-amz-checksum-type"), algo) {
        (_, None) => None,
        (Some(t @ ("FULL_OBJECT" | "COMPOSITE")), Some(a)) => {
            let ok = match t {
                "FULL_OBJECT" => matches!(a, Algo::Crc32 | Algo::Crc32c | Algo::Crc64Nvme),
                _ => a != Algo::Crc64Nvme,
            };
            if !ok {
                return Err(AwsError::bad_request(
                    "InvalidRequest",
                    format!(
                        "The {t} checksum type cannot be used with the {} checksum algorithm.",
                        a.name().to_lowercase()
                    ),
                ));
            }
            Some(t.to_string())
        }
        (Some(t), Some(_)) => {
            return Err(invalid_argument("Value for x-amz-checksum-type is invalid.", "x-amz-checksum-type", t));
        }
        (None, Some(Algo::Crc64Nvme)) => Some("FULL_OBJECT".into()),
        (None, Some(_)) => Some("COMPOSITE".into()),
    };
    // The key must be usable now, as on AWS (which makes the data key here).
    let mut key_arn = None;
    let (kms_key_id, kms_context) = match &sse_req {
        SseRequest::S3 => (None, None),
        SseRequest::Kms { key_id, context } => {
            let mut full = context.clone();
            full.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}/{key}"));
            let id = key_id.clone().unwrap_or_else(|| "alias/aws/s3".into());
            let dk = kms::generate_data_key(ctx, &id, &full).await.map_err(sse::kms_error)?;
            key_arn = Some(dk.key_arn.clone());
            (Some(dk.key_arn), Some(serde_json::to_string(context).unwrap_or_default()))
        }
    };
    let upload_id = B64URL.encode(ctx.rng().bytes::<48>());
    sqlx::query(
        "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, headers, metadata, checksum_algorithm, \
         checksum_type, sse, kms_key_id, kms_context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&upload_id)
    .bind(bucket)
    .bind(key)
    .bind(ctx.now_rfc3339())
    .bind(serde_json::to_string(&headers).unwrap_or_default())
    .bind(serde_json::to_string(&metadata).unwrap_or_default())
    .bind(algo.map(Algo::name))
    .bind(&checksum_type)
    .bind(if kms_key_id.is_some() { "aws:kms" } else { "AES256" })
    .bind(&kms_key_id)
    .bind(&kms_context)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    let mut h = sse_headers(&sse_req, key_arn);
    if let (Some(a), Some(t)) = (algo, &checksum_type) {
        h.push(("x-amz-checksum-algorithm".into(), a.name().into()));
        h.push(("x-amz-checksum-type".into(), t.clone()));
    }
    let result = InitiateMultipartUploadResult { xmlns: S3_XMLNS, bucket: bucket.into(), key: key.into(), upload_id };
    xml_response("InitiateMultipartUploadResult", &result, &h)
}

fn part_number(r: &S3Request) -> Result<i64> {
    let raw = r.q("partNumber").unwrap_or("");
    raw.parse::<i64>().ok().filter(|n| (1..=MAX_PART_NUMBER).contains(n)).ok_or_else(|| {
        invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw)
    })
}

pub async fn upload_part(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    let n = part_number(r)?;
    let upload = require_upload(ctx, r, bucket, key).await?;
    let up = ingest(r)?;
    let algo = upload.checksum_algorithm.as_deref().and_then(Algo::from_name);
    let value = match (&up.checksum, algo) {
        (Some((a, v)), Some(u)) if *a == u => Some(v.clone()),
        (Some((a, _)), Some(u)) => {
            return Err(AwsError::bad_request(
                "InvalidRequest",
                format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    u.name().to_lowercase(),
                    a.name().to_lowercase()
                ),
            ));
        }
        (_, Some(u)) => Some(u.b64(&up.body)),
        (Some((_, v)), None) => Some(v.clone()),
        (None, None) => None,
    };
    let sealed = sse::seal_internal(ctx, &up.body).await?;
    let etag = hex::encode(up.md5);
    let mut tx = ctx.store().begin_write().await?;
    let old = sqlx::query("DELETE FROM s3_parts WHERE upload_id = ? AND part_number = ? RETURNING blob_id")
        .bind(&upload.upload_id)
        .bind(n)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(old) = old {
        let id: i64 = old.get(0);
        sqlx::query("DELETE FROM s3_blobs WHERE id = ?").bind(id).execute(&mut *tx).await?;
    }
    let blob_id = store::insert_blob(&mut tx, &sealed).await?;
    sqlx::query(
        "INSERT INTO s3_parts (upload_id, part_number, size, etag, last_modified, checksum_value, blob_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&upload.upload_id)
    .bind(n)
    .bind(up.body.len() as i64)
    .bind(&etag)
    .bind(ctx.now_rfc3339())
    .bind(&value)
    .bind(blob_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut h = vec![("etag".to_string(), format!("\"{etag}\""))];
    let key_arn = upload_key_arn(&upload);
    h.extend(sse_headers(&upload.sse, key_arn));
    if let (Some(v), Some(a)) = (value, algo.or(up.checksum.as_ref().map(|c| c.0))) {
        h.push((a.header().into(), v));
    }
    Ok(response(StatusCode::OK, &h, Vec::new()))
}

fn upload_key_arn(upload: &Upload) -> Option<String> {
    match &upload.sse {
        SseRequest::Kms { key_id, .. } => key_id.clone(),
        SseRequest::S3 => None,
    }
}

#[derive(Deserialize)]
struct CompleteRequest {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct CompletePart {
    #[serde(rename = "PartNumber")]
    part_number: i64,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Serialize)]
struct CompleteMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Location")]
    location: String,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(flatten)]
    checksum: ChecksumMembers,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

struct StoredPart {
    number: i64,
    size: i64,
    etag: String,
    last_modified: String,
    checksum: Option<String>,
    blob_id: i64,
}

async fn stored_parts(ctx: &Ctx, upload_id: &str, after: i64, limit: i64) -> Result<Vec<StoredPart>> {
    let rows = sqlx::query(
        "SELECT part_number, size, etag, last_modified, checksum_value, blob_id FROM s3_parts \
         WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
    )
    .bind(upload_id)
    .bind(after)
    .bind(limit)
    .fetch_all(ctx.store().pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| StoredPart {
            number: r.get(0),
            size: r.get(1),
            etag: r.get(2),
            last_modified: r.get(3),
            checksum: r.get(4),
            blob_id: r.get(5),
        })
        .collect())
}

pub async fn complete(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    let upload = require_upload(ctx, r, bucket, key).await?;
    let req: CompleteRequest = from_xml(&r.req.body)?;
    if req.parts.is_empty() {
        return Err(malformed_xml());
    }
    let stored = stored_parts(ctx, &upload.upload_id, 0, MAX_PART_NUMBER).await?;
    let mut chosen = Vec::with_capacity(req.parts.len());
    let mut previous = 0;
    for p in &req.parts {
        if p.part_number <= previous {
            return Err(AwsError::bad_request(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            )
            .with("UploadId", upload.upload_id.clone()));
        }
        previous = p.part_number;
        let want = p.etag.trim().trim_matches('"');
        let found = stored
            .iter()
            .find(|s| s.number == p.part_number && s.etag == want)
            .ok_or_else(|| invalid_part(&upload.upload_id, p.part_number, &p.etag))?;
        chosen.push(found);
    }
    if let Some((_, head)) = chosen.split_last()
        && let Some(small) = head.iter().find(|p| p.size < MIN_PART)
    {
        return Err(AwsError::bad_request(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
        )
        .with("ProposedSize", small.size.to_string())
        .with("MinSizeAllowed", MIN_PART.to_string())
        .with("PartNumber", small.number.to_string())
        .with("ETag", small.etag.clone()));
    }
    let mut body = Vec::with_capacity(chosen.iter().map(|p| p.size as usize).sum());
    let mut md5s = Vec::with_capacity(16 * chosen.len());
    for p in &chosen {
        let Some(sealed) = store::read_blob(ctx, p.blob_id).await? else {
            // Uploaded again while this request was reading the list of parts.
            return Err(invalid_part(&upload.upload_id, p.number, &p.etag));
        };
        body.extend(sse::open_internal(ctx, &sealed).await?);
        md5s.extend(hex::decode(&p.etag).unwrap_or_default());
    }
    use sha2::Digest;
    let etag = format!("{}-{}", hex::encode(md5::Md5::digest(&md5s)), chosen.len());
    let algo = upload.checksum_algorithm.as_deref().and_then(Algo::from_name);
    let (algo, value, ctype) = match (algo, upload.checksum_type.as_deref()) {
        (Some(a), Some("COMPOSITE")) => {
            let values: Vec<String> = chosen.iter().map(|p| p.checksum.clone().unwrap_or_else(|| a.b64(&[]))).collect();
            let v = checksum::composite(a, &values).ok_or_else(|| AwsError::internal("bad part checksum"))?;
            (a, v, "COMPOSITE")
        }
        (Some(a), _) => (a, a.b64(&body), "FULL_OBJECT"),
        (None, _) => (Algo::Crc64Nvme, Algo::Crc64Nvme.b64(&body), "FULL_OBJECT"),
    };
    let sealed = sse::seal(ctx, &upload.sse, bucket, key, &body).await?;
    let mut meta = ObjectMeta {
        key: upload.key.clone(),
        size: body.len() as i64,
        etag: etag.clone(),
        last_modified: ctx.now_rfc3339(),
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
        checksum_algorithm: Some(algo.name().into()),
        checksum_value: Some(value.clone()),
        checksum_type: Some(ctype.into()),
        parts_count: Some(chosen.len() as i64),
        ..Default::default()
    };
    sealed.apply_to(&mut meta);
    store::put_object(ctx, bucket, &meta, &sealed.data).await?;
    delete_upload(ctx, &upload.upload_id).await?;
    let show = upload.checksum_algorithm.is_some() || algo == Algo::Crc64Nvme;
    let result = CompleteMultipartUploadResult {
        xmlns: S3_XMLNS,
        location: format!("{}/{bucket}/{key}", ctx.emu.endpoint),
        bucket: bucket.into(),
        key: key.into(),
        etag: format!("\"{etag}\""),
        checksum: ChecksumMembers::one(show.then_some(algo), Some(value.clone())),
        checksum_type: Some(ctype.into()),
    };
    xml_response("CompleteMultipartUploadResult", &result, &sse::headers(&meta))
}

async fn delete_upload(ctx: &Ctx, upload_id: &str) -> Result<()> {
    let mut tx = ctx.store().begin_write().await?;
    let blobs = sqlx::query("DELETE FROM s3_parts WHERE upload_id = ? RETURNING blob_id")
        .bind(upload_id)
        .fetch_all(&mut *tx)
        .await?;
    for b in blobs {
        let id: i64 = b.get(0);
        sqlx::query("DELETE FROM s3_blobs WHERE id = ?").bind(id).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM s3_uploads WHERE upload_id = ?").bind(upload_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn abort(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    let upload = require_upload(ctx, r, bucket, key).await?;
    delete_upload(ctx, &upload.upload_id).await?;
    Ok(response(StatusCode::NO_CONTENT, &[], Vec::new()))
}

#[derive(Serialize)]
struct Initiator {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "DisplayName")]
    display_name: String,
}

impl Initiator {
    fn of(ctx: &Ctx) -> Self {
        Initiator { id: ctx.principal.arn.clone(), display_name: ctx.principal.arn.clone() }
    }
}

#[derive(Serialize)]
struct PartEntry {
    #[serde(rename = "PartNumber")]
    part_number: i64,
    #[serde(rename = "LastModified")]
    last_modified: String,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "Size")]
    size: i64,
    #[serde(flatten)]
    checksum: ChecksumMembers,
}

#[derive(Serialize)]
struct ListPartsResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "UploadId")]
    upload_id: String,
    #[serde(rename = "PartNumberMarker")]
    part_number_marker: i64,
    #[serde(rename = "NextPartNumberMarker")]
    next_part_number_marker: i64,
    #[serde(rename = "MaxParts")]
    max_parts: i64,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "Part")]
    parts: Vec<PartEntry>,
    #[serde(rename = "Initiator")]
    initiator: Initiator,
    #[serde(rename = "Owner")]
    owner: Owner,
    #[serde(rename = "StorageClass")]
    storage_class: &'static str,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

fn int_param(r: &S3Request, name: &str, default: i64, max: i64) -> Result<i64> {
    match r.q(name) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n.min(max)),
            _ => Err(invalid_argument(format!("Provided {name} not an integer or within integer range"), name, v)),
        },
    }
}

pub async fn list_parts(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    let upload = require_upload(ctx, r, bucket, key).await?;
    let max = int_param(r, "max-parts", 1000, 1000)?;
    let marker = int_param(r, "part-number-marker", 0, i64::MAX)?;
    let mut parts = stored_parts(ctx, &upload.upload_id, marker, max + 1).await?;
    let truncated = parts.len() as i64 > max;
    parts.truncate(max as usize);
    let algo = upload.checksum_algorithm.as_deref().and_then(Algo::from_name);
    let next = parts.last().map(|p| p.number).unwrap_or(0);
    let result = ListPartsResult {
        xmlns: S3_XMLNS,
        bucket: bucket.into(),
        key: key.into(),
        upload_id: upload.upload_id.clone(),
        part_number_marker: marker,
        next_part_number_marker: next,
        max_parts: max,
        is_truncated: truncated,
        parts: parts
            .into_iter()
            .map(|p| PartEntry {
                part_number: p.number,
                last_modified: xml_time(&p.last_modified),
                etag: format!("\"{}\"", p.etag),
                size: p.size,
                checksum: ChecksumMembers::one(algo, p.checksum.clone()),
            })
            .collect(),
        initiator: Initiator::of(ctx),
        owner: Owner::of(ctx),
        storage_class: "STANDARD",
        checksum_algorithm: upload.checksum_algorithm.clone(),
        checksum_type: upload.checksum_type.clone(),
    };
    xml_response("ListPartsResult", &result, &[])
}

#[derive(Serialize)]
struct UploadEntry {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "UploadId")]
    upload_id: String,
    #[serde(rename = "Initiator")]
    initiator: Initiator,
    #[serde(rename = "Owner")]
    owner: Owner,
    #[serde(rename = "StorageClass")]
    storage_class: &'static str,
    #[serde(rename = "Initiated")]
    initiated: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

#[derive(Serialize)]
struct ListMultipartUploadsResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "KeyMarker")]
    key_marker: String,
    #[serde(rename = "UploadIdMarker")]
    upload_id_marker: String,
    #[serde(rename = "NextKeyMarker", skip_serializing_if = "Option::is_none")]
    next_key_marker: Option<String>,
    #[serde(rename = "NextUploadIdMarker", skip_serializing_if = "Option::is_none")]
    next_upload_id_marker: Option<String>,
    #[serde(rename = "Prefix", skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "MaxUploads")]
    max_uploads: i64,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "Upload")]
    uploads: Vec<UploadEntry>,
}

pub async fn list_uploads(ctx: &Ctx, r: &S3Request<'_>, bucket: &str) -> Result<Response> {
    store::require_bucket(ctx, bucket).await?;
    let max = int_param(r, "max-uploads", 1000, 1000)?;
    let prefix = r.q("prefix").unwrap_or("");
    let key_marker = r.q("key-marker").unwrap_or("");
    let id_marker = r.q("upload-id-marker").unwrap_or("");
    let rows = sqlx::query(
        "SELECT upload_id, key, initiated, headers, metadata, checksum_algorithm, checksum_type, sse, kms_key_id, \
         kms_context FROM s3_uploads WHERE bucket = ? AND key >= ? AND (key > ? OR (key = ? AND upload_id > ?)) \
         ORDER BY key, initiated, upload_id",
    )
    .bind(bucket)
    .bind(prefix)
    .bind(key_marker)
    .bind(key_marker)
    .bind(id_marker)
    .fetch_all(ctx.store().pool())
    .await?;
    let mut uploads: Vec<Upload> = rows.iter().map(upload_from_row).filter(|u| u.key.starts_with(prefix)).collect();
    let truncated = uploads.len() as i64 > max;
    uploads.truncate(max as usize);
    let (next_key, next_id) = match (truncated, uploads.last()) {
        (true, Some(u)) => (Some(u.key.clone()), Some(u.upload_id.clone())),
        _ => (None, None),
    };
    let result = ListMultipartUploadsResult {
        xmlns: S3_XMLNS,
        bucket: bucket.into(),
        key_marker: key_marker.into(),
        upload_id_marker: id_marker.into(),
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        prefix: r.q("prefix").map(str::to_string),
        max_uploads: max,
        is_truncated: truncated,
        uploads: uploads
            .into_iter()
            .map(|u| UploadEntry {
                key: u.key,
                upload_id: u.upload_id,
                initiator: Initiator::of(ctx),
                owner: Owner::of(ctx),
                storage_class: "STANDARD",
                initiated: xml_time(&u.initiated),
                checksum_algorithm: u.checksum_algorithm,
                checksum_type: u.checksum_type,
            })
            .collect(),
    };
    xml_response("ListMultipartUploadsResult", &result, &[])
}

/// `InvalidPart`: a listed part is not stored (never uploaded, another ETag, or replaced).
fn invalid_part(upload_id: &str, number: i64, etag: &str) -> AwsError {
    AwsError::bad_request(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with("UploadId", upload_id.to_string())
    .with("PartNumber", number.to_string())
    .with("ETag", etag.to_string())
}
