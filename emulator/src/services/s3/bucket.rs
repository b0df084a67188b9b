//! Bucket operations: CreateBucket, HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::store;
use super::{S3Request, invalid_argument, response, xml_response, xml_time};
use crate::error::{AwsError, Result};
use crate::protocol::rest_xml::{S3_XMLNS, from_xml};
use crate::state::Ctx;

const US_EAST_1: &str = "us-east-1";

/// AWS's naming rules for general purpose buckets.
fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.iter().all(|&c| edge(c) || c == b'.' || c == b'-')
        && edge(b[0])
        && edge(b[b.len() - 1])
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.starts_with("amzn-s3-demo-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
        && !name.ends_with(".mrap")
        && !name.ends_with("--x-s3")
}

#[derive(Deserialize, Default)]
struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint", default)]
    location_constraint: Option<String>,
}

pub async fn create_bucket(ctx: &Ctx, r: &S3Request<'_>, bucket: &str) -> Result<Response> {
    if !valid_bucket_name(bucket) {
        return Err(AwsError::bad_request("InvalidBucketName", "The specified bucket is not valid.")
            .with("BucketName", bucket.to_string()));
    }
    let body = &r.req.body;
    let config: CreateBucketConfiguration =
        if body.iter().all(u8::is_ascii_whitespace) { CreateBucketConfiguration::default() } else { from_xml(body)? };
    let constraint = config.location_constraint.filter(|c| !c.is_empty());
    let region = match constraint.as_deref() {
        Some(US_EAST_1) => {
            return Err(AwsError::bad_request(
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
            )
            .with("LocationConstraint", US_EAST_1));
        }
        Some(c) if c != ctx.region => {
            return Err(AwsError::bad_request(
                "IllegalLocationConstraintException",
                format!(
                    "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
                ),
            ));
        }
        Some(c) => c.to_string(),
        None if ctx.region != US_EAST_1 => {
            return Err(AwsError::bad_request(
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
            ));
        }
        None => US_EAST_1.to_string(),
    };
    if let Some(existing) = store::get_bucket(ctx, bucket).await? {
        // For legacy compatibility us-east-1 answers 200 to its owner re-creating a bucket.
        if existing.region == US_EAST_1 && region == US_EAST_1 {
            return Ok(response(StatusCode::OK, &[("location".into(), format!("/{bucket}"))], Vec::new()));
        }
        return Err(AwsError::new(
            StatusCode::CONFLICT,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .with("BucketName", bucket.to_string()));
    }
    sqlx::query("INSERT OR IGNORE INTO s3_buckets (name, region, owner, created_at) VALUES (?, ?, ?, ?)")
        .bind(bucket)
        .bind(&region)
        .bind(ctx.account())
        .bind(ctx.now_rfc3339())
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    let location = if region == US_EAST_1 { format!("/{bucket}") } else { format!("http://{bucket}.s3.localhost/") };
    Ok(response(StatusCode::OK, &[("location".into(), location)], Vec::new()))
}

pub async fn head_bucket(ctx: &Ctx, bucket: &str) -> Result<Response> {
    let b = store::require_bucket(ctx, bucket).await?;
    Ok(response(
        StatusCode::OK,
        &[("x-amz-bucket-region".into(), b.region), ("x-amz-access-point-alias".into(), "false".into())],
        Vec::new(),
    ))
}

pub async fn delete_bucket(ctx: &Ctx, bucket: &str) -> Result<Response> {
    store::require_bucket(ctx, bucket).await?;
    let mut tx = ctx.store().begin_write().await?;
    let any =
        sqlx::query("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1").bind(bucket).fetch_optional(&mut *tx).await?;
    if any.is_some() {
        return Err(AwsError::new(
            StatusCode::CONFLICT,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", bucket.to_string()));
    }
    // Unfinished multipart uploads go with the bucket.
    let parts = sqlx::query(
        "DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads WHERE bucket = ?) RETURNING blob_id",
    )
    .bind(bucket)
    .fetch_all(&mut *tx)
    .await?;
    for p in parts {
        let id: i64 = p.get(0);
        sqlx::query("DELETE FROM s3_blobs WHERE id = ?").bind(id).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM s3_uploads WHERE bucket = ?").bind(bucket).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM s3_buckets WHERE name = ?").bind(bucket).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(response(StatusCode::NO_CONTENT, &[], Vec::new()))
}

#[derive(Serialize)]
struct ListAllMyBucketsResult {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Owner")]
    owner: Owner,
    #[serde(rename = "Buckets")]
    buckets: Buckets,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(rename = "Prefix", skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "DisplayName")]
    pub display_name: String,
}

impl Owner {
    /// The account's canonical user id: a stable 64-hex-digit value derived from it.
    pub fn of(ctx: &Ctx) -> Self {
        use sha2::Digest;
        Owner { id: hex::encode(sha2::Sha256::digest(ctx.account().as_bytes())), display_name: "webfile".into() }
    }
}

#[derive(Serialize)]
struct Buckets {
    #[serde(rename = "Bucket")]
    bucket: Vec<BucketEntry>,
}

#[derive(Serialize)]
struct BucketEntry {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "CreationDate")]
    creation_date: String,
    #[serde(rename = "BucketRegion")]
    bucket_region: String,
}

pub async fn list_buckets(ctx: &Ctx, r: &S3Request<'_>) -> Result<Response> {
    let max = match r.q("max-buckets") {
        None => 10_000,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => return Err(invalid_argument("Invalid max-buckets value", "max-buckets", v)),
        },
    };
    let after =
        match r.q("continuation-token") {
            None => String::new(),
            Some(t) => B64.decode(t).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                invalid_argument("The continuation token provided is incorrect", "continuation-token", t)
            })?,
        };
    let prefix = r.q("prefix").unwrap_or("");
    let region = r.q("bucket-region");
    let all: Vec<_> = store::list_buckets(ctx)
        .await?
        .into_iter()
        .filter(|b| b.name.as_str() > after.as_str() && b.name.starts_with(prefix))
        .filter(|b| region.is_none_or(|reg| b.region == reg))
        .collect();
    let truncated = all.len() > max;
    let page: Vec<_> = all.into_iter().take(max).collect();
    let token = if truncated { page.last().map(|b| B64.encode(b.name.as_bytes())) } else { None };
    let result = ListAllMyBucketsResult {
        xmlns: S3_XMLNS,
        owner: Owner::of(ctx),
        buckets: Buckets {
            bucket: page
                .into_iter()
                .map(|b| BucketEntry { name: b.name, creation_date: xml_time(&b.created_at), bucket_region: b.region })
                .collect(),
        },
        continuation_token: token,
        prefix: r.q("prefix").map(str::to_string),
    };
    xml_response("ListAllMyBucketsResult", &result, &[])
}

#[derive(Serialize)]
struct LocationConstraint {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "$text")]
    value: String,
}

pub async fn get_location(ctx: &Ctx, bucket: &str) -> Result<Response> {
    let b = store::require_bucket(ctx, bucket).await?;
    let value = if b.region == US_EAST_1 { String::new() } else { b.region };
    xml_response("LocationConstraint", &LocationConstraint { xmlns: S3_XMLNS, value }, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.v2", "a1b", "000"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in
            ["ab", "Abc", "-abc", "abc-", "a..b", "192.168.1.1", "xn--abc", "a_b", "abc-s3alias", &"a".repeat(64)]
        {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
