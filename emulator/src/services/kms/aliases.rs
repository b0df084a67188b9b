//! Aliases: friendly names (`alias/…`) for keys, accepted wherever a `KeyId` is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::keys::{self, Empty, alias_arn, authorize, require_not_pending, resolve};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

fn validate_name(name: &str) -> Result<()> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'));
    if !name.starts_with("alias/") || name.len() <= 6 || name.len() > 256 || !ok_chars {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$ and begin with alias/"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(AwsError::bad_request(
            "NotAuthorizedException",
            format!(
                "Cannot create, update or delete alias {name}: the alias/aws/ prefix is reserved for AWS managed keys."
            ),
        ));
    }
    Ok(())
}

/// The key an alias may point at: a customer managed key given by id or key ARN.
async fn target(ctx: &Ctx, target_key_id: &str, action: &str) -> Result<keys::Key> {
    keys::check_key_id("targetKeyId", target_key_id)?;
    if target_key_id.starts_with("alias/") || target_key_id.contains(":alias/") {
        return Err(AwsError::validation("Aliases must refer to keys. Not aliases"));
    }
    let key = resolve(ctx, target_key_id).await?;
    authorize(ctx, &key, action, &BTreeMap::new(), None)?;
    require_not_pending(&key)?;
    if key.key_manager == "AWS" {
        return Err(AwsError::bad_request("NotAuthorizedException", "An alias cannot point at an AWS managed key."));
    }
    Ok(key)
}

async fn existing(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT key_id FROM kms_aliases WHERE alias_name = ?")
        .bind(name)
        .fetch_optional(ctx.store().pool())
        .await?;
    Ok(row.map(|r| r.get(0)))
}

fn alias_not_found(ctx: &Ctx, name: &str) -> AwsError {
    AwsError::bad_request("NotFoundException", format!("Alias {} is not found.", alias_arn(ctx, name)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasTargetInput {
    alias_name: String,
    target_key_id: String,
}

pub async fn create_alias(ctx: &Ctx, input: AliasTargetInput) -> Result<Empty> {
    validate_name(&input.alias_name)?;
    let key = target(ctx, &input.target_key_id, "kms:CreateAlias").await?;
    let now = ctx.epoch();
    let inserted = sqlx::query(
        "INSERT INTO kms_aliases (alias_name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&input.alias_name)
    .bind(&key.key_id)
    .bind(now)
    .bind(now)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AwsError::bad_request(
            "AlreadyExistsException",
            format!("An alias with the name {} already exists", alias_arn(ctx, &input.alias_name)),
        ));
    }
    Ok(Empty {})
}

pub async fn update_alias(ctx: &Ctx, input: AliasTargetInput) -> Result<Empty> {
    validate_name(&input.alias_name)?;
    if existing(ctx, &input.alias_name).await?.is_none() {
        return Err(alias_not_found(ctx, &input.alias_name));
    }
    let key = target(ctx, &input.target_key_id, "kms:UpdateAlias").await?;
    sqlx::query("UPDATE kms_aliases SET key_id = ?, updated_at = ? WHERE alias_name = ?")
        .bind(&key.key_id)
        .bind(ctx.epoch())
        .bind(&input.alias_name)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasInput {
    alias_name: String,
}

pub async fn delete_alias(ctx: &Ctx, input: DeleteAliasInput) -> Result<Empty> {
    validate_name(&input.alias_name)?;
    let Some(key_id) = existing(ctx, &input.alias_name).await? else {
        return Err(alias_not_found(ctx, &input.alias_name));
    };
    if let Some(key) = keys::load(ctx, &key_id).await? {
        authorize(ctx, &key, "kms:DeleteAlias", &BTreeMap::new(), None)?;
    }
    sqlx::query("DELETE FROM kms_aliases WHERE alias_name = ?")
        .bind(&input.alias_name)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasEntry {
    alias_name: String,
    alias_arn: String,
    target_key_id: String,
    creation_date: f64,
    last_updated_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesOutput {
    aliases: Vec<AliasEntry>,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub async fn list_aliases(ctx: &Ctx, input: ListAliasesInput) -> Result<ListAliasesOutput> {
    let limit = keys::check_limit(input.limit)?;
    if input.marker.as_deref().is_some_and(|m| !m.starts_with("alias/")) {
        return Err(keys::invalid_marker());
    }
    let key_filter = match &input.key_id {
        Some(k) => Some(resolve(ctx, k).await?.key_id),
        None => None,
    };
    let rows = sqlx::query(
        "SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases
         WHERE alias_name > ?1 AND (?2 IS NULL OR key_id = ?2) ORDER BY alias_name LIMIT ?3",
    )
    .bind(input.marker.unwrap_or_default())
    .bind(key_filter)
    .bind(limit + 1)
    .fetch_all(ctx.store().pool())
    .await?;
    let mut aliases: Vec<AliasEntry> = rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            AliasEntry {
                alias_arn: alias_arn(ctx, &name),
                alias_name: name,
                target_key_id: r.get(1),
                creation_date: r.get(2),
                last_updated_date: r.get(3),
            }
        })
        .collect();
    let truncated = aliases.len() as i64 > limit;
    aliases.truncate(limit as usize);
    let next_marker = truncated.then(|| aliases.last().map(|a| a.alias_name.clone())).flatten();
    Ok(ListAliasesOutput { aliases, truncated, next_marker })
}
