//! Object operations: PutObject, GetObject/HeadObject, DeleteObject, DeleteObjects, CopyObject.

use std::collections::BTreeMap;

use axum::response::Response;
use http::StatusCode;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checksum::{self, Algo, ChecksumMembers};
use super::store::{self, ObjectMeta};
use super::{S3Request, chunked, http_time, no_such_key, parse_http_date, parse_time, response, sse, xml_time};
use crate::error::{AwsError, Result};
use crate::protocol::rest_xml::{S3_XMLNS, from_xml};
use crate::state::Ctx;

/// The largest object a single PUT may create.
const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024;
const MAX_KEY_BYTES: usize = 1024;
const MAX_METADATA_BYTES: usize = 2048;

/// Standard headers stored with an object and returned on GET/HEAD.
const STORED_HEADERS: &[&str] =
    &["content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires"];

/// A request body after framing is removed and integrity checks have passed.
pub(super) struct Ingested {
    pub body: Vec<u8>,
    pub md5: [u8; 16],
    /// The checksum the client supplied (header or trailer), verified.
    pub checksum: Option<(Algo, String)>,
}

/// Decodes `aws-chunked` framing and checks `x-amz-content-sha256`, `Content-MD5` and any
/// `x-amz-checksum-*` header or trailer.
pub(super) fn ingest(r: &S3Request) -> Result<Ingested> {
    let content_sha = r.header("x-amz-content-sha256");
    let (body, trailers) = if chunked::is_chunked(r.header("content-encoding"), content_sha) {
        let d = chunked::decode(&r.req.body)?;
        if let Some(declared) = r.header("x-amz-decoded-content-length") {
            let n: usize = declared.trim().parse().map_err(|_| {
                super::invalid_argument(
                    "Invalid x-amz-decoded-content-length",
                    "x-amz-decoded-content-length",
                    declared,
                )
            })?;
            if n != d.body.len() {
                return Err(AwsError::bad_request(
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                ));
            }
        }
        (d.body, d.trailers)
    } else {
        if let Some(h) = content_sha
            && h.len() == 64
            && h.chars().all(|c| c.is_ascii_hexdigit())
        {
            let computed = hex::encode(Sha256::digest(&r.req.body));
            if !computed.eq_ignore_ascii_case(h) {
                return Err(AwsError::bad_request(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
                .with("ClientComputedContentSHA256", h.to_string())
                .with("S3ComputedContentSHA256", computed));
            }
        }
        (r.req.body.to_vec(), Vec::new())
    };
    let md5 = checksum::md5_checked(r.header("content-md5"), &body)?;
    let checksum = checksum::supplied(|name| {
        r.header(name).map(str::to_string).or_else(|| trailers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    })?;
    if let Some((algo, value)) = &checksum {
        checksum::verify(*algo, value, &body)?;
    } else if let Some(sdk) = r.header("x-amz-sdk-checksum-algorithm")
        && r.header("x-amz-trailer").is_none()
        && Algo::from_name(sdk).is_some()
    {
        return Err(AwsError::bad_request(
            "InvalidRequest",
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
        ));
    }
    Ok(Ingested { body, md5, checksum })
}

/// Stored standard headers and user metadata from a request.
pub(super) fn request_metadata(r: &S3Request) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let mut headers = BTreeMap::new();
    for name in STORED_HEADERS {
        if let Some(v) = r.req.headers.get(*name) {
            let mut v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            if *name == "content-encoding" {
                v = v
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.eq_ignore_ascii_case("aws-chunked") && !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(",");
                if v.is_empty() {
                    continue;
                }
            }
            headers.insert(name.to_string(), v);
        }
    }
    let mut metadata = BTreeMap::new();
    let mut size = 0;
    for (name, value) in &r.req.headers {
        if let Some(m) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            size += m.len() + v.len();
            metadata.insert(m.to_string(), v);
        }
    }
    if size > MAX_METADATA_BYTES {
        return Err(AwsError::bad_request(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
        )
        .with("Size", size.to_string())
        .with("MaxSizeAllowed", MAX_METADATA_BYTES.to_string()));
    }
    Ok((headers, metadata))
}

pub(super) fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(AwsError::bad_request("KeyTooLongError", "Your key is too long")
            .with("Size", key.len().to_string())
            .with("MaxSizeAllowed", MAX_KEY_BYTES.to_string()));
    }
    Ok(())
}

fn etag_header(meta: &ObjectMeta) -> (String, String) {
    ("etag".into(), format!("\"{}\"", meta.etag))
}

fn checksum_headers(meta: &ObjectMeta) -> Vec<(String, String)> {
    let (Some(algo), Some(value)) =
        (meta.checksum_algorithm.as_deref().and_then(Algo::from_name), &meta.checksum_value)
    else {
        return Vec::new();
    };
    vec![
        (algo.header().to_string(), value.clone()),
        ("x-amz-checksum-type".into(), meta.checksum_type.clone().unwrap_or_else(|| "FULL_OBJECT".into())),
    ]
}

pub async fn put_object(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    check_key(key)?;
    if r.header("content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > MAX_OBJECT) {
        return Err(AwsError::bad_request("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            .with("MaxSizeAllowed", MAX_OBJECT.to_string()));
    }
    store::require_bucket(ctx, bucket).await?;
    let sse_req = sse::parse_request(r)?;
    let (headers, metadata) = request_metadata(r)?;
    let up = ingest(r)?;
    let (algo, value) = match up.checksum {
        Some(c) => c,
        None => (Algo::Crc64Nvme, Algo::Crc64Nvme.b64(&up.body)),
    };
    let sealed = sse::seal(ctx, &sse_req, bucket, key, &up.body).await?;
    let mut meta = ObjectMeta {
        key: key.to_string(),
        size: up.body.len() as i64,
        etag: hex::encode(up.md5),
        last_modified: ctx.now_rfc3339(),
        headers,
        metadata,
        checksum_algorithm: Some(algo.name().to_string()),
        checksum_value: Some(value),
        checksum_type: Some("FULL_OBJECT".into()),
        ..Default::default()
    };
    sealed.apply_to(&mut meta);
    store::put_object(ctx, bucket, &meta, &sealed.data).await?;
    let mut h = vec![etag_header(&meta)];
    h.extend(sse::headers(&meta));
    h.extend(checksum_headers(&meta));
    Ok(response(StatusCode::OK, &h, Vec::new()))
}

/// The object, or `NoSuchKey` (after checking the bucket exists).
pub(super) async fn require_object(ctx: &Ctx, bucket: &str, key: &str) -> Result<ObjectMeta> {
    store::require_bucket(ctx, bucket).await?;
    store::get_object(ctx, bucket, key).await?.ok_or_else(|| no_such_key(key))
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

fn precondition_failed(condition: &str) -> AwsError {
    AwsError::new(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
    )
    .with("Condition", condition.to_string())
}

/// Evaluates conditional headers (`prefix` is `""` or `x-amz-copy-source-`) in AWS's order.
/// `Ok(true)`: not modified (304 for GET/HEAD).
fn evaluate_conditions(r: &S3Request, prefix: &str, meta: &ObjectMeta) -> Result<bool> {
    let h = |n: &str| r.header(&format!("{prefix}{n}"));
    let modified = parse_time(&meta.last_modified).map(|t| t.timestamp()).unwrap_or(0);
    if let Some(im) = h("if-match") {
        if !etag_matches(im, &meta.etag) {
            return Err(precondition_failed(&format!("{prefix}If-Match")));
        }
    } else if let Some(t) = h("if-unmodified-since").and_then(parse_http_date)
        && modified > t.timestamp()
    {
        return Err(precondition_failed(&format!("{prefix}If-Unmodified-Since")));
    }
    if let Some(inm) = h("if-none-match") {
        return Ok(etag_matches(inm, &meta.etag));
    }
    if let Some(t) = h("if-modified-since").and_then(parse_http_date) {
        return Ok(modified <= t.timestamp());
    }
    Ok(false)
}

/// A satisfiable byte range, inclusive.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    Full,
    Part(u64, u64),
}

fn parse_range(header: Option<&str>, size: u64) -> std::result::Result<Range, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(Range::Full);
    };
    if spec.contains(',') {
        return Ok(Range::Full);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(Range::Full);
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match parse(b) {
            Some(0) => Err(()),
            Some(n) if size > 0 => Ok(Range::Part(size.saturating_sub(n), size - 1)),
            Some(_) => Err(()),
            None => Ok(Range::Full),
        },
        (false, _) => {
            let Some(start) = parse(a) else { return Ok(Range::Full) };
            let end = if b.is_empty() { Some(u64::MAX) } else { parse(b) };
            match end {
                None => Ok(Range::Full),
                Some(end) if end < start => Ok(Range::Full),
                Some(_) if start >= size => Err(()),
                Some(end) => Ok(Range::Part(start, end.min(size - 1))),
            }
        }
        (true, true) => Ok(Range::Full),
    }
}

pub async fn get_object(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str, head: bool) -> Result<Response> {
    let meta = require_object(ctx, bucket, key).await?;
    let size = meta.size as u64;
    if let Some(pn) = r.q("partNumber") {
        let n: i64 = pn.parse().map_err(|_| {
            super::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", pn)
        })?;
        if n != 1 || meta.parts_count.is_some() {
            return Err(AwsError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidPartNumber",
                "The requested partnumber is not satisfiable",
            )
            .with("PartNumberRequested", pn.to_string())
            .with("ActualPartCount", meta.parts_count.unwrap_or(1).to_string()));
        }
    }
    let not_modified = evaluate_conditions(r, "", &meta)?;
    let mut h = vec![etag_header(&meta), ("last-modified".into(), http_time(&meta.last_modified))];
    if not_modified {
        return Ok(response(StatusCode::NOT_MODIFIED, &h, Vec::new()));
    }
    let range_header = r.header("range");
    let range = parse_range(range_header, size).map_err(|_| {
        AwsError::new(StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange", "The requested range is not satisfiable")
            .with("RangeRequested", range_header.unwrap_or("").to_string())
            .with("ActualObjectSize", size.to_string())
    })?;
    h.push(("accept-ranges".into(), "bytes".into()));
    for (name, value) in &meta.headers {
        let overridden = r.q(&format!("response-{name}"));
        h.push((name.clone(), overridden.unwrap_or(value).to_string()));
    }
    if !meta.headers.contains_key("content-type") {
        h.push(("content-type".into(), r.q("response-content-type").unwrap_or("binary/octet-stream").to_string()));
    }
    for name in STORED_HEADERS {
        if !meta.headers.contains_key(*name)
            && *name != "content-type"
            && let Some(v) = r.q(&format!("response-{name}"))
        {
            h.push((name.to_string(), v.to_string()));
        }
    }
    for (k, v) in &meta.metadata {
        h.push((format!("x-amz-meta-{k}"), v.clone()));
    }
    h.extend(sse::headers(&meta));
    if let Some(n) = meta.parts_count
        && r.q("partNumber").is_some()
    {
        h.push(("x-amz-mp-parts-count".into(), n.to_string()));
    }
    let checksum_mode = r.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
    let (status, from, to) = match range {
        Range::Full => {
            if checksum_mode {
                h.extend(checksum_headers(&meta));
            }
            (StatusCode::OK, 0, size)
        }
        Range::Part(a, b) => {
            h.push(("content-range".into(), format!("bytes {a}-{b}/{size}")));
            (StatusCode::PARTIAL_CONTENT, a, b + 1)
        }
    };
    h.push(("content-length".into(), (to - from).to_string()));
    if head {
        return Ok(response(status, &h, Vec::new()));
    }
    let Some(sealed) = store::read_blob(ctx, meta.blob_id).await? else {
        // Replaced or deleted since its metadata was read: answer for the object as it is now.
        return Box::pin(get_object(ctx, r, bucket, key, head)).await;
    };
    let mut body = sse::open(ctx, &meta, &sealed).await?;
    if from > 0 || to < size {
        body = body.get(from as usize..to as usize).map(<[u8]>::to_vec).unwrap_or_default();
    }
    Ok(response(status, &h, body))
}

pub async fn delete_object(ctx: &Ctx, bucket: &str, key: &str) -> Result<Response> {
    store::require_bucket(ctx, bucket).await?;
    store::delete_object(ctx, bucket, key).await?;
    Ok(response(StatusCode::NO_CONTENT, &[], Vec::new()))
}

#[derive(Deserialize)]
struct DeleteRequest {
    #[serde(rename = "Object", default)]
    objects: Vec<DeleteEntry>,
    #[serde(rename = "Quiet", default)]
    quiet: Option<bool>,
}

#[derive(Deserialize)]
struct DeleteEntry {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Serialize)]
struct DeleteResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Deleted")]
    deleted: Vec<Deleted>,
    #[serde(rename = "Error")]
    errors: Vec<DeleteError>,
}

#[derive(Serialize)]
struct Deleted {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Serialize)]
struct DeleteError {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message")]
    message: String,
}

pub async fn delete_objects(ctx: &Ctx, r: &S3Request<'_>, bucket: &str) -> Result<Response> {
    store::require_bucket(ctx, bucket).await?;
    let up = ingest(r)?;
    if r.header("content-md5").is_none() && up.checksum.is_none() {
        return Err(AwsError::bad_request(
            "InvalidRequest",
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
        ));
    }
    let req: DeleteRequest = from_xml(&up.body)?;
    if req.objects.is_empty() || req.objects.len() > 1000 {
        return Err(crate::protocol::rest_xml::malformed_xml());
    }
    let quiet = req.quiet.unwrap_or(false);
    let mut result = DeleteResult { xmlns: S3_XMLNS, deleted: Vec::new(), errors: Vec::new() };
    for o in req.objects {
        if o.key.len() > MAX_KEY_BYTES {
            result.errors.push(DeleteError {
                key: o.key,
                code: "KeyTooLongError".into(),
                message: "Your key is too long".into(),
            });
            continue;
        }
        store::delete_object(ctx, bucket, &o.key).await?;
        if !quiet {
            result.deleted.push(Deleted { key: o.key });
        }
    }
    super::xml_response("DeleteResult", &result, &[])
}

#[derive(Serialize)]
struct CopyObjectResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "LastModified")]
    last_modified: String,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    #[serde(flatten)]
    checksum: ChecksumMembers,
}

/// `/bucket/key` or `bucket/key` (URL-encoded, optionally `?versionId=`) → (bucket, key).
fn parse_copy_source(raw: &str) -> Result<(String, String)> {
    let bad = || {
        super::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            raw,
        )
    };
    let path = raw.split_once('?').map(|(p, _)| p).unwrap_or(raw);
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| bad())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    match decoded.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Err(bad()),
    }
}

pub async fn copy_object(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, key: &str) -> Result<Response> {
    check_key(key)?;
    let (src_bucket, src_key) = parse_copy_source(r.header("x-amz-copy-source").unwrap_or(""))?;
    store::require_bucket(ctx, bucket).await?;
    let src = require_object(ctx, &src_bucket, &src_key).await?;
    if evaluate_conditions(r, "x-amz-copy-source-", &src)? {
        return Err(precondition_failed("x-amz-copy-source-If-None-Match"));
    }
    let directive = r.header("x-amz-metadata-directive").unwrap_or("COPY");
    let replace = match directive {
        "COPY" => false,
        "REPLACE" => true,
        other => return Err(super::invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", other)),
    };
    let sse_req = sse::parse_request(r)?;
    let changes_encryption = r.header("x-amz-server-side-encryption").is_some();
    if src_bucket == bucket
        && src_key == key
        && !replace
        && !changes_encryption
        && r.header("x-amz-storage-class").is_none()
    {
        return Err(AwsError::bad_request(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (headers, metadata) = if replace { request_metadata(r)? } else { (src.headers.clone(), src.metadata.clone()) };
    let Some(sealed_src) = store::read_blob(ctx, src.blob_id).await? else {
        // The source was replaced or deleted since its metadata was read: copy it as it is now.
        return Box::pin(copy_object(ctx, r, bucket, key)).await;
    };
    let body = sse::open(ctx, &src, &sealed_src).await?;
    let algo = match r.header("x-amz-checksum-algorithm") {
        Some(a) => Algo::from_name(a).ok_or_else(|| {
            super::invalid_argument("Checksum algorithm provided is unsupported.", "x-amz-checksum-algorithm", a)
        })?,
        None => src
            .checksum_algorithm
            .as_deref()
            .and_then(Algo::from_name)
            .filter(|_| src.checksum_type.as_deref() != Some("COMPOSITE"))
            .unwrap_or(Algo::Crc64Nvme),
    };
    let md5: [u8; 16] = md5::Md5::digest(&body).into();
    let sealed = sse::seal(ctx, &sse_req, bucket, key, &body).await?;
    let mut meta = ObjectMeta {
        key: key.to_string(),
        size: body.len() as i64,
        etag: hex::encode(md5),
        last_modified: ctx.now_rfc3339(),
        headers,
        metadata,
        checksum_algorithm: Some(algo.name().into()),
        checksum_value: Some(algo.b64(&body)),
        checksum_type: Some("FULL_OBJECT".into()),
        ..Default::default()
    };
    sealed.apply_to(&mut meta);
    store::put_object(ctx, bucket, &meta, &sealed.data).await?;
    let result = CopyObjectResult {
        xmlns: S3_XMLNS,
        etag: format!("\"{}\"", meta.etag),
        last_modified: xml_time(&meta.last_modified),
        checksum_type: Some("FULL_OBJECT".into()),
        checksum: ChecksumMembers::one(Some(algo), meta.checksum_value.clone()),
    };
    super::xml_response("CopyObjectResult", &result, &sse::headers(&meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Ok(Range::Part(0, 4)));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Range::Part(5, 9)));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Range::Part(7, 9)));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Ok(Range::Part(0, 9)));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Range::Part(8, 9)));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=-0"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Ok(Range::Full));
        assert_eq!(parse_range(Some("items=1-2"), 10), Ok(Range::Full));
        assert_eq!(parse_range(None, 10), Ok(Range::Full));
    }

    #[test]
    fn copy_sources() {
        assert_eq!(parse_copy_source("/b/a%20b/c").unwrap(), ("b".into(), "a b/c".into()));
        assert_eq!(parse_copy_source("b/k?versionId=x").unwrap(), ("b".into(), "k".into()));
        assert_eq!(parse_copy_source("b").unwrap_err().code, "InvalidArgument");
    }
}
