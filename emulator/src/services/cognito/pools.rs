//! User pools and their app clients.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::Row;

use super::{Client, Pool, err, invalid_parameter, load_client, load_pool, password, tokens};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Members of the CreateUserPool input that DescribeUserPool reports back unchanged.
const ECHOED: &[&str] = &[
    "LambdaConfig",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "UserAttributeUpdateSettings",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "UserPoolAddOns",
    "UsernameConfiguration",
    "AccountRecoverySetting",
    "UserPoolTier",
];

/// Cognito's standard attributes in the order `DescribeUserPool` lists them: name, type,
/// mutable, and the length bounds of a string (`birthdate` is `YYYY-MM-DD`, `sub` never empty).
const STANDARD_ATTRIBUTES: &[(&str, &str, bool, (u32, u32))] = &[
    ("sub", "String", false, (1, 2048)),
    ("name", "String", true, (0, 2048)),
    ("given_name", "String", true, (0, 2048)),
    ("family_name", "String", true, (0, 2048)),
    ("middle_name", "String", true, (0, 2048)),
    ("nickname", "String", true, (0, 2048)),
    ("preferred_username", "String", true, (0, 2048)),
    ("profile", "String", true, (0, 2048)),
    ("picture", "String", true, (0, 2048)),
    ("website", "String", true, (0, 2048)),
    ("email", "String", true, (0, 2048)),
    ("email_verified", "Boolean", true, (0, 0)),
    ("gender", "String", true, (0, 2048)),
    ("birthdate", "String", true, (10, 10)),
    ("zoneinfo", "String", true, (0, 2048)),
    ("locale", "String", true, (0, 2048)),
    ("phone_number", "String", true, (0, 2048)),
    ("phone_number_verified", "Boolean", true, (0, 0)),
    ("address", "String", true, (0, 2048)),
    ("updated_at", "Number", true, (0, 0)),
];

/// The pool's `SchemaAttributes`: every standard attribute (with what the pool's `Schema` set
/// for it: required, mutable, bounds), then its custom attributes as `custom:NAME`.
fn schema_attributes(pool: &Pool) -> Vec<Value> {
    let mut schema: Vec<Value> = STANDARD_ATTRIBUTES
        .iter()
        .map(|(name, kind, mutable, (min, max))| {
            let mut a = json!({"Name": name, "AttributeDataType": kind, "DeveloperOnlyAttribute": false, "Mutable": mutable, "Required": *name == "sub"});
            match *kind {
                "String" => a["StringAttributeConstraints"] = json!({"MinLength": min.to_string(), "MaxLength": max.to_string()}),
                "Number" => a["NumberAttributeConstraints"] = json!({"MinValue": "0"}),
                _ => {}
            }
            a
        })
        .collect();
    for given in pool.config["Schema"].as_array().into_iter().flatten() {
        let name = given["Name"].as_str().unwrap_or_default();
        match schema.iter_mut().take(STANDARD_ATTRIBUTES.len()).find(|a| a["Name"] == name) {
            Some(standard) => {
                for key in ["Required", "Mutable", "StringAttributeConstraints", "NumberAttributeConstraints"] {
                    if !given[key].is_null() {
                        standard[key] = given[key].clone();
                    }
                }
            }
            None => {
                let mut a = given.clone();
                a["Name"] = format!("custom:{}", name.trim_start_matches("custom:")).into();
                schema.push(a);
            }
        }
    }
    schema
}

fn describe(ctx: &Ctx, pool: &Pool, users: i64) -> Value {
    let mut out = Map::new();
    for k in ECHOED {
        if let Some(v) = pool.config.get(*k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    let schema = schema_attributes(pool);
    let admin = &pool.config["AdminCreateUserConfig"];
    out.insert("Id".into(), pool.id.clone().into());
    out.insert("Name".into(), pool.name.clone().into());
    out.insert("Arn".into(), pool.arn(ctx).into());
    out.insert("CreationDate".into(), pool.created_at.into());
    out.insert("LastModifiedDate".into(), pool.updated_at.into());
    out.insert("Policies".into(), json!({"PasswordPolicy": password::effective_policy(pool)}));
    out.insert("SchemaAttributes".into(), Value::Array(schema));
    out.insert("MfaConfiguration".into(), pool.config["MfaConfiguration"].as_str().unwrap_or("OFF").into());
    out.insert("EstimatedNumberOfUsers".into(), users.into());
    out.insert("DeletionProtection".into(), pool.config["DeletionProtection"].as_str().unwrap_or("INACTIVE").into());
    out.insert(
        "AdminCreateUserConfig".into(),
        json!({
            "AllowAdminCreateUserOnly": admin["AllowAdminCreateUserOnly"].as_bool().unwrap_or(false),
            "UnusedAccountValidityDays": admin["UnusedAccountValidityDays"].as_i64().unwrap_or(7),
        }),
    );
    out.entry("LambdaConfig").or_insert_with(|| json!({}));
    Value::Object(out)
}

fn check_attribute_names(config: &Value, member: &str, allowed: &[&str]) -> Result<()> {
    for v in config[member].as_array().into_iter().flatten() {
        if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
            return Err(invalid_parameter(format!("Invalid {member}: {v}")));
        }
    }
    Ok(())
}

pub async fn create_user_pool(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["PoolName"].as_str().ok_or_else(|| AwsError::member_null("PoolName"))?.to_string();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'poolName' failed to satisfy constraint: Member must have length between 1 and 128"
        )));
    }
    check_attribute_names(&input, "UsernameAttributes", &["email", "phone_number"])?;
    check_attribute_names(&input, "AliasAttributes", &["email", "phone_number", "preferred_username"])?;
    check_attribute_names(&input, "AutoVerifiedAttributes", &["email", "phone_number"])?;
    if input.get("UsernameAttributes").is_some() && input.get("AliasAttributes").is_some() {
        return Err(invalid_parameter(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool",
        ));
    }
    let min = input["Policies"]["PasswordPolicy"]["MinimumLength"].as_i64();
    if min.is_some_and(|m| !(6..=99).contains(&m)) {
        return Err(invalid_parameter("Password policy minimum length must be between 6 and 99"));
    }
    let id = format!("{}_{}", ctx.config().region, ctx.rng().string_from(ALNUM, 9));
    let now = ctx.epoch();
    let mut tx = ctx.store().begin_write().await?;
    sqlx::query("INSERT INTO cognito_pools (id, name, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&id)
        .bind(&name)
        .bind(input.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tokens::create_key(&ctx.emu, &mut tx, &id).await?;
    tx.commit().await?;
    let pool = load_pool(ctx, &id).await?;
    Ok(json!({ "UserPool": describe(ctx, &pool, 0) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoolIdInput {
    user_pool_id: String,
}

pub async fn describe_user_pool(ctx: &Ctx, input: PoolIdInput) -> Result<Value> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let users: i64 = sqlx::query("SELECT COUNT(*) FROM cognito_users WHERE pool_id = ?")
        .bind(&pool.id)
        .fetch_one(ctx.store().pool())
        .await?
        .get(0);
    Ok(json!({ "UserPool": describe(ctx, &pool, users) }))
}

#[derive(Serialize)]
pub struct Empty {}

pub async fn delete_user_pool(ctx: &Ctx, input: PoolIdInput) -> Result<Empty> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    if pool.config["DeletionProtection"] == "ACTIVE" {
        return Err(invalid_parameter(
            "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
        ));
    }
    sqlx::query("DELETE FROM cognito_pools WHERE id = ?")
        .bind(&pool.id)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    max_results: i64,
    next_token: Option<String>,
}

pub async fn list_user_pools(ctx: &Ctx, input: ListInput) -> Result<Value> {
    if !(1..=60).contains(&input.max_results) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 60",
            input.max_results
        )));
    }
    let rows = sqlx::query("SELECT id FROM cognito_pools WHERE id > ? ORDER BY id LIMIT ?")
        .bind(input.next_token.unwrap_or_default())
        .bind(input.max_results + 1)
        .fetch_all(ctx.store().pool())
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let more = ids.len() as i64 > input.max_results;
    let mut pools = Vec::new();
    for id in ids.iter().take(input.max_results as usize) {
        let p = load_pool(ctx, id).await?;
        let d = describe(ctx, &p, 0);
        pools.push(json!({"Id": d["Id"], "Name": d["Name"], "LambdaConfig": d["LambdaConfig"], "CreationDate": d["CreationDate"], "LastModifiedDate": d["LastModifiedDate"]}));
    }
    let mut out = json!({ "UserPools": pools });
    if more {
        out["NextToken"] = ids[input.max_results as usize - 1].clone().into();
    }
    Ok(out)
}

const FLOWS: &[&str] = &[
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
];

fn describe_client(c: &Client) -> Value {
    let mut out = match &c.config {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    out.remove("GenerateSecret");
    out.insert("UserPoolId".into(), c.pool_id.clone().into());
    out.insert("ClientId".into(), c.client_id.clone().into());
    if let Some(s) = &c.secret {
        out.insert("ClientSecret".into(), s.clone().into());
    }
    out.insert("CreationDate".into(), c.created_at.into());
    out.insert("LastModifiedDate".into(), c.created_at.into());
    out.insert("RefreshTokenValidity".into(), (c.refresh_token_seconds() / 86_400).max(0).into());
    out.insert("ExplicitAuthFlows".into(), c.flows().into());
    out.entry("PreventUserExistenceErrors").or_insert_with(|| "LEGACY".into());
    out.entry("EnableTokenRevocation").or_insert(Value::Bool(true));
    out.entry("AuthSessionValidity").or_insert(3.into());
    Value::Object(out)
}

pub async fn create_user_pool_client(ctx: &Ctx, input: Value) -> Result<Value> {
    let pool_id = input["UserPoolId"].as_str().ok_or_else(|| AwsError::member_null("UserPoolId"))?;
    let name = input["ClientName"].as_str().ok_or_else(|| AwsError::member_null("ClientName"))?;
    if name.is_empty() || name.chars().count() > 128 {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'clientName' failed to satisfy constraint: Member must have length between 1 and 128",
        ));
    }
    let pool = load_pool(ctx, pool_id).await?;
    let flows: Vec<&str> =
        input["ExplicitAuthFlows"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
    if let Some(bad) = flows.iter().find(|f| !FLOWS.contains(f)) {
        return Err(invalid_parameter(format!("Invalid ExplicitAuthFlows value: {bad}")));
    }
    let legacy = flows.iter().any(|f| !f.starts_with("ALLOW_"));
    if legacy && flows.iter().any(|f| f.starts_with("ALLOW_")) {
        return Err(invalid_parameter("ExplicitAuthFlows can't have both ALLOW_XXX and legacy values"));
    }
    let mut config = input.clone();
    if legacy {
        // Legacy names enable what their ALLOW_ forms do, plus refresh (always on for them).
        let mut mapped: Vec<String> = flows
            .iter()
            .map(|f| match *f {
                "ADMIN_NO_SRP_AUTH" => "ALLOW_ADMIN_USER_PASSWORD_AUTH".to_string(),
                "USER_PASSWORD_AUTH" => "ALLOW_USER_PASSWORD_AUTH".to_string(),
                _ => "ALLOW_CUSTOM_AUTH".to_string(),
            })
            .collect();
        mapped.extend(["ALLOW_USER_SRP_AUTH".to_string(), "ALLOW_REFRESH_TOKEN_AUTH".to_string()]);
        config["ExplicitAuthFlows"] = mapped.into();
    }
    match config["PreventUserExistenceErrors"].as_str() {
        None | Some("ENABLED") | Some("LEGACY") => {}
        Some(v) => return Err(invalid_parameter(format!("Invalid PreventUserExistenceErrors value: {v}"))),
    }
    let client_id = ctx.rng().string_from(LOWER_ALNUM, 26);
    let secret = input["GenerateSecret"].as_bool().unwrap_or(false).then(|| ctx.rng().string_from(LOWER_ALNUM, 51));
    sqlx::query("INSERT INTO cognito_clients (client_id, pool_id, secret, config, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&client_id)
        .bind(&pool.id)
        .bind(&secret)
        .bind(config.to_string())
        .bind(ctx.epoch())
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    let client = load_client(ctx, &client_id).await?;
    Ok(json!({ "UserPoolClient": describe_client(&client) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListClientsInput {
    user_pool_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListUserPoolClients: id, name and pool of each client, by client id, at most 60 a page.
pub async fn list_user_pool_clients(ctx: &Ctx, input: ListClientsInput) -> Result<Value> {
    let max = input.max_results.unwrap_or(60);
    if !(1..=60).contains(&max) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 60"
        )));
    }
    load_pool(ctx, &input.user_pool_id).await?;
    let rows = sqlx::query(
        "SELECT client_id, config FROM cognito_clients WHERE pool_id = ? AND client_id > ? ORDER BY client_id LIMIT ?",
    )
    .bind(&input.user_pool_id)
    .bind(input.next_token.unwrap_or_default())
    .bind(max + 1)
    .fetch_all(ctx.store().pool())
    .await?;
    let more = rows.len() as i64 > max;
    let clients: Vec<Value> = rows
        .iter()
        .take(max as usize)
        .map(|r| {
            let config: Value = serde_json::from_str(r.get::<&str, _>(1)).unwrap_or_default();
            json!({ "ClientId": r.get::<String, _>(0), "ClientName": config["ClientName"], "UserPoolId": input.user_pool_id })
        })
        .collect();
    let mut out = json!({ "UserPoolClients": clients });
    if more {
        out["NextToken"] = clients[max as usize - 1]["ClientId"].clone();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientInput {
    user_pool_id: String,
    client_id: String,
}

pub async fn describe_user_pool_client(ctx: &Ctx, input: ClientInput) -> Result<Value> {
    load_pool(ctx, &input.user_pool_id).await?;
    let client = load_client(ctx, &input.client_id).await?;
    if client.pool_id != input.user_pool_id {
        return Err(err("ResourceNotFoundException", format!("User pool client {} does not exist.", input.client_id)));
    }
    Ok(json!({ "UserPoolClient": describe_client(&client) }))
}
