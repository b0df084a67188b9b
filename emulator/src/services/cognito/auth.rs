//! Authentication: InitiateAuth / AdminInitiateAuth (password, SRP and refresh flows), the
//! PASSWORD_VERIFIER and NEW_PASSWORD_REQUIRED challenges, GlobalSignOut and RevokeToken.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::pools::Empty;
use super::triggers::{self, TokenSource};
use super::{
    Client, Pool, User, err, find_user, invalid_parameter, load_client, load_pool, not_authorized, password, save_user,
    srp, tokens,
};
use crate::error::Result;
use crate::state::Ctx;

/// Challenge sessions last as long as AWS's default `AuthSessionValidity` (3 minutes).
const SESSION_SECONDS: f64 = 180.0;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateAuthInput {
    auth_flow: String,
    #[serde(default)]
    auth_parameters: BTreeMap<String, String>,
    client_id: String,
    user_pool_id: Option<String>,
}

fn require_flow(client: &Client, allow: &str, flow: &str) -> Result<()> {
    if client.flows().iter().any(|f| f == allow) {
        Ok(())
    } else if flow == "USER_PASSWORD_AUTH" {
        Err(invalid_parameter("USER_PASSWORD_AUTH flow not enabled for this client"))
    } else {
        Err(invalid_parameter("Auth flow not enabled for this client"))
    }
}

fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    params.get(name).map(String::as_str).ok_or_else(|| invalid_parameter(format!("Missing required parameter {name}")))
}

async fn client_of(ctx: &Ctx, client_id: &str, pool_id: Option<&str>) -> Result<(Pool, Client)> {
    let client = load_client(ctx, client_id).await?;
    if let Some(p) = pool_id {
        load_pool(ctx, p).await?;
        if p != client.pool_id {
            return Err(err("ResourceNotFoundException", format!("User pool client {client_id} does not exist.")));
        }
    }
    let pool = load_pool(ctx, &client.pool_id).await?;
    Ok((pool, client))
}

pub async fn initiate_auth(ctx: &Ctx, input: InitiateAuthInput) -> Result<Value> {
    let (pool, client) = client_of(ctx, &input.client_id, None).await?;
    start(ctx, &pool, &client, &input.auth_flow, &input.auth_parameters, false).await
}

pub async fn admin_initiate_auth(ctx: &Ctx, input: InitiateAuthInput) -> Result<Value> {
    let pool_id = input.user_pool_id.clone().ok_or_else(|| crate::error::AwsError::member_null("UserPoolId"))?;
    let (pool, client) = client_of(ctx, &input.client_id, Some(&pool_id)).await?;
    start(ctx, &pool, &client, &input.auth_flow, &input.auth_parameters, true).await
}

/// The flows of InitiateAuth (`admin` false) and AdminInitiateAuth (`admin` true).
async fn start(
    ctx: &Ctx,
    pool: &Pool,
    client: &Client,
    flow: &str,
    p: &BTreeMap<String, String>,
    admin: bool,
) -> Result<Value> {
    match (flow, admin) {
        ("USER_PASSWORD_AUTH", false) => {
            require_flow(client, "ALLOW_USER_PASSWORD_AUTH", flow)?;
            password_auth(ctx, pool, client, param(p, "USERNAME")?, param(p, "PASSWORD")?, p.get("SECRET_HASH")).await
        }
        ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", true) => {
            require_flow(client, "ALLOW_ADMIN_USER_PASSWORD_AUTH", flow)?;
            password_auth(ctx, pool, client, param(p, "USERNAME")?, param(p, "PASSWORD")?, p.get("SECRET_HASH")).await
        }
        ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", false) => {
            Err(invalid_parameter(format!("{flow} is only valid in AdminInitiateAuth")))
        }
        ("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN", _) => {
            require_flow(client, "ALLOW_REFRESH_TOKEN_AUTH", flow)?;
            refresh(ctx, pool, client, param(p, "REFRESH_TOKEN")?, p.get("SECRET_HASH")).await
        }
        ("USER_SRP_AUTH", _) => {
            require_flow(client, "ALLOW_USER_SRP_AUTH", flow)?;
            srp_start(ctx, pool, client, param(p, "USERNAME")?, param(p, "SRP_A")?, p.get("SECRET_HASH")).await
        }
        ("CUSTOM_AUTH" | "USER_AUTH", _) => {
            Err(invalid_parameter(format!("{flow} is not supported by this emulator yet")))
        }
        (other, _) => Err(invalid_parameter(format!("Invalid AuthFlow: {other}"))),
    }
}

/// The user behind a sign-in attempt; unknown users are reported as AWS does for the client.
async fn signing_in(ctx: &Ctx, pool: &Pool, client: &Client, username: &str) -> Result<User> {
    match find_user(ctx, pool, username).await? {
        Some(u) => Ok(u),
        None if client.hides_user_existence() => Err(not_authorized("Incorrect username or password.")),
        None => Err(err("UserNotFoundException", "User does not exist.")),
    }
}

async fn password_auth(
    ctx: &Ctx,
    pool: &Pool,
    client: &Client,
    username: &str,
    password_given: &str,
    secret_hash: Option<&String>,
) -> Result<Value> {
    password::check_secret_hash(client, username, secret_hash.map(String::as_str))?;
    let user = signing_in(ctx, pool, client, username).await?;
    if !password::verify(&user, password_given) {
        return Err(not_authorized("Incorrect username or password."));
    }
    after_password(ctx, pool, client, &user).await
}

/// Once the password is proven (by value or by SRP): account state decides what follows.
async fn after_password(ctx: &Ctx, pool: &Pool, client: &Client, user: &User) -> Result<Value> {
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    match user.status.as_str() {
        "UNCONFIRMED" => Err(err("UserNotConfirmedException", "User is not confirmed.")),
        "RESET_REQUIRED" => Err(err("PasswordResetRequiredException", "Password reset required for the user")),
        "FORCE_CHANGE_PASSWORD" => {
            let days = password::effective_policy(pool)["TemporaryPasswordValidityDays"].as_f64().unwrap_or(7.0);
            if user.password_set_at.unwrap_or(0.0) + days * 86_400.0 < ctx.epoch() {
                return Err(not_authorized("Temporary password has expired and must be reset by an administrator."));
            }
            new_password_challenge(ctx, client, user).await
        }
        _ => sign_in(ctx, pool, client, user, TokenSource::Authentication).await,
    }
}

/// USER_SRP_AUTH, step 1: answer the client's `A` with `B`, the salt and a secret block.
async fn srp_start(
    ctx: &Ctx,
    pool: &Pool,
    client: &Client,
    username: &str,
    a_hex: &str,
    secret_hash: Option<&String>,
) -> Result<Value> {
    password::check_secret_hash(client, username, secret_hash.map(String::as_str))?;
    let a = srp::parse_a(a_hex).ok_or_else(|| invalid_parameter("Invalid SRP_A"))?;
    let user = signing_in(ctx, pool, client, username).await?;
    let (Some(salt), Some(verifier)) = (&user.srp_salt, &user.srp_verifier) else {
        return Err(not_authorized("Incorrect username or password."));
    };
    purge_expired_sessions(ctx).await?;
    let b = ctx.rng().bytes::<32>();
    let secret_block = STANDARD.encode(ctx.rng().vec(64));
    let data = json!({ "a": a.to_str_radix(16), "b": hex::encode(b) });
    sqlx::query(
        "INSERT INTO cognito_sessions (id, pool_id, client_id, username, challenge, data, expires_at) VALUES (?, ?, ?, ?, 'PASSWORD_VERIFIER', ?, ?)",
    )
    .bind(&secret_block)
    .bind(&pool.id)
    .bind(&client.client_id)
    .bind(&user.username)
    .bind(data.to_string())
    .bind(ctx.epoch() + SESSION_SECONDS)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    Ok(json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": srp::salt_hex(salt),
            "SRP_B": srp::server_public(verifier, &b),
            "SECRET_BLOCK": secret_block,
            "USER_ID_FOR_SRP": user.username,
            "USERNAME": user.username,
        },
    }))
}

/// USER_SRP_AUTH, step 2: the client's signature proves it derived the same key, i.e. knows
/// the password. Each secret block can be answered once.
async fn srp_verify(ctx: &Ctx, pool: &Pool, client: &Client, r: &BTreeMap<String, String>) -> Result<Value> {
    let username = param(r, "USERNAME")?;
    let block = param(r, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let signature = param(r, "PASSWORD_CLAIM_SIGNATURE")?;
    let timestamp = param(r, "TIMESTAMP")?;
    password::check_secret_hash(client, username, r.get("SECRET_HASH").map(String::as_str))?;
    let wrong = || not_authorized("Incorrect username or password.");
    let row = sqlx::query(
        "DELETE FROM cognito_sessions WHERE id = ? AND client_id = ? AND challenge = 'PASSWORD_VERIFIER' RETURNING username, data, expires_at",
    )
    .bind(block)
    .bind(&client.client_id)
    .fetch_optional(&mut *ctx.store().turn().await?)
    .await?
    .ok_or_else(|| not_authorized("Invalid session for the user, session is expired."))?;
    if row.get::<f64, _>(2) < ctx.epoch() {
        return Err(not_authorized("Invalid session for the user, session is expired."));
    }
    let user = signing_in(ctx, pool, client, username).await?;
    if user.username != row.get::<String, _>(0) {
        return Err(wrong());
    }
    let data: Value = serde_json::from_str(row.get::<&str, _>(1)).unwrap_or_default();
    let a = data["a"].as_str().and_then(srp::parse_a).ok_or_else(wrong)?;
    let b = data["b"].as_str().and_then(|h| hex::decode(h).ok()).ok_or_else(wrong)?;
    let verifier = user.srp_verifier.as_deref().ok_or_else(wrong)?;
    let block_bytes = STANDARD.decode(block).map_err(|_| wrong())?;
    let claim = srp::Claim {
        pool: srp::pool_name(&pool.id),
        user: &user.username,
        a: &a,
        b: &b,
        verifier,
        secret_block: &block_bytes,
        timestamp,
    };
    let expected = srp::expected_signature(&claim);
    let given = STANDARD.decode(signature).map_err(|_| wrong())?;
    if given != expected {
        return Err(wrong());
    }
    after_password(ctx, pool, client, &user).await
}

/// Challenge sessions nobody answered are dropped when new ones are made.
async fn purge_expired_sessions(ctx: &Ctx) -> Result<()> {
    sqlx::query("DELETE FROM cognito_sessions WHERE expires_at < ?")
        .bind(ctx.epoch())
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(())
}

async fn new_password_challenge(ctx: &Ctx, client: &Client, user: &User) -> Result<Value> {
    purge_expired_sessions(ctx).await?;
    let session = URL_SAFE_NO_PAD.encode(ctx.rng().vec(96));
    sqlx::query(
        "INSERT INTO cognito_sessions (id, pool_id, client_id, username, challenge, expires_at) VALUES (?, ?, ?, ?, 'NEW_PASSWORD_REQUIRED', ?)",
    )
    .bind(&session)
    .bind(&user.pool_id)
    .bind(&client.client_id)
    .bind(&user.username)
    .bind(ctx.epoch() + SESSION_SECONDS)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    let visible: BTreeMap<&String, &String> = user.attributes.iter().filter(|(k, _)| k.as_str() != "sub").collect();
    Ok(json!({
        "ChallengeName": "NEW_PASSWORD_REQUIRED",
        "Session": session,
        "ChallengeParameters": {
            "USER_ID_FOR_SRP": user.username,
            "requiredAttributes": "[]",
            "userAttributes": serde_json::to_string(&visible).unwrap_or_default(),
        },
    }))
}

/// A completed sign-in: PostAuthentication, then a new refresh token and the tokens that go
/// with it (shaped by PreTokenGeneration).
async fn sign_in(ctx: &Ctx, pool: &Pool, client: &Client, user: &User, source: TokenSource) -> Result<Value> {
    triggers::post_authentication(ctx, pool, &client.client_id, user).await?;
    let overrides = triggers::pre_token_generation(ctx, pool, &client.client_id, user, source).await?;
    let session = tokens::Session { origin_jti: ctx.rng().uuid(), auth_time: ctx.now().timestamp() };
    let refresh_token = URL_SAFE_NO_PAD.encode(ctx.rng().vec(128));
    sqlx::query(
        "INSERT INTO cognito_refresh_tokens (token, pool_id, client_id, username, origin_jti, auth_time, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&refresh_token)
    .bind(&pool.id)
    .bind(&client.client_id)
    .bind(&user.username)
    .bind(&session.origin_jti)
    .bind(session.auth_time)
    .bind(ctx.epoch() + client.refresh_token_seconds() as f64)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    let issued = tokens::issue(ctx, pool, client, user, &session, overrides.as_ref()).await?;
    Ok(authentication_result(issued, Some(refresh_token)))
}

/// The answer to a completed authentication (refresh flows get no new refresh token).
fn authentication_result(issued: tokens::Issued, refresh_token: Option<String>) -> Value {
    let mut result = json!({
        "AccessToken": issued.access_token,
        "ExpiresIn": issued.access_ttl,
        "TokenType": "Bearer",
        "IdToken": issued.id_token,
    });
    if let Some(t) = refresh_token {
        result["RefreshToken"] = t.into();
    }
    json!({ "ChallengeParameters": {}, "AuthenticationResult": result })
}

async fn refresh(ctx: &Ctx, pool: &Pool, client: &Client, token: &str, secret_hash: Option<&String>) -> Result<Value> {
    let row = sqlx::query(
        "SELECT username, origin_jti, auth_time, expires_at, revoked FROM cognito_refresh_tokens WHERE token = ? AND client_id = ?",
    )
    .bind(token)
    .bind(&client.client_id)
    .fetch_optional(ctx.store().pool())
    .await?
    .ok_or_else(|| not_authorized("Invalid Refresh Token"))?;
    let username: String = row.get(0);
    if row.get::<i64, _>(4) != 0 {
        return Err(not_authorized("Refresh Token has been revoked"));
    }
    if row.get::<f64, _>(3) < ctx.epoch() {
        return Err(not_authorized("Refresh Token has expired"));
    }
    let user = find_user(ctx, pool, &username).await?.ok_or_else(|| not_authorized("Invalid Refresh Token"))?;
    password::check_secret_hash(client, &user.username, secret_hash.map(String::as_str))?;
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    let session = tokens::Session { origin_jti: row.get(1), auth_time: row.get(2) };
    let overrides =
        triggers::pre_token_generation(ctx, pool, &client.client_id, &user, TokenSource::RefreshTokens).await?;
    let issued = tokens::issue(ctx, pool, client, &user, &session, overrides.as_ref()).await?;
    Ok(authentication_result(issued, None))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChallengeInput {
    client_id: String,
    user_pool_id: Option<String>,
    challenge_name: String,
    session: Option<String>,
    #[serde(default)]
    challenge_responses: BTreeMap<String, String>,
}

pub async fn respond_to_auth_challenge(ctx: &Ctx, input: ChallengeInput) -> Result<Value> {
    let (pool, client) = client_of(ctx, &input.client_id, None).await?;
    respond(ctx, &pool, &client, input).await
}

pub async fn admin_respond_to_auth_challenge(ctx: &Ctx, input: ChallengeInput) -> Result<Value> {
    let pool_id = input.user_pool_id.clone().ok_or_else(|| crate::error::AwsError::member_null("UserPoolId"))?;
    let (pool, client) = client_of(ctx, &input.client_id, Some(&pool_id)).await?;
    respond(ctx, &pool, &client, input).await
}

async fn respond(ctx: &Ctx, pool: &Pool, client: &Client, input: ChallengeInput) -> Result<Value> {
    match input.challenge_name.as_str() {
        "NEW_PASSWORD_REQUIRED" => new_password(ctx, pool, client, input).await,
        "PASSWORD_VERIFIER" => srp_verify(ctx, pool, client, &input.challenge_responses).await,
        other => Err(invalid_parameter(format!("Unsupported challenge name {other}"))),
    }
}

async fn new_password(ctx: &Ctx, pool: &Pool, client: &Client, input: ChallengeInput) -> Result<Value> {
    let r = &input.challenge_responses;
    let username = param(r, "USERNAME")?;
    let new_password = param(r, "NEW_PASSWORD")?;
    password::check_secret_hash(client, username, r.get("SECRET_HASH").map(String::as_str))?;
    let expired = || not_authorized("Invalid session for the user, session is expired.");
    let session = input.session.as_deref().ok_or_else(expired)?;
    let row = sqlx::query(
        "SELECT username, expires_at FROM cognito_sessions WHERE id = ? AND client_id = ? AND challenge = 'NEW_PASSWORD_REQUIRED'",
    )
    .bind(session)
    .bind(&client.client_id)
    .fetch_optional(ctx.store().pool())
    .await?
    .ok_or_else(expired)?;
    if row.get::<f64, _>(1) < ctx.epoch() {
        return Err(expired());
    }
    let mut user = find_user(ctx, pool, username).await?.ok_or_else(expired)?;
    if user.username != row.get::<String, _>(0) {
        return Err(expired());
    }
    password::check_policy(pool, new_password)?;
    for (k, v) in r {
        if let Some(name) = k.strip_prefix("userAttributes.") {
            user.attributes.insert(name.to_string(), v.clone());
        }
    }
    password::set(ctx, &mut user, new_password)?;
    user.status = "CONFIRMED".into();
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    sqlx::query("DELETE FROM cognito_sessions WHERE id = ?")
        .bind(session)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    sign_in(ctx, pool, client, &user, TokenSource::NewPasswordChallenge).await
}

/// Revokes every sign-in of a user: refresh tokens stop working, and access tokens from those
/// sign-ins are rejected.
async fn sign_out_everywhere(ctx: &Ctx, pool_id: &str, username: &str) -> Result<()> {
    let mut tx = ctx.store().begin_write().await?;
    sqlx::query(
        "INSERT OR IGNORE INTO cognito_revoked_origins (origin_jti)
         SELECT origin_jti FROM cognito_refresh_tokens WHERE pool_id = ? AND username = ?",
    )
    .bind(pool_id)
    .bind(username)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE cognito_refresh_tokens SET revoked = 1 WHERE pool_id = ? AND username = ?")
        .bind(pool_id)
        .bind(username)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSignOutInput {
    access_token: String,
}

pub async fn global_sign_out(ctx: &Ctx, input: GlobalSignOutInput) -> Result<Empty> {
    let claims = tokens::verify_access(ctx, &input.access_token).await?;
    sign_out_everywhere(ctx, &claims.pool_id, &claims.username).await?;
    sqlx::query("INSERT OR IGNORE INTO cognito_revoked_origins (origin_jti) VALUES (?)")
        .bind(&claims.origin_jti)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminSignOutInput {
    user_pool_id: String,
    username: String,
}

pub async fn admin_user_global_sign_out(ctx: &Ctx, input: AdminSignOutInput) -> Result<Empty> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let user = super::require_user(ctx, &pool, &input.username).await?;
    sign_out_everywhere(ctx, &pool.id, &user.username).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeTokenInput {
    token: String,
    client_id: String,
    client_secret: Option<String>,
}

pub async fn revoke_token(ctx: &Ctx, input: RevokeTokenInput) -> Result<Empty> {
    let client = load_client(ctx, &input.client_id).await?;
    if client.secret.is_some() && client.secret != input.client_secret {
        return Err(not_authorized(format!(
            "Client {} is configured with secret but ClientSecret does not match",
            client.client_id
        )));
    }
    if input.token.contains('.') {
        return Err(err("UnsupportedTokenTypeException", "The token provided is not a refresh token."));
    }
    let mut tx = ctx.store().begin_write().await?;
    let row = sqlx::query("SELECT origin_jti FROM cognito_refresh_tokens WHERE token = ? AND client_id = ?")
        .bind(&input.token)
        .bind(&client.client_id)
        .fetch_optional(&mut *tx)
        .await?;
    // An unknown token is already as revoked as it can be: AWS answers success.
    if let Some(row) = row {
        let origin: String = row.get(0);
        sqlx::query("UPDATE cognito_refresh_tokens SET revoked = 1 WHERE token = ?")
            .bind(&input.token)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT OR IGNORE INTO cognito_revoked_origins (origin_jti) VALUES (?)")
            .bind(origin)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Empty {})
}
