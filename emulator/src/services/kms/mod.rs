//! KMS (awsJson1_1, `X-Amz-Target: TrentService.<Op>`): symmetric keys with real AES-256-GCM.
//!
//! | file         | what                                                                 |
//! |--------------|----------------------------------------------------------------------|
//! | `mod.rs`     | operation table; in-process API for other services (S3 SSE-KMS)       |
//! | `keys.rs`    | key records, `KeyId` resolution, state and policy checks, lifecycle   |
//! | `aliases.rs` | Create/Update/Delete/ListAliases                                      |
//! | `crypto.rs`  | Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom         |
//! | `policy.rs`  | key policy evaluation (Allow/Deny, principals, actions, conditions)   |
//! | `blob.rs`    | the ciphertext blob format                                            |

mod aliases;
mod blob;
mod crypto;
pub(crate) mod keys;
pub mod policy;

use std::collections::BTreeMap;

use axum::response::Response;

use crate::error::Result;
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "TrentService";
pub const FLAVOR: aws_json::Flavor = aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" };

/// The operation table: one line per operation.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Response> {
    keys::sweep(ctx).await?;
    aws_json::json_operations!(FLAVOR, ctx, op, body, {
        "CreateKey" => keys::create_key,
        "DescribeKey" => keys::describe_key,
        "ListKeys" => keys::list_keys,
        "EnableKey" => keys::enable_key,
        "DisableKey" => keys::disable_key,
        "ScheduleKeyDeletion" => keys::schedule_key_deletion,
        "CancelKeyDeletion" => keys::cancel_key_deletion,
        "GetKeyPolicy" => keys::get_key_policy,
        "PutKeyPolicy" => keys::put_key_policy,
        "TagResource" => keys::tag_resource,
        "UntagResource" => keys::untag_resource,
        "ListResourceTags" => keys::list_resource_tags,
        "CreateAlias" => aliases::create_alias,
        "UpdateAlias" => aliases::update_alias,
        "DeleteAlias" => aliases::delete_alias,
        "ListAliases" => aliases::list_aliases,
        "Encrypt" => crypto::encrypt,
        "Decrypt" => crypto::decrypt,
        "ReEncrypt" => crypto::re_encrypt,
        "GenerateDataKey" => crypto::generate_data_key,
        "GenerateDataKeyWithoutPlaintext" => crypto::generate_data_key_without_plaintext,
        "GenerateRandom" => crypto::generate_random,
    })
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

fn via_s3(ctx: &Ctx) -> String {
    format!("s3.{}.amazonaws.com", ctx.config().region)
}

/// In-process `GenerateDataKey` (AES_256) for S3, acting as `ctx.principal` with
/// `kms:ViaService` = S3: `key_id` may be a key id, key ARN, alias name or alias ARN. Key state
/// and key policy apply exactly as for the API; errors carry KMS's codes (`NotFoundException`,
/// `DisabledException`, `KMSInvalidStateException`, `AccessDeniedException`).
pub async fn generate_data_key(ctx: &Ctx, key_id: &str, context: &BTreeMap<String, String>) -> Result<DataKey> {
    keys::sweep(ctx).await?;
    let (key_arn, plaintext, ciphertext_blob) =
        crypto::data_key_for_service(ctx, key_id, context, &via_s3(ctx)).await?;
    Ok(DataKey { key_arn, plaintext, ciphertext_blob })
}

/// In-process `Decrypt` for S3, acting as `ctx.principal`; returns the key ARN and the plaintext.
pub async fn decrypt(ctx: &Ctx, blob: &[u8], context: &BTreeMap<String, String>) -> Result<(String, Vec<u8>)> {
    keys::sweep(ctx).await?;
    crypto::decrypt_for_service(ctx, blob, context, &via_s3(ctx)).await
}
