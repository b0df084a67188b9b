//! KMS (awsJson1_1, `TrentService.*`).
use std::collections::BTreeMap;

use axum::response::Response;

use crate::error::{AwsError, Result};
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "TrentService";
pub const FLAVOR: aws_json::Flavor = aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" };

pub async fn handle(_ctx: &Ctx, _op: &str, _body: &[u8]) -> Result<Response> {
    Err(crate::gateway::unknown_operation())
}

/// A data key as other services (S3 SSE-KMS) get it.
#[derive(Debug, Clone)]
pub struct DataKey {
    /// ARN of the KMS key that wraps it.
    pub key_arn: String,
    /// 32 bytes of AES-256 key material.
    pub plaintext: Vec<u8>,
    /// The wrapped key (a KMS ciphertext blob naming its key).
    pub ciphertext_blob: Vec<u8>,
}

/// In-process `GenerateDataKey` (AES_256) for other services, acting as `ctx.principal`:
/// `key_id` may be a key id, key ARN, alias name or alias ARN. Key state and key policy apply
/// exactly as for the API; errors carry KMS's codes (`NotFoundException`, `DisabledException`,
/// `KMSInvalidStateException`, `AccessDeniedException`).
pub async fn generate_data_key(_ctx: &Ctx, key_id: &str, _context: &BTreeMap<String, String>) -> Result<DataKey> {
    Err(AwsError::bad_request("NotFoundException", format!("Key '{key_id}' does not exist")))
}

/// In-process `Decrypt` for other services, acting as `ctx.principal`; returns the key ARN and
/// the plaintext.
pub async fn decrypt(_ctx: &Ctx, _blob: &[u8], _context: &BTreeMap<String, String>) -> Result<(String, Vec<u8>)> {
    Err(AwsError::bad_request("InvalidCiphertextException", ""))
}
