//! Signing keys, JWTs and the JWKS of a user pool.
//!
//! Each pool has an RSA-2048 key pair (PKCS#1 DER in SQLite) named by a `kid`. ID and access
//! tokens are RS256 JWTs with Cognito's claims; verification (for GetUser and friends) checks the
//! signature against the pool's keys, then expiry against the emulator clock, then revocation.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};
use sqlx::Row;

use super::triggers::ClaimOverrides;
use super::{Client, Pool, User, not_authorized};
use crate::error::{AwsError, Result};
use crate::state::{Ctx, Emu};

/// A pool's signing key as stored.
pub struct SigningKey {
    pub kid: String,
    pub private_der: Vec<u8>,
    pub n: String,
    pub e: String,
}

/// Retired keys stay published this long: the longest lifetime of an ID or access token, so
/// every token signed before a rotation still verifies until it expires.
const RETIRED_KEY_SECONDS: f64 = 86_400.0;

/// Generates and stores a new signing key for `pool_id`; the previous one is retired.
pub async fn create_key(emu: &Emu, conn: &mut sqlx::SqliteConnection, pool_id: &str) -> Result<String> {
    let mut rng = emu.rng.fork();
    let key = tokio::task::spawn_blocking(move || RsaPrivateKey::new(&mut rng, 2048))
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?
        .map_err(|e| AwsError::internal(format!("RSA key generation failed: {e}")))?;
    let der = key.to_pkcs1_der().map_err(|e| AwsError::internal(e.to_string()))?;
    let kid = STANDARD.encode(emu.rng.bytes::<32>());
    let now = emu.clock.now().timestamp_millis() as f64 / 1000.0;
    sqlx::query("UPDATE cognito_keys SET retired_at = ? WHERE pool_id = ? AND retired_at IS NULL")
        .bind(now)
        .bind(pool_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO cognito_keys (kid, pool_id, private_der, n, e, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&kid)
        .bind(pool_id)
        .bind(der.as_bytes())
        .bind(URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()))
        .bind(URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(kid)
}

async fn signing_key(ctx: &Ctx, pool_id: &str) -> Result<SigningKey> {
    let row = sqlx::query(
        "SELECT kid, private_der, n, e FROM cognito_keys WHERE pool_id = ? AND retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .bind(pool_id)
    .fetch_optional(ctx.store().pool())
    .await?
    .ok_or_else(|| AwsError::internal("user pool has no signing key"))?;
    Ok(SigningKey { kid: row.get(0), private_der: row.get(1), n: row.get(2), e: row.get(3) })
}

/// Rotates a pool's signing key (admin API): new tokens are signed with a new key.
pub async fn rotate(emu: &Emu, pool_id: &str) -> Result<Option<String>> {
    let mut tx = emu.store.begin_write().await?;
    let exists = sqlx::query("SELECT 1 FROM cognito_pools WHERE id = ?").bind(pool_id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Ok(None);
    }
    let kid = create_key(emu, &mut tx, pool_id).await?;
    tx.commit().await?;
    Ok(Some(kid))
}

/// The JWKS document of a pool: the signing key and recently retired ones, newest first.
pub async fn jwks(emu: &Emu, pool_id: &str) -> Result<Value> {
    let now = emu.clock.now().timestamp_millis() as f64 / 1000.0;
    let rows = sqlx::query(
        "SELECT kid, n, e FROM cognito_keys WHERE pool_id = ? AND (retired_at IS NULL OR retired_at + ? > ?) ORDER BY created_at DESC",
    )
    .bind(pool_id)
    .bind(RETIRED_KEY_SECONDS)
    .bind(now)
    .fetch_all(emu.store.pool())
        .await?;
    let keys: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"alg": "RS256", "e": r.get::<String, _>(2), "kid": r.get::<String, _>(0), "kty": "RSA", "n": r.get::<String, _>(1), "use": "sig"})
        })
        .collect();
    Ok(json!({ "keys": keys }))
}

/// The `iss` of a pool's tokens: the emulator's own URL (so `{iss}/.well-known/jwks.json`
/// resolves offline), or AWS's form when configured.
pub fn issuer(emu: &Emu, pool_id: &str) -> String {
    if emu.config.cognito_aws_issuer {
        format!("https://cognito-idp.{}.amazonaws.com/{pool_id}", emu.config.region)
    } else {
        format!("{}/{pool_id}", emu.endpoint)
    }
}

/// Tokens of one authentication.
pub struct Issued {
    pub id_token: String,
    pub access_token: String,
    pub access_ttl: i64,
}

/// What ties tokens to the sign-in they came from.
pub struct Session {
    pub origin_jti: String,
    pub auth_time: i64,
}

/// Claims PreTokenGeneration may not change.
const PROTECTED: &[&str] =
    &["sub", "iss", "aud", "exp", "iat", "auth_time", "token_use", "jti", "origin_jti", "event_id", "cognito:username"];

fn sign(key: &SigningKey, claims: &Value) -> Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = None;
    header.kid = Some(key.kid.clone());
    let encoding = EncodingKey::from_rsa_der(&key.private_der);
    jsonwebtoken::encode(&header, claims, &encoding)
        .map_err(|e| AwsError::internal(format!("token signing failed: {e}")))
}

/// Issues an ID token and an access token for `user` through `client`; PreTokenGeneration's
/// `overrides` add, replace or remove ID-token claims.
pub async fn issue(
    ctx: &Ctx,
    pool: &Pool,
    client: &Client,
    user: &User,
    session: &Session,
    overrides: Option<&ClaimOverrides>,
) -> Result<Issued> {
    let key = signing_key(ctx, &pool.id).await?;
    let iat = ctx.now().timestamp();
    let iss = issuer(&ctx.emu, &pool.id);
    let event_id = ctx.rng().uuid();
    let (id_ttl, access_ttl) = (client.id_token_seconds(), client.access_token_seconds());

    let mut id = Map::new();
    for (k, v) in &user.attributes {
        let value = match k.as_str() {
            "email_verified" | "phone_number_verified" => Value::Bool(v == "true"),
            _ => Value::String(v.clone()),
        };
        id.insert(k.clone(), value);
    }
    id.insert("sub".into(), user.sub.clone().into());
    id.insert("iss".into(), iss.clone().into());
    id.insert("cognito:username".into(), user.username.clone().into());
    id.insert("origin_jti".into(), session.origin_jti.clone().into());
    id.insert("aud".into(), client.client_id.clone().into());
    id.insert("event_id".into(), event_id.clone().into());
    id.insert("token_use".into(), "id".into());
    id.insert("auth_time".into(), session.auth_time.into());
    id.insert("exp".into(), (iat + id_ttl).into());
    id.insert("iat".into(), iat.into());
    id.insert("jti".into(), ctx.rng().uuid().into());
    if let Some(o) = overrides {
        for name in &o.suppress {
            if !PROTECTED.contains(&name.as_str()) {
                id.remove(name);
            }
        }
        for (k, v) in &o.add_or_override {
            if !PROTECTED.contains(&k.as_str()) {
                id.insert(k.clone(), v.clone());
            }
        }
    }

    let access = json!({
        "sub": user.sub,
        "iss": iss,
        "client_id": client.client_id,
        "origin_jti": session.origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": session.auth_time,
        "exp": iat + access_ttl,
        "iat": iat,
        "jti": ctx.rng().uuid(),
        "username": user.username,
    });
    Ok(Issued { id_token: sign(&key, &Value::Object(id))?, access_token: sign(&key, &access)?, access_ttl })
}

/// A verified access token's claims.
pub struct AccessClaims {
    pub pool_id: String,
    pub username: String,
    pub origin_jti: String,
}

/// Verifies an access token: signature by one of this emulator's pool keys, `token_use`, expiry
/// on the emulator clock, and revocation of the sign-in it came from (RevokeToken, GlobalSignOut).
pub async fn verify_access(ctx: &Ctx, token: &str) -> Result<AccessClaims> {
    let invalid = || not_authorized("Invalid Access Token");
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    let kid = header.kid.ok_or_else(invalid)?;
    let row = sqlx::query("SELECT pool_id, n, e FROM cognito_keys WHERE kid = ?")
        .bind(&kid)
        .fetch_optional(ctx.store().pool())
        .await?
        .ok_or_else(invalid)?;
    let (pool_id, n, e): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let key = DecodingKey::from_rsa_components(&n, &e).map_err(|_| invalid())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|_| invalid())?.claims;
    if claims["token_use"] != "access" || claims["iss"] != issuer(&ctx.emu, &pool_id) {
        return Err(invalid());
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= ctx.now().timestamp()) {
        return Err(not_authorized("Access Token has expired"));
    }
    let username = claims["username"].as_str().ok_or_else(invalid)?.to_string();
    let origin_jti = claims["origin_jti"].as_str().unwrap_or_default().to_string();
    let revoked = sqlx::query("SELECT 1 FROM cognito_revoked_origins WHERE origin_jti = ?")
        .bind(&origin_jti)
        .fetch_optional(ctx.store().pool())
        .await?
        .is_some();
    if revoked {
        return Err(not_authorized("Access Token has been revoked"));
    }
    Ok(AccessClaims { pool_id, username, origin_jti })
}

/// `GET /{poolId}/.well-known/jwks.json` and `…/openid-configuration`: plain JSON documents,
/// not an AWS protocol. `None` when the pool does not exist.
pub async fn well_known(emu: &Emu, pool_id: &str, document: &str) -> Result<Option<Value>> {
    let exists =
        sqlx::query("SELECT 1 FROM cognito_pools WHERE id = ?").bind(pool_id).fetch_optional(emu.store.pool()).await?;
    if exists.is_none() {
        return Ok(None);
    }
    let iss = issuer(emu, pool_id);
    Ok(Some(match document {
        "jwks.json" => jwks(emu, pool_id).await?,
        _ => json!({
            "issuer": iss,
            "jwks_uri": format!("{}/{pool_id}/.well-known/jwks.json", emu.endpoint),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "token"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "email", "email_verified", "phone_number", "phone_number_verified", "cognito:username"],
        }),
    }))
}
