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
mod keys;
pub mod policy;

use std::collections::BTreeMap;

use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "TrentService";
pub const FLAVOR: aws_json::Flavor = aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" };

/// Decodes the input, runs the operation, encodes the output.
async fn run<I: DeserializeOwned, O: Serialize>(
    ctx: &Ctx,
    body: &[u8],
    op: impl AsyncFnOnce(&Ctx, I) -> Result<O>,
) -> Result<Response> {
    let input = aws_json::decode::<I>(body)?;
    keys::sweep(ctx).await?;
    let output = op(ctx, input).await?;
    Ok(aws_json::respond(FLAVOR, &output))
}

/// The operation table: one line per operation.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Response> {
    match op {
        "CreateKey" => run(ctx, body, keys::create_key).await,
        "DescribeKey" => run(ctx, body, keys::describe_key).await,
        "ListKeys" => run(ctx, body, keys::list_keys).await,
        "EnableKey" => run(ctx, body, keys::enable_key).await,
        "DisableKey" => run(ctx, body, keys::disable_key).await,
        "ScheduleKeyDeletion" => run(ctx, body, keys::schedule_key_deletion).await,
        "CancelKeyDeletion" => run(ctx, body, keys::cancel_key_deletion).await,
        "GetKeyPolicy" => run(ctx, body, keys::get_key_policy).await,
        "PutKeyPolicy" => run(ctx, body, keys::put_key_policy).await,
        "TagResource" => run(ctx, body, keys::tag_resource).await,
        "UntagResource" => run(ctx, body, keys::untag_resource).await,
        "ListResourceTags" => run(ctx, body, keys::list_resource_tags).await,
        "CreateAlias" => run(ctx, body, aliases::create_alias).await,
        "UpdateAlias" => run(ctx, body, aliases::update_alias).await,
        "DeleteAlias" => run(ctx, body, aliases::delete_alias).await,
        "ListAliases" => run(ctx, body, aliases::list_aliases).await,
        "Encrypt" => run(ctx, body, crypto::encrypt).await,
        "Decrypt" => run(ctx, body, crypto::decrypt).await,
        "ReEncrypt" => run(ctx, body, crypto::re_encrypt).await,
        "GenerateDataKey" => run(ctx, body, crypto::generate_data_key).await,
        "GenerateDataKeyWithoutPlaintext" => run(ctx, body, crypto::generate_data_key_without_plaintext).await,
        "GenerateRandom" => run(ctx, body, crypto::generate_random).await,
        _ => Err(crate::gateway::unknown_operation()),
    }
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
