//! ListObjectsV2 and ListObjects (v1): prefix, delimiter with CommonPrefixes, pagination.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use super::bucket::Owner;
use super::store::{self, ObjectMeta};
use super::{S3Request, invalid_argument, xml_response, xml_time};
use crate::error::Result;
use crate::protocol::rest_xml::S3_XMLNS;
use crate::state::Ctx;

const MAX_KEYS: usize = 1000;
const BATCH: i64 = 1000;
/// Characters left as they are by `encoding-type=url`.
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

#[derive(Serialize)]
struct Contents {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "LastModified")]
    last_modified: String,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    #[serde(rename = "Size")]
    size: i64,
    #[serde(rename = "Owner", skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
    #[serde(rename = "StorageClass")]
    storage_class: &'static str,
}

#[derive(Serialize)]
struct CommonPrefix {
    #[serde(rename = "Prefix")]
    prefix: String,
}

#[derive(Serialize)]
struct ListBucketResultV2 {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Prefix")]
    prefix: String,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(rename = "MaxKeys")]
    max_keys: usize,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
    #[serde(rename = "KeyCount")]
    key_count: usize,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(rename = "NextContinuationToken", skip_serializing_if = "Option::is_none")]
    next_continuation_token: Option<String>,
    #[serde(rename = "StartAfter", skip_serializing_if = "Option::is_none")]
    start_after: Option<String>,
    #[serde(rename = "Contents")]
    contents: Vec<Contents>,
    #[serde(rename = "CommonPrefixes")]
    common_prefixes: Vec<CommonPrefix>,
}

#[derive(Serialize)]
struct ListBucketResultV1 {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Prefix")]
    prefix: String,
    #[serde(rename = "Marker")]
    marker: String,
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    max_keys: usize,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
    #[serde(rename = "Contents")]
    contents: Vec<Contents>,
    #[serde(rename = "CommonPrefixes")]
    common_prefixes: Vec<CommonPrefix>,
}

/// One page of a listing.
struct Page {
    objects: Vec<ObjectMeta>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or common prefix returned (where the next page starts after).
    last: Option<String>,
}

/// Walks the bucket in key order from `after`, grouping by `delimiter`, until `max` entries.
async fn page(ctx: &Ctx, bucket: &str, prefix: &str, delimiter: Option<&str>, after: &str, max: usize) -> Result<Page> {
    let mut p = Page { objects: Vec::new(), prefixes: Vec::new(), truncated: false, last: None };
    let mut cursor = after.to_string();
    'outer: loop {
        let batch = store::list_objects(ctx, bucket, prefix, &cursor, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        let full = batch.len() as i64 == BATCH;
        for o in batch {
            cursor = o.key.clone();
            if !o.key.starts_with(prefix) {
                break 'outer;
            }
            let common = delimiter
                .and_then(|d| o.key[prefix.len()..].find(d).map(|i| o.key[..prefix.len() + i + d.len()].to_string()));
            if let Some(cp) = common {
                // Already returned (on this page or, as the marker, on an earlier one).
                if cp == after || p.prefixes.last() == Some(&cp) {
                    continue;
                }
                if p.objects.len() + p.prefixes.len() >= max {
                    p.truncated = max > 0;
                    break 'outer;
                }
                p.prefixes.push(cp.clone());
                p.last = Some(cp.clone());
                // Skip the rest of the keys under this prefix.
                cursor = format!("{cp}\u{10FFFF}");
                continue 'outer;
            }
            if p.objects.len() + p.prefixes.len() >= max {
                p.truncated = max > 0;
                break 'outer;
            }
            p.last = Some(o.key.clone());
            p.objects.push(o);
        }
        if !full {
            break;
        }
    }
    Ok(p)
}

pub async fn list_objects(ctx: &Ctx, r: &S3Request<'_>, bucket: &str, v2: bool) -> Result<Response> {
    store::require_bucket(ctx, bucket).await?;
    let max = match r.q("max-keys") {
        None => MAX_KEYS,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => (n as usize).min(MAX_KEYS),
            _ => {
                return Err(invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                    "max-keys",
                    v,
                ));
            }
        },
    };
    let encoding = match r.q("encoding-type") {
        None => None,
        Some("url") => Some("url".to_string()),
        Some(other) => {
            return Err(invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other));
        }
    };
    let enc = |s: &str| if encoding.is_some() { utf8_percent_encode(s, URL_SAFE).to_string() } else { s.to_string() };
    let prefix = r.q("prefix").unwrap_or("");
    let delimiter = r.q("delimiter").filter(|d| !d.is_empty());
    let fetch_owner = !v2 || r.q("fetch-owner") == Some("true");
    let token = r.q("continuation-token");
    let after = if v2 {
        match token {
            Some(t) => B64.decode(t).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                invalid_argument("The continuation token provided is incorrect", "continuation-token", t)
            })?,
            None => r.q("start-after").unwrap_or("").to_string(),
        }
    } else {
        r.q("marker").unwrap_or("").to_string()
    };
    let p = page(ctx, bucket, prefix, delimiter, &after, max).await?;
    let contents: Vec<Contents> = p
        .objects
        .iter()
        .map(|o| Contents {
            key: enc(&o.key),
            last_modified: xml_time(&o.last_modified),
            etag: format!("\"{}\"", o.etag),
            checksum_algorithm: o.checksum_algorithm.clone(),
            checksum_type: o.checksum_algorithm.as_ref().and(o.checksum_type.clone()),
            size: o.size,
            owner: fetch_owner.then(|| Owner::of(ctx)),
            storage_class: "STANDARD",
        })
        .collect();
    let common_prefixes: Vec<CommonPrefix> = p.prefixes.iter().map(|c| CommonPrefix { prefix: enc(c) }).collect();
    if v2 {
        let result = ListBucketResultV2 {
            xmlns: S3_XMLNS,
            name: bucket.to_string(),
            prefix: enc(prefix),
            delimiter: delimiter.map(&enc),
            max_keys: max,
            encoding_type: encoding.clone(),
            key_count: contents.len() + common_prefixes.len(),
            is_truncated: p.truncated,
            continuation_token: token.map(str::to_string),
            next_continuation_token: if p.truncated { p.last.as_ref().map(|l| B64.encode(l.as_bytes())) } else { None },
            start_after: r.q("start-after").map(&enc),
            contents,
            common_prefixes,
        };
        xml_response("ListBucketResult", &result, &[])
    } else {
        let result = ListBucketResultV1 {
            xmlns: S3_XMLNS,
            name: bucket.to_string(),
            prefix: enc(prefix),
            marker: enc(&after),
            next_marker: if p.truncated && delimiter.is_some() { p.last.as_deref().map(&enc) } else { None },
            max_keys: max,
            delimiter: delimiter.map(&enc),
            is_truncated: p.truncated,
            encoding_type: encoding.clone(),
            contents,
            common_prefixes,
        };
        xml_response("ListBucketResult", &result, &[])
    }
}
