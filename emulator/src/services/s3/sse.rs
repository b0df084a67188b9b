//! Encryption at rest. Every body is stored as `nonce (12 bytes) ‖ AES-256-GCM ciphertext`:
//! - SSE-S3 (`AES256`, the default): under one emulator-wide master key kept in `meta`;
//! - SSE-KMS (`aws:kms`): under a per-object data key from KMS, whose wrapped form is stored
//!   beside the object and unwrapped through KMS on every read (so key state and policy apply).

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::StatusCode;
use sqlx::Row;

use super::store::ObjectMeta;
use super::{S3Request, invalid_argument, not_implemented};
use crate::error::{AwsError, Result};
use crate::services::kms;
use crate::state::Ctx;

const MASTER_KEY: &str = "s3.master-key";
/// The AWS managed key S3 uses when `aws:kms` comes without a key id.
const DEFAULT_KMS_KEY: &str = "alias/aws/s3";

/// How the caller asked for the object to be encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    S3,
    Kms { key_id: Option<String>, context: BTreeMap<String, String> },
}

/// An encrypted body and what is needed to decrypt it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub sse: String,
    pub kms_key_arn: Option<String>,
    pub kms_context: Option<String>,
    pub wrapped_key: Option<Vec<u8>>,
    pub data: Vec<u8>,
}

impl Sealed {
    pub fn apply_to(&self, meta: &mut ObjectMeta) {
        meta.sse = self.sse.clone();
        meta.kms_key_arn = self.kms_key_arn.clone();
        meta.kms_context = self.kms_context.clone();
        meta.wrapped_key = self.wrapped_key.clone();
    }
}

/// Reads the `x-amz-server-side-encryption*` headers.
pub fn parse_request(r: &S3Request) -> Result<SseRequest> {
    if r.header("x-amz-server-side-encryption-customer-algorithm").is_some() {
        return Err(not_implemented("x-amz-server-side-encryption-customer-algorithm"));
    }
    let key_id = r.header("x-amz-server-side-encryption-aws-kms-key-id").map(str::to_string);
    let context = r.header("x-amz-server-side-encryption-context");
    match r.header("x-amz-server-side-encryption") {
        None | Some("AES256") => {
            if key_id.is_some() || context.is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                    "x-amz-server-side-encryption",
                    r.header("x-amz-server-side-encryption").unwrap_or("null"),
                ));
            }
            Ok(SseRequest::S3)
        }
        Some("aws:kms") | Some("aws:kms:dsse") => {
            let context = match context {
                None => BTreeMap::new(),
                Some(c) => parse_context(c).ok_or_else(|| {
                    invalid_argument(
                        "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
                        "x-amz-server-side-encryption-context",
                        c,
                    )
                })?,
            };
            Ok(SseRequest::Kms { key_id: key_id.filter(|k| !k.is_empty()), context })
        }
        Some(other) => Err(invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            other,
        )),
    }
}

fn parse_context(b64: &str) -> Option<BTreeMap<String, String>> {
    let raw = B64.decode(b64.trim()).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// The response headers that describe how an object is encrypted.
pub fn headers(meta: &ObjectMeta) -> Vec<(String, String)> {
    let mut h = vec![("x-amz-server-side-encryption".to_string(), meta.sse.clone())];
    if let Some(arn) = &meta.kms_key_arn {
        h.push(("x-amz-server-side-encryption-aws-kms-key-id".into(), arn.clone()));
    }
    if let Some(c) = &meta.kms_context {
        let user: BTreeMap<String, String> = serde_json::from_str(c).unwrap_or_default();
        h.push((
            "x-amz-server-side-encryption-context".into(),
            B64.encode(serde_json::to_vec(&user).unwrap_or_default()),
        ));
    }
    h
}

/// Encrypts a body for `bucket/key` as requested.
pub async fn seal(ctx: &Ctx, req: &SseRequest, bucket: &str, key: &str, plaintext: &[u8]) -> Result<Sealed> {
    match req {
        SseRequest::S3 => {
            let master = master_key(ctx).await?;
            Ok(Sealed {
                sse: "AES256".into(),
                kms_key_arn: None,
                kms_context: None,
                wrapped_key: None,
                data: encrypt(ctx, &master, plaintext)?,
            })
        }
        SseRequest::Kms { key_id, context } => {
            let mut full = context.clone();
            full.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}/{key}"));
            let key_id = key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
            let dk = kms::generate_data_key(ctx, key_id, &full).await.map_err(kms_error)?;
            let data = encrypt(ctx, &dk.plaintext, plaintext)?;
            Ok(Sealed {
                sse: "aws:kms".into(),
                kms_key_arn: Some(dk.key_arn),
                kms_context: Some(serde_json::to_string(&full).unwrap_or_default()),
                wrapped_key: Some(dk.ciphertext_blob),
                data,
            })
        }
    }
}

/// Decrypts a stored body.
pub async fn open(ctx: &Ctx, meta: &ObjectMeta, data: &[u8]) -> Result<Vec<u8>> {
    let key = match &meta.wrapped_key {
        None => master_key(ctx).await?,
        Some(wrapped) => {
            let context: BTreeMap<String, String> =
                meta.kms_context.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
            kms::decrypt(ctx, wrapped, &context).await.map_err(kms_error)?.1
        }
    };
    decrypt(&key, data)
}

/// Seals parts of multipart uploads and other transient data under the master key.
pub async fn seal_internal(ctx: &Ctx, plaintext: &[u8]) -> Result<Vec<u8>> {
    let master = master_key(ctx).await?;
    encrypt(ctx, &master, plaintext)
}

pub async fn open_internal(ctx: &Ctx, data: &[u8]) -> Result<Vec<u8>> {
    let master = master_key(ctx).await?;
    decrypt(&master, data)
}

/// KMS errors as S3 reports them: access denials as `AccessDenied` 403, the rest as `KMS.<code>`.
pub(super) fn kms_error(e: AwsError) -> AwsError {
    if e.status.is_server_error() {
        return e;
    }
    if e.code == "AccessDeniedException" {
        return AwsError::new(StatusCode::FORBIDDEN, "AccessDenied", e.message);
    }
    AwsError::bad_request(format!("KMS.{}", e.code), e.message)
}

fn encrypt(ctx: &Ctx, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    if key.len() != 32 {
        return Err(AwsError::internal("bad data key length"));
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = ctx.rng().bytes::<12>();
    // Encrypted where it is stored (nonce ‖ ciphertext ‖ tag, as `Aead::encrypt` would lay it
    // out after the nonce), so a body is copied once here, not twice.
    let mut out = Vec::with_capacity(12 + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut out[12..])
        .map_err(|_| AwsError::internal("encryption failed"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

fn decrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    if key.len() != 32 || data.len() < 12 {
        return Err(AwsError::internal("stored object is corrupt"));
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let (nonce, ct) = data.split_at(12);
    cipher.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| AwsError::internal("stored object cannot be decrypted"))
}

/// The instance's S3 master key, created on first use; read from the database once (every
/// object read and write needs it).
async fn master_key(ctx: &Ctx) -> Result<Vec<u8>> {
    if let Some(key) = ctx.store().recall(MASTER_KEY) {
        return Ok(key);
    }
    let key = stored_master_key(ctx).await?;
    ctx.store().remember(MASTER_KEY, key.clone());
    Ok(key)
}

async fn stored_master_key(ctx: &Ctx) -> Result<Vec<u8>> {
    let pool = ctx.store().pool();
    let existing = sqlx::query("SELECT value FROM meta WHERE key = ?").bind(MASTER_KEY).fetch_optional(pool).await?;
    let hex_key: String = match existing {
        Some(row) => row.get(0),
        None => {
            let fresh = hex::encode(ctx.rng().bytes::<32>());
            sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)")
                .bind(MASTER_KEY)
                .bind(&fresh)
                .execute(&mut *ctx.store().turn().await?)
                .await?;
            let row = sqlx::query("SELECT value FROM meta WHERE key = ?").bind(MASTER_KEY).fetch_one(pool).await?;
            row.get(0)
        }
    };
    hex::decode(hex_key).map_err(|_| AwsError::internal("master key is corrupt"))
}
