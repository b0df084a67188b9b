//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, data keys, random bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::blob;
use super::keys::{self, Key, authorize, require_enabled, resolve};
use crate::error::{AwsError, Result};
use crate::protocol::aws_json::blob as b64;
use crate::state::Ctx;

type Context = BTreeMap<String, String>;

const ALGORITHM: &str = "SYMMETRIC_DEFAULT";

fn check_algorithm(a: Option<&str>) -> Result<()> {
    match a {
        None | Some(ALGORITHM) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(AwsError::bad_request(
            "InvalidKeyUsageException",
            format!("The encryption algorithm {a} is not valid for a SYMMETRIC_DEFAULT key."),
        )),
        Some(a) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{a}' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
        ))),
    }
}

fn check_plaintext(p: &[u8]) -> Result<()> {
    if p.is_empty() {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if p.len() > 4096 {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
        ));
    }
    Ok(())
}

/// What a request with `DryRun` set gets once every check has passed.
fn dry_run() -> AwsError {
    AwsError::new(
        http::StatusCode::PRECONDITION_FAILED,
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
}

/// The model's bounds for `CiphertextBlob` (1..=6144 bytes).
fn check_ciphertext(c: &[u8]) -> Result<()> {
    let bound = match c.len() {
        0 => "greater than or equal to 1",
        n if n > 6144 => "less than or equal to 6144",
        _ => return Ok(()),
    };
    Err(AwsError::validation(format!(
        "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length {bound}"
    )))
}

/// Seals `plaintext` under an enabled key the caller may use for `action`.
fn seal(ctx: &Ctx, key: &Key, plaintext: &[u8], context: &Context) -> Vec<u8> {
    blob::seal(&key.key_id, &key.material, ctx.rng().bytes::<12>(), plaintext, context)
}

/// Finds, authorises and opens a blob: the core of Decrypt, ReEncrypt and in-process decrypts.
async fn unseal(
    ctx: &Ctx,
    ciphertext: &[u8],
    context: &Context,
    expected_key: Option<&str>,
    action: &str,
    via: Option<&str>,
) -> Result<(Key, Vec<u8>)> {
    check_ciphertext(ciphertext)?;
    let invalid = || AwsError::bad_request("InvalidCiphertextException", "");
    let parsed = blob::parse(ciphertext).filter(|p| keys::is_uuid(p.key_id)).ok_or_else(invalid)?;
    // A blob naming a key that is not (or no longer) here: AWS answers this way, since it
    // cannot tell a deleted key from one in another region or one the caller may not see.
    let key = keys::load(ctx, parsed.key_id).await?.ok_or_else(|| {
        AwsError::bad_request(
            "AccessDeniedException",
            "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
        )
    })?;
    if let Some(expected) = expected_key {
        let wanted = resolve(ctx, expected).await?;
        if wanted.key_id != key.key_id {
            return Err(AwsError::bad_request(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
    }
    authorize(ctx, &key, action, context, via)?;
    require_enabled(&key)?;
    let plaintext = blob::open(&parsed, &key.material, context).ok_or_else(invalid)?;
    Ok((key, plaintext))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    key_id: String,
    #[serde(with = "b64")]
    plaintext: Vec<u8>,
    #[serde(default)]
    encryption_context: Context,
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptOutput {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    key_id: String,
    encryption_algorithm: &'static str,
}

pub async fn encrypt(ctx: &Ctx, input: EncryptInput) -> Result<EncryptOutput> {
    check_plaintext(&input.plaintext)?;
    check_algorithm(input.encryption_algorithm.as_deref())?;
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:Encrypt", &input.encryption_context, None)?;
    require_enabled(&key)?;
    if input.dry_run {
        return Err(dry_run());
    }
    let ciphertext_blob = seal(ctx, &key, &input.plaintext, &input.encryption_context);
    Ok(EncryptOutput { ciphertext_blob, key_id: key.arn, encryption_algorithm: ALGORITHM })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(default)]
    encryption_context: Context,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptOutput {
    key_id: String,
    #[serde(with = "b64")]
    plaintext: Vec<u8>,
    encryption_algorithm: &'static str,
}

pub async fn decrypt(ctx: &Ctx, input: DecryptInput) -> Result<DecryptOutput> {
    check_algorithm(input.encryption_algorithm.as_deref())?;
    let (key, plaintext) =
        unseal(ctx, &input.ciphertext_blob, &input.encryption_context, input.key_id.as_deref(), "kms:Decrypt", None)
            .await?;
    if input.dry_run {
        return Err(dry_run());
    }
    Ok(DecryptOutput { key_id: key.arn, plaintext, encryption_algorithm: ALGORITHM })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(default)]
    source_encryption_context: Context,
    source_key_id: Option<String>,
    destination_key_id: String,
    #[serde(default)]
    destination_encryption_context: Context,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptOutput {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
}

pub async fn re_encrypt(ctx: &Ctx, input: ReEncryptInput) -> Result<ReEncryptOutput> {
    check_algorithm(input.source_encryption_algorithm.as_deref())?;
    check_algorithm(input.destination_encryption_algorithm.as_deref())?;
    keys::check_key_id("destinationKeyId", &input.destination_key_id)?;
    if let Some(source) = &input.source_key_id {
        keys::check_key_id("sourceKeyId", source)?;
    }
    let (source, plaintext) = unseal(
        ctx,
        &input.ciphertext_blob,
        &input.source_encryption_context,
        input.source_key_id.as_deref(),
        "kms:ReEncryptFrom",
        None,
    )
    .await?;
    let dest = resolve(ctx, &input.destination_key_id).await?;
    authorize(ctx, &dest, "kms:ReEncryptTo", &input.destination_encryption_context, None)?;
    require_enabled(&dest)?;
    if input.dry_run {
        return Err(dry_run());
    }
    let ciphertext_blob = seal(ctx, &dest, &plaintext, &input.destination_encryption_context);
    Ok(ReEncryptOutput {
        ciphertext_blob,
        source_key_id: source.arn,
        key_id: dest.arn,
        source_encryption_algorithm: ALGORITHM,
        destination_encryption_algorithm: ALGORITHM,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyInput {
    key_id: String,
    key_spec: Option<String>,
    number_of_bytes: Option<i64>,
    #[serde(default)]
    encryption_context: Context,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyOutput {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(with = "b64::option", skip_serializing_if = "Option::is_none")]
    plaintext: Option<Vec<u8>>,
    key_id: String,
}

fn data_key_len(key_spec: Option<&str>, number_of_bytes: Option<i64>) -> Result<usize> {
    match (key_spec, number_of_bytes) {
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (Some(s), None) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
        (None, Some(n)) => bytes_in_range(n),
        _ => Err(AwsError::validation("Please specify either number of bytes or key spec.")),
    }
}

fn bytes_in_range(n: i64) -> Result<usize> {
    if (1..=1024).contains(&n) {
        return Ok(n as usize);
    }
    let bound = if n < 1 { "greater than or equal to 1" } else { "less than or equal to 1024" };
    Err(AwsError::validation(format!(
        "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value {bound}"
    )))
}

async fn data_key(ctx: &Ctx, input: DataKeyInput, action: &str, via: Option<&str>) -> Result<(Key, Vec<u8>, Vec<u8>)> {
    let len = data_key_len(input.key_spec.as_deref(), input.number_of_bytes)?;
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, action, &input.encryption_context, via)?;
    require_enabled(&key)?;
    if input.dry_run {
        return Err(dry_run());
    }
    let plaintext = ctx.rng().vec(len);
    let blob = seal(ctx, &key, &plaintext, &input.encryption_context);
    Ok((key, plaintext, blob))
}

pub async fn generate_data_key(ctx: &Ctx, input: DataKeyInput) -> Result<DataKeyOutput> {
    let (key, plaintext, ciphertext_blob) = data_key(ctx, input, "kms:GenerateDataKey", None).await?;
    Ok(DataKeyOutput { ciphertext_blob, plaintext: Some(plaintext), key_id: key.arn })
}

pub async fn generate_data_key_without_plaintext(ctx: &Ctx, input: DataKeyInput) -> Result<DataKeyOutput> {
    let (key, _, ciphertext_blob) = data_key(ctx, input, "kms:GenerateDataKeyWithoutPlaintext", None).await?;
    Ok(DataKeyOutput { ciphertext_blob, plaintext: None, key_id: key.arn })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomInput {
    number_of_bytes: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomOutput {
    #[serde(with = "b64")]
    plaintext: Vec<u8>,
}

pub async fn generate_random(ctx: &Ctx, input: RandomInput) -> Result<RandomOutput> {
    let n = input.number_of_bytes.ok_or_else(|| AwsError::member_null("NumberOfBytes"))?;
    Ok(RandomOutput { plaintext: ctx.rng().vec(bytes_in_range(n)?) })
}

/// For other services: a 256-bit data key, with `kms:ViaService` set to the calling service.
pub async fn data_key_for_service(
    ctx: &Ctx,
    key_id: &str,
    context: &Context,
    via: &str,
) -> Result<(String, Vec<u8>, Vec<u8>)> {
    let input = DataKeyInput {
        key_id: key_id.to_string(),
        key_spec: Some("AES_256".into()),
        number_of_bytes: None,
        encryption_context: context.clone(),
        dry_run: false,
    };
    let (key, plaintext, blob) = data_key(ctx, input, "kms:GenerateDataKey", Some(via)).await?;
    Ok((key.arn, plaintext, blob))
}

/// For other services: Decrypt with `kms:ViaService` set.
pub async fn decrypt_for_service(
    ctx: &Ctx,
    ciphertext: &[u8],
    context: &Context,
    via: &str,
) -> Result<(String, Vec<u8>)> {
    let (key, plaintext) = unseal(ctx, ciphertext, context, None, "kms:Decrypt", Some(via)).await?;
    Ok((key.arn, plaintext))
}
