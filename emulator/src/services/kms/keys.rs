//! Keys: the stored record, how a `KeyId` argument is resolved (id, key ARN, alias name, alias
//! ARN), state and policy checks, and the key lifecycle operations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::policy::{self, Decision};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// A key as stored.
#[derive(Debug, Clone)]
pub struct Key {
    pub key_id: String,
    pub arn: String,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    pub state: String,
    pub key_manager: String,
    pub created_at: f64,
    pub deletion_date: Option<f64>,
    pub pending_window_days: Option<i64>,
    pub policy: String,
    pub tags: Vec<Tag>,
    pub material: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub tag_key: String,
    pub tag_value: String,
}

const COLUMNS: &str = "key_id, arn, description, key_usage, key_spec, key_state, key_manager, created_at, \
                       deletion_date, pending_window_days, policy, tags, material";

fn from_row(r: &SqliteRow) -> Key {
    Key {
        key_id: r.get(0),
        arn: r.get(1),
        description: r.get(2),
        key_usage: r.get(3),
        key_spec: r.get(4),
        state: r.get(5),
        key_manager: r.get(6),
        created_at: r.get(7),
        deletion_date: r.get(8),
        pending_window_days: r.get(9),
        policy: r.get(10),
        tags: serde_json::from_str(r.get::<&str, _>(11)).unwrap_or_default(),
        material: r.get(12),
    }
}

pub fn key_arn(ctx: &Ctx, key_id: &str) -> String {
    format!("arn:aws:kms:{}:{}:key/{key_id}", ctx.config().region, ctx.account())
}

pub fn alias_arn(ctx: &Ctx, alias: &str) -> String {
    format!("arn:aws:kms:{}:{}:{alias}", ctx.config().region, ctx.account())
}

/// Keys whose deletion date has passed on the emulator clock are deleted (with their aliases).
/// Runs before every KMS operation, so it first looks with a read (the delete, which takes the
/// writer's turn, happens only when a key is actually due), and before the first deletion date
/// it knows of ([`Emu::kms_deletions`]) not even that.
///
/// [`Emu::kms_deletions`]: crate::state::Emu::kms_deletions
pub async fn sweep(ctx: &Ctx) -> Result<()> {
    let now = ctx.epoch();
    let generation = ctx.store().generation();
    let Err(seen) = ctx.emu.kms_deletions.check(now, generation) else { return Ok(()) };
    let first: Option<f64> =
        sqlx::query_scalar("SELECT MIN(deletion_date) FROM kms_keys WHERE key_state = 'PendingDeletion'")
            .fetch_one(ctx.store().pool())
            .await?;
    match first {
        Some(date) if date <= now => {
            sqlx::query("DELETE FROM kms_keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ?")
                .bind(now)
                .execute(&mut *ctx.store().turn().await?)
                .await?;
        }
        _ => ctx.emu.kms_deletions.learn(first.unwrap_or(f64::INFINITY), generation, seen),
    }
    Ok(())
}

fn not_found_key(arn: &str) -> AwsError {
    AwsError::bad_request("NotFoundException", format!("Key '{arn}' does not exist"))
}

pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The model's length bounds for a key identifier (1..=2048), reported under `member`.
pub fn check_key_id(member: &str, key_id: &str) -> Result<()> {
    let bound = match key_id.chars().count() {
        0 => "greater than or equal to 1",
        n if n > 2048 => "less than or equal to 2048",
        _ => return Ok(()),
    };
    Err(AwsError::validation(format!(
        "1 validation error detected: Value '{key_id}' at '{member}' failed to satisfy constraint: Member must have length {bound}"
    )))
}

/// A `Marker` this service did not hand out.
pub fn invalid_marker() -> AwsError {
    AwsError::bad_request(
        "InvalidMarkerException",
        "The marker that specifies where pagination should next begin is not valid.",
    )
}

/// Finds the key a `KeyId` argument names.
pub async fn resolve(ctx: &Ctx, key_id: &str) -> Result<Key> {
    check_key_id("keyId", key_id)?;
    let prefix = format!("arn:aws:kms:{}:{}:", ctx.config().region, ctx.account());
    let local = match key_id.strip_prefix(&prefix) {
        Some(rest) => rest,
        None if key_id.starts_with("arn:") => {
            return Err(if key_id.contains(":alias/") {
                AwsError::bad_request("NotFoundException", format!("Alias '{key_id}' is not found."))
            } else {
                not_found_key(key_id)
            });
        }
        None => key_id,
    };
    if local.starts_with("alias/") {
        return resolve_alias(ctx, local).await;
    }
    let id = local.strip_prefix("key/").unwrap_or(local);
    if !is_uuid(id) {
        return Err(AwsError::bad_request("NotFoundException", format!("Invalid keyId {key_id}")));
    }
    load(ctx, id).await?.ok_or_else(|| not_found_key(&key_arn(ctx, id)))
}

pub async fn load(ctx: &Ctx, key_id: &str) -> Result<Option<Key>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM kms_keys WHERE key_id = ?"))
        .bind(key_id)
        .fetch_optional(ctx.store().pool())
        .await?;
    Ok(row.as_ref().map(from_row))
}

async fn resolve_alias(ctx: &Ctx, alias: &str) -> Result<Key> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM kms_aliases a JOIN kms_keys k ON k.key_id = a.key_id WHERE a.alias_name = ?",
        COLUMNS.split(", ").map(|c| format!("k.{}", c.trim())).collect::<Vec<_>>().join(", ")
    ))
    .bind(alias)
    .fetch_optional(ctx.store().pool())
    .await?;
    match row {
        Some(r) => Ok(from_row(&r)),
        // AWS managed keys (alias/aws/s3, …) come into existence on first use.
        None if alias.starts_with("alias/aws/") => create_aws_managed(ctx, alias).await,
        None => {
            Err(AwsError::bad_request("NotFoundException", format!("Alias '{}' is not found.", alias_arn(ctx, alias))))
        }
    }
}

async fn create_aws_managed(ctx: &Ctx, alias: &str) -> Result<Key> {
    let service = alias.trim_start_matches("alias/aws/");
    let now = ctx.epoch();
    // Under the write lock, so concurrent first uses create one key, not one each.
    let mut tx = ctx.store().begin_write().await?;
    let exists =
        sqlx::query("SELECT 1 FROM kms_aliases WHERE alias_name = ?").bind(alias).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        let description = format!("Default key that protects my {service} data when no other key is defined");
        let via = format!("{service}.{}.amazonaws.com", ctx.config().region);
        let policy = policy::aws_managed_policy(ctx.account(), &via);
        let key = new_key(ctx, description, Some(policy), "AWS");
        insert(&mut tx, &key).await?;
        sqlx::query("INSERT INTO kms_aliases (alias_name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?)")
            .bind(alias)
            .bind(&key.key_id)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Box::pin(resolve_alias(ctx, alias)).await
}

/// A fresh enabled symmetric key (not yet stored).
pub fn new_key(ctx: &Ctx, description: String, policy: Option<String>, manager: &str) -> Key {
    let key_id = ctx.rng().uuid();
    let material = ctx.rng().vec(32);
    Key {
        arn: key_arn(ctx, &key_id),
        key_id,
        description,
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        state: "Enabled".into(),
        key_manager: manager.into(),
        created_at: ctx.epoch(),
        deletion_date: None,
        pending_window_days: None,
        policy: policy.unwrap_or_else(|| policy::default_policy(ctx.account())),
        tags: Vec::new(),
        material,
    }
}

pub async fn insert(tx: &mut sqlx::SqliteConnection, k: &Key) -> Result<()> {
    sqlx::query(&format!("INSERT INTO kms_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(&k.key_id)
        .bind(&k.arn)
        .bind(&k.description)
        .bind(&k.key_usage)
        .bind(&k.key_spec)
        .bind(&k.state)
        .bind(&k.key_manager)
        .bind(k.created_at)
        .bind(k.deletion_date)
        .bind(k.pending_window_days)
        .bind(&k.policy)
        .bind(serde_json::to_string(&k.tags).unwrap_or_else(|_| "[]".into()))
        .bind(&k.material)
        .execute(tx)
        .await?;
    Ok(())
}

/// Checks the key policy for `action` by the caller.
pub fn authorize(
    ctx: &Ctx,
    key: &Key,
    action: &str,
    context: &BTreeMap<String, String>,
    via: Option<&str>,
) -> Result<()> {
    let doc = policy::parse(&key.policy).unwrap_or_default();
    let req = policy::Request {
        action,
        principal_arn: &ctx.principal.arn,
        principal_account: &ctx.principal.account,
        key_arn: &key.arn,
        context,
        via_service: via,
    };
    match policy::evaluate(&doc, &req) {
        Decision::Allow => Ok(()),
        d => Err(AwsError::bad_request(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} on resource: {} {}",
                ctx.principal.arn,
                key.arn,
                if d == Decision::ExplicitDeny {
                    "with an explicit deny in a resource-based policy".to_string()
                } else {
                    format!("because no resource-based policy allows the {action} action")
                }
            ),
        )),
    }
}

/// Cryptographic operations need an enabled key.
pub fn require_enabled(key: &Key) -> Result<()> {
    match key.state.as_str() {
        "Enabled" => Ok(()),
        "Disabled" => Err(AwsError::bad_request("DisabledException", format!("{} is disabled.", key.arn))),
        _ => Err(invalid_state(key)),
    }
}

pub fn invalid_state(key: &Key) -> AwsError {
    let what = if key.state == "PendingDeletion" { "pending deletion" } else { key.state.as_str() };
    AwsError::bad_request("KMSInvalidStateException", format!("{} is {what}.", key.arn))
}

/// Management operations other than cancelling deletion refuse keys pending deletion.
pub fn require_not_pending(key: &Key) -> Result<()> {
    if key.state == "PendingDeletion" { Err(invalid_state(key)) } else { Ok(()) }
}

async fn set_state(ctx: &Ctx, key: &Key, state: &str, deletion: Option<(f64, i64)>) -> Result<()> {
    sqlx::query("UPDATE kms_keys SET key_state = ?, deletion_date = ?, pending_window_days = ? WHERE key_id = ?")
        .bind(state)
        .bind(deletion.map(|d| d.0))
        .bind(deletion.map(|d| d.1))
        .bind(&key.key_id)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(())
}

// ---- operations ----

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: f64,
    enabled: bool,
    description: String,
    key_usage: String,
    key_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    origin: &'static str,
    key_manager: String,
    customer_master_key_spec: String,
    key_spec: String,
    encryption_algorithms: [&'static str; 1],
    multi_region: bool,
    current_key_material_id: String,
}

pub fn metadata(ctx: &Ctx, k: &Key) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: ctx.account().to_string(),
        key_id: k.key_id.clone(),
        arn: k.arn.clone(),
        creation_date: k.created_at,
        enabled: k.state == "Enabled",
        description: k.description.clone(),
        key_usage: k.key_usage.clone(),
        key_state: k.state.clone(),
        deletion_date: k.deletion_date,
        pending_deletion_window_in_days: k.pending_window_days,
        origin: "AWS_KMS",
        key_manager: k.key_manager.clone(),
        customer_master_key_spec: k.key_spec.clone(),
        key_spec: k.key_spec.clone(),
        encryption_algorithms: ["SYMMETRIC_DEFAULT"],
        multi_region: false,
        current_key_material_id: material_id(&k.material),
    }
}

/// The id KMS gives a key's material (64 hex digits; a key holds one material here, as keys are
/// not rotated): a domain-separated SHA-256 of the material, so it is stable across exports and
/// restores and says nothing about the 256 random bits it names.
fn material_id(material: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::new().chain_update(b"kms key material id\0").chain_update(material).finalize())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataOutput {
    key_metadata: KeyMetadata,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyInput {
    description: Option<String>,
    policy: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    tags: Vec<Tag>,
    bypass_policy_lockout_safety_check: bool,
    multi_region: Option<bool>,
}

const ASYMMETRIC_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

pub async fn create_key(ctx: &Ctx, input: CreateKeyInput) -> Result<KeyMetadataOutput> {
    if input.key_spec.is_some() && input.customer_master_key_spec.is_some() {
        return Err(AwsError::validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    let spec = input.key_spec.or(input.customer_master_key_spec).unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
    if spec != "SYMMETRIC_DEFAULT" {
        if ASYMMETRIC_SPECS.contains(&spec.as_str()) {
            return Err(AwsError::bad_request(
                "UnsupportedOperationException",
                format!("KeySpec {spec} is not supported: only SYMMETRIC_DEFAULT keys are emulated."),
            ));
        }
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set"
        )));
    }
    match input.key_usage.as_deref() {
        None | Some("ENCRYPT_DECRYPT") => {}
        Some(u @ ("SIGN_VERIFY" | "GENERATE_VERIFY_MAC" | "KEY_AGREEMENT")) => {
            return Err(AwsError::validation(format!(
                "The operation failed because the KeyUsage value {u} is not valid for KeySpec SYMMETRIC_DEFAULT."
            )));
        }
        Some(u) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{u}' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set"
            )));
        }
    }
    if let Some(o) = input.origin.as_deref().filter(|o| *o != "AWS_KMS") {
        return Err(AwsError::bad_request("UnsupportedOperationException", format!("Origin {o} is not supported.")));
    }
    if input.multi_region == Some(true) {
        return Err(AwsError::bad_request("UnsupportedOperationException", "Multi-Region keys are not supported."));
    }
    if let Some(d) = &input.description
        && d.chars().count() > 8192
    {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
        ));
    }
    validate_tags(&input.tags)?;
    let mut key = new_key(ctx, input.description.unwrap_or_default(), None, "CUSTOMER");
    if let Some(p) = input.policy {
        check_policy(ctx, &key, &p, input.bypass_policy_lockout_safety_check)?;
        key.policy = p;
    }
    key.tags = input.tags;
    insert(&mut *ctx.store().turn().await?, &key).await?;
    Ok(KeyMetadataOutput { key_metadata: metadata(ctx, &key) })
}

fn validate_tags(tags: &[Tag]) -> Result<()> {
    for t in tags {
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 || t.tag_value.chars().count() > 256 {
            return Err(AwsError::bad_request(
                "TagException",
                "Tag keys must be 1-128 characters and values at most 256.",
            ));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(AwsError::bad_request("TagException", "Tag keys must not begin with 'aws:'."));
        }
    }
    Ok(())
}

/// A new policy must parse and, unless bypassed, still let the caller change it later.
fn check_policy(ctx: &Ctx, key: &Key, text: &str, bypass: bool) -> Result<()> {
    if text.len() > 32768 {
        return Err(AwsError::bad_request("LimitExceededException", "The key policy is larger than 32 KB."));
    }
    let doc = policy::parse(text).map_err(|e| {
        AwsError::bad_request("MalformedPolicyDocumentException", format!("The policy document is malformed: {e}"))
    })?;
    if !bypass {
        let empty = BTreeMap::new();
        let req = policy::Request {
            action: "kms:PutKeyPolicy",
            principal_arn: &ctx.principal.arn,
            principal_account: &ctx.principal.account,
            key_arn: &key.arn,
            context: &empty,
            via_service: None,
        };
        if policy::evaluate(&doc, &req) != Decision::Allow {
            return Err(AwsError::bad_request(
                "MalformedPolicyDocumentException",
                "The new key policy will not allow you to update the key policy in the future.",
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput {
    key_id: String,
}

pub async fn describe_key(ctx: &Ctx, input: KeyIdInput) -> Result<KeyMetadataOutput> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:DescribeKey", &BTreeMap::new(), None)?;
    Ok(KeyMetadataOutput { key_metadata: metadata(ctx, &key) })
}

#[derive(Serialize)]
pub struct Empty {}

pub async fn enable_key(ctx: &Ctx, input: KeyIdInput) -> Result<Empty> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:EnableKey", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    set_state(ctx, &key, "Enabled", None).await?;
    Ok(Empty {})
}

pub async fn disable_key(ctx: &Ctx, input: KeyIdInput) -> Result<Empty> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:DisableKey", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    set_state(ctx, &key, "Disabled", None).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    key_id: String,
    pending_window_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleOutput {
    key_id: String,
    deletion_date: f64,
    key_state: &'static str,
    pending_window_in_days: i64,
}

pub async fn schedule_key_deletion(ctx: &Ctx, input: ScheduleInput) -> Result<ScheduleOutput> {
    let days = input.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        let bound = if days < 7 { "greater than or equal to 7" } else { "less than or equal to 30" };
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value {bound}"
        )));
    }
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:ScheduleKeyDeletion", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    if key.key_manager == "AWS" {
        return Err(AwsError::bad_request(
            "UnsupportedOperationException",
            format!("{} is an AWS managed key.", key.arn),
        ));
    }
    let when = ctx.epoch() + (days * 86_400) as f64;
    set_state(ctx, &key, "PendingDeletion", Some((when, days))).await?;
    ctx.emu.kms_deletions.lower(when);
    Ok(ScheduleOutput {
        key_id: key.arn,
        deletion_date: when,
        key_state: "PendingDeletion",
        pending_window_in_days: days,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdOutput {
    key_id: String,
}

pub async fn cancel_key_deletion(ctx: &Ctx, input: KeyIdInput) -> Result<KeyIdOutput> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:CancelKeyDeletion", &BTreeMap::new(), None)?;
    if key.state != "PendingDeletion" {
        return Err(AwsError::bad_request("KMSInvalidStateException", format!("{} is not pending deletion.", key.arn)));
    }
    // As in AWS, a key whose deletion is cancelled comes back disabled.
    set_state(ctx, &key, "Disabled", None).await?;
    Ok(KeyIdOutput { key_id: key.arn })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysInput {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    key_id: String,
    key_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysOutput {
    keys: Vec<KeyListEntry>,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub fn check_limit(limit: Option<i64>) -> Result<i64> {
    match limit {
        None => Ok(100),
        Some(l) if (1..=1000).contains(&l) => Ok(l),
        Some(l) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value {}",
            if l < 1 { "greater than or equal to 1" } else { "less than or equal to 1000" }
        ))),
    }
}

pub async fn list_keys(ctx: &Ctx, input: ListKeysInput) -> Result<ListKeysOutput> {
    let limit = check_limit(input.limit)?;
    let after = input.marker.unwrap_or_default();
    if !after.is_empty() && !is_uuid(&after) {
        return Err(invalid_marker());
    }
    let rows = sqlx::query("SELECT key_id, arn FROM kms_keys WHERE key_id > ? ORDER BY key_id LIMIT ?")
        .bind(&after)
        .bind(limit + 1)
        .fetch_all(ctx.store().pool())
        .await?;
    let mut keys: Vec<KeyListEntry> =
        rows.iter().map(|r| KeyListEntry { key_id: r.get(0), key_arn: r.get(1) }).collect();
    let truncated = keys.len() as i64 > limit;
    keys.truncate(limit as usize);
    let next_marker = truncated.then(|| keys.last().map(|k| k.key_id.clone())).flatten();
    Ok(ListKeysOutput { keys, truncated, next_marker })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyInput {
    key_id: String,
    policy_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyOutput {
    policy: String,
    policy_name: &'static str,
}

fn check_policy_name(name: Option<&str>) -> Result<()> {
    match name {
        None | Some("default") => Ok(()),
        Some(_) => Err(AwsError::bad_request("NotFoundException", "No such policy exists")),
    }
}

pub async fn get_key_policy(ctx: &Ctx, input: GetKeyPolicyInput) -> Result<GetKeyPolicyOutput> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:GetKeyPolicy", &BTreeMap::new(), None)?;
    check_policy_name(input.policy_name.as_deref())?;
    Ok(GetKeyPolicyOutput { policy: key.policy, policy_name: "default" })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutKeyPolicyInput {
    key_id: String,
    policy_name: Option<String>,
    policy: String,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
}

pub async fn put_key_policy(ctx: &Ctx, input: PutKeyPolicyInput) -> Result<Empty> {
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:PutKeyPolicy", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    check_policy_name(input.policy_name.as_deref())?;
    check_policy(ctx, &key, &input.policy, input.bypass_policy_lockout_safety_check)?;
    sqlx::query("UPDATE kms_keys SET policy = ? WHERE key_id = ?")
        .bind(&input.policy)
        .bind(&key.key_id)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    key_id: String,
    tags: Vec<Tag>,
}

async fn save_tags(ctx: &Ctx, key: &Key, tags: &[Tag]) -> Result<()> {
    sqlx::query("UPDATE kms_keys SET tags = ? WHERE key_id = ?")
        .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
        .bind(&key.key_id)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(())
}

pub async fn tag_resource(ctx: &Ctx, input: TagResourceInput) -> Result<Empty> {
    let mut key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:TagResource", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    validate_tags(&input.tags)?;
    for t in input.tags {
        match key.tags.iter_mut().find(|x| x.tag_key == t.tag_key) {
            Some(existing) => existing.tag_value = t.tag_value,
            None => key.tags.push(t),
        }
    }
    save_tags(ctx, &key, &key.tags).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    key_id: String,
    tag_keys: Vec<String>,
}

pub async fn untag_resource(ctx: &Ctx, input: UntagResourceInput) -> Result<Empty> {
    let mut key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:UntagResource", &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    key.tags.retain(|t| !input.tag_keys.contains(&t.tag_key));
    save_tags(ctx, &key, &key.tags).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsInput {
    key_id: String,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsOutput {
    tags: Vec<Tag>,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub async fn list_resource_tags(ctx: &Ctx, input: ListResourceTagsInput) -> Result<ListResourceTagsOutput> {
    let limit = check_limit(input.limit)? as usize;
    let key = resolve(ctx, &input.key_id).await?;
    authorize(ctx, &key, "kms:ListResourceTags", &BTreeMap::new(), None)?;
    let mut tags = key.tags;
    tags.sort_by(|a, b| a.tag_key.cmp(&b.tag_key));
    let start = match input.marker {
        Some(m) => tags.iter().position(|t| t.tag_key > m).unwrap_or(tags.len()),
        None => 0,
    };
    let mut page: Vec<Tag> = tags[start..].to_vec();
    let truncated = page.len() > limit;
    page.truncate(limit);
    let next_marker = truncated.then(|| page.last().map(|t| t.tag_key.clone())).flatten();
    Ok(ListResourceTagsOutput { tags: page, truncated, next_marker })
}
