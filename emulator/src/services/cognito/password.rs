//! Passwords (policy, argon2 hashing), one-time codes delivered to the mailbox, SECRET_HASH.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::Row;

use super::{Client, Pool, User, err, not_authorized};
use crate::error::{AwsError, Result};
use crate::state::Ctx;
use crate::store::mailbox::Outgoing;

const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// The pool's password policy. With no policy given AWS requires every character class; in a
/// given policy an absent requirement is off (SDKs omit `false` booleans).
fn policy(pool: &Pool) -> Value {
    let p = &pool.config["Policies"]["PasswordPolicy"];
    let given = p.is_object();
    let flag = |name: &str| p[name].as_bool().unwrap_or(!given);
    json!({
        "MinimumLength": p["MinimumLength"].as_i64().unwrap_or(8),
        "RequireUppercase": flag("RequireUppercase"),
        "RequireLowercase": flag("RequireLowercase"),
        "RequireNumbers": flag("RequireNumbers"),
        "RequireSymbols": flag("RequireSymbols"),
        "TemporaryPasswordValidityDays": p["TemporaryPasswordValidityDays"].as_i64().unwrap_or(7),
    })
}

pub fn effective_policy(pool: &Pool) -> Value {
    policy(pool)
}

/// Checks `password` against the pool's policy (`InvalidPasswordException` with AWS's wording).
pub fn check_policy(pool: &Pool, password: &str) -> Result<()> {
    let p = policy(pool);
    let fail = |why: &str| Err(err("InvalidPasswordException", format!("Password did not conform with policy: {why}")));
    if (password.chars().count() as i64) < p["MinimumLength"].as_i64().unwrap_or(8) {
        return fail("Password not long enough");
    }
    if p["RequireLowercase"] == true && !password.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if p["RequireUppercase"] == true && !password.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if p["RequireNumbers"] == true && !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if p["RequireSymbols"] == true && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    Ok(())
}

/// Argon2id at its cheapest (64 KiB, one pass): the hash is here so that no plain-text password
/// sits in the state file or an export, not to slow down an offline attack on a file that holds
/// the KMS key material in the clear anyway. Sign-in costs ~0.1 ms instead of ~15 ms, which a
/// password flow run thousands of times in tests (and the benchmark) notices. Hashes stored with
/// other parameters still verify: the PHC string carries its own.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(64, 1, 1, None).expect("static argon2 params"))
}

fn hash(ctx: &Ctx, password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&ctx.rng().bytes::<16>()).map_err(|e| AwsError::internal(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AwsError::internal(e.to_string()))
}

/// Sets a user's password: the argon2 hash (password flows) and the SRP verifier (SRP flow),
/// each with a fresh salt. The plain text is kept nowhere.
pub fn set(ctx: &Ctx, user: &mut User, password: &str) -> Result<()> {
    let salt = ctx.rng().bytes::<16>();
    user.password_hash = Some(hash(ctx, password)?);
    user.srp_verifier =
        Some(super::srp::verifier(super::srp::pool_name(&user.pool_id), &user.username, password, &salt));
    user.srp_salt = Some(salt.to_vec());
    user.password_set_at = Some(ctx.epoch());
    Ok(())
}

pub fn verify(user: &User, password: &str) -> bool {
    let Some(stored) = user.password_hash.as_deref() else { return false };
    PasswordHash::new(stored).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A temporary password that satisfies any policy.
pub fn temporary(ctx: &Ctx) -> String {
    let body = ctx.rng().string_from(b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 12);
    format!("{body}A1a!")
}

/// Checks SECRET_HASH for clients with a secret: Base64(HMAC-SHA256(secret, username + client id)).
pub fn check_secret_hash(client: &Client, username: &str, given: Option<&str>) -> Result<()> {
    let Some(secret) = &client.secret else { return Ok(()) };
    let Some(given) = given else {
        return Err(not_authorized(format!(
            "Client {} is configured with secret but SECRET_HASH was not received",
            client.client_id
        )));
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    mac.update(client.client_id.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    if expected != given {
        return Err(not_authorized(format!("Unable to verify secret hash for client {}", client.client_id)));
    }
    Ok(())
}

/// `alice@example.com` → `a***@e***`, `+15555550100` → `+*******0100`, as AWS shows destinations.
pub fn mask(destination: &str) -> String {
    match destination.split_once('@') {
        Some((user, host)) => {
            format!("{}***@{}***", user.chars().next().unwrap_or('*'), host.chars().next().unwrap_or('*'))
        }
        None => {
            let n = destination.chars().count();
            let keep: String = destination.chars().skip(n.saturating_sub(4)).collect();
            format!("+{}{keep}", "*".repeat(n.saturating_sub(5)))
        }
    }
}

const CODE_TTL_SECONDS: f64 = 24.0 * 3600.0;

/// Makes a 6-digit code for `purpose`, replacing any earlier one, and mails it to the user's
/// e-mail (or SMS number). Returns AWS's `CodeDeliveryDetails`, or `None` when the user has no
/// address to send to.
pub async fn send_code(ctx: &Ctx, user: &User, purpose: &str) -> Result<Option<Value>> {
    let (medium, attr, destination) = match (user.attributes.get("email"), user.attributes.get("phone_number")) {
        (Some(email), _) => ("EMAIL", "email", email.clone()),
        (None, Some(phone)) => ("SMS", "phone_number", phone.clone()),
        (None, None) => return Ok(None),
    };
    let code = ctx.rng().digits(6);
    sqlx::query(
        "INSERT INTO cognito_codes (pool_id, username, purpose, code, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (pool_id, username, purpose) DO UPDATE SET code = excluded.code, expires_at = excluded.expires_at",
    )
    .bind(&user.pool_id)
    .bind(&user.username)
    .bind(purpose)
    .bind(&code)
    .bind(ctx.epoch() + CODE_TTL_SECONDS)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    let (subject, body) = match purpose {
        "forgot" => ("Your password reset code", format!("Your password reset code is {code}")),
        _ => ("Your verification code", format!("Your verification code is {code}")),
    };
    let channel = if medium == "EMAIL" { "email" } else { "sms" };
    let outgoing =
        Outgoing { channel, source: "cognito", destination: &destination, subject: Some(subject), body: &body };
    ctx.store().send_mail(&ctx.now_rfc3339(), outgoing).await?;
    Ok(Some(json!({"Destination": mask(&destination), "DeliveryMedium": medium, "AttributeName": attr})))
}

/// Consumes a code: `CodeMismatchException` if wrong, `ExpiredCodeException` if expired or absent.
pub async fn take_code(ctx: &Ctx, user: &User, purpose: &str, given: &str) -> Result<()> {
    let row =
        sqlx::query("SELECT code, expires_at FROM cognito_codes WHERE pool_id = ? AND username = ? AND purpose = ?")
            .bind(&user.pool_id)
            .bind(&user.username)
            .bind(purpose)
            .fetch_optional(ctx.store().pool())
            .await?;
    let expired = || err("ExpiredCodeException", "Invalid code provided, please request a code again.");
    let Some(row) = row else { return Err(expired()) };
    if row.get::<f64, _>(1) < ctx.epoch() {
        return Err(expired());
    }
    if row.get::<String, _>(0) != given {
        return Err(err("CodeMismatchException", "Invalid verification code provided, please try again."));
    }
    sqlx::query("DELETE FROM cognito_codes WHERE pool_id = ? AND username = ? AND purpose = ?")
        .bind(&user.pool_id)
        .bind(&user.username)
        .bind(purpose)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked_like_aws() {
        assert_eq!(mask("alice@example.com"), "a***@e***");
        assert_eq!(mask("+15555550100"), "+*******0100");
    }
}
