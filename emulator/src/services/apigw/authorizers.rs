//! Authorizers, run before any integration: JWT (HTTP APIs), Cognito user pools (REST APIs) and
//! Lambda REQUEST authorizers (WebSocket `$connect`, HTTP and REST APIs).
//!
//! JWTs are checked as API Gateway does: RS256 signature by a key of the issuer's JWKS (looked
//! up in this instance's own Cognito pools when the issuer is one of them, else fetched from
//! `{issuer}/.well-known/jwks.json`), `iss`, `aud` (or `client_id` for access tokens), `exp`
//! and `nbf` on the emulator clock, and the route's scopes. Claims reach the function as
//! strings, the way API Gateway flattens them.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

use crate::services::cognito;
use crate::services::lambda::Outcome;
use crate::state::Emu;

/// Why a request was refused before its integration ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// 401: no or invalid credentials; the text explains (HTTP APIs put it in `www-authenticate`).
    Unauthorized(String),
    /// 403: valid credentials without the right (scopes, a Deny policy).
    Forbidden,
    /// 500: the authorizer itself failed.
    Error,
}

/// A verified JWT's claims, as API Gateway hands them on (every value a string).
pub struct Verified {
    pub claims: Map<String, Value>,
    pub scopes: Option<Vec<String>>,
}

/// The pool of this instance an issuer names: the emulator's own issuer URL
/// (`{endpoint}/{poolId}`) or AWS's (`https://cognito-idp.{region}.amazonaws.com/{poolId}`),
/// since a template written for AWS names the latter and this instance is that pool's Cognito.
fn local_pool(emu: &Emu, issuer: &str) -> Option<String> {
    let issuer = issuer.trim_end_matches('/');
    let pool_id = issuer.rsplit('/').next()?;
    let aws = format!("https://cognito-idp.{}.amazonaws.com/{pool_id}", emu.config.region);
    let local = format!("{}/{pool_id}", emu.endpoint);
    (pool_id.contains('_') && (issuer == aws || issuer == local)).then(|| pool_id.to_string())
}

/// The `iss` values a token may carry for an issuer: both forms for a local pool.
fn accepted_issuers(emu: &Emu, issuer: &str) -> Vec<String> {
    let issuer = issuer.trim_end_matches('/').to_string();
    match local_pool(emu, &issuer) {
        Some(pool) => vec![issuer, cognito::tokens::issuer(emu, &pool)],
        None => vec![issuer],
    }
}

/// The keys of an issuer: this instance's pool when the issuer names one, else its JWKS URL.
async fn jwks(emu: &Arc<Emu>, issuer: &str) -> Option<Value> {
    if let Some(pool_id) = local_pool(emu, issuer) {
        return cognito::tokens::jwks(emu, &pool_id).await.ok();
    }
    let url = format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'));
    let body = emu.http.get(url).send().await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// API Gateway's flattening of a claim value: strings as they are, arrays as `[a b]`.
fn flatten(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Array(items) => {
            let parts: Vec<String> =
                items.iter().map(|i| flatten(i).as_str().unwrap_or_default().to_string()).collect();
            Value::String(format!("[{}]", parts.join(" ")))
        }
        other => Value::String(other.to_string()),
    }
}

/// The token of a request, from an identity source's value (`Bearer ` prefix optional).
pub fn bearer(value: &str) -> &str {
    let v = value.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
        _ => v,
    }
}

/// Verifies a JWT for an HTTP API route.
pub async fn verify_jwt(
    emu: &Arc<Emu>,
    token: &str,
    issuer: &str,
    audience: &[String],
    scopes: &[String],
) -> Result<Verified, Denied> {
    let invalid = |why: &str| Denied::Unauthorized(why.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("the token is malformed"))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid(&format!("signing method {:?} is invalid", header.alg)));
    }
    let keys = jwks(emu, issuer).await.ok_or_else(|| invalid("the issuer's keys could not be read"))?;
    let kid = header.kid.unwrap_or_default();
    let key = keys["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| invalid("the token's key id is not in the issuer's key set"))?;
    let decoding = DecodingKey::from_rsa_components(key["n"].as_str().unwrap_or(""), key["e"].as_str().unwrap_or(""))
        .map_err(|_| invalid("the issuer's key is unusable"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims: Map<String, Value> = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation)
        .map_err(|_| invalid("the token's signature is invalid"))?
        .claims;
    let iss = claims.get("iss").and_then(Value::as_str).map(|i| i.trim_end_matches('/')).unwrap_or("");
    if !accepted_issuers(emu, issuer).iter().any(|a| a == iss) {
        return Err(invalid("the token has an invalid issuer"));
    }
    let now = emu.clock.now().timestamp();
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp <= now) {
        return Err(invalid("the token has expired"));
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now) {
        return Err(invalid("the token is not valid yet"));
    }
    if !audience.is_empty() {
        let auds: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => claims.get("client_id").and_then(Value::as_str).into_iter().collect(),
        };
        if !auds.iter().any(|a| audience.iter().any(|want| want == a)) {
            return Err(invalid("the token does not have a valid audience"));
        }
    }
    let token_scopes: Option<Vec<String>> =
        claims.get("scope").and_then(Value::as_str).map(|s| s.split_whitespace().map(str::to_string).collect());
    if !scopes.is_empty() && !token_scopes.as_ref().is_some_and(|have| have.iter().any(|s| scopes.contains(s))) {
        return Err(Denied::Forbidden);
    }
    Ok(Verified { claims: claims.iter().map(|(k, v)| (k.clone(), flatten(v))).collect(), scopes: token_scopes })
}

/// Verifies a Cognito token for a REST API's COGNITO_USER_POOLS authorizer.
pub async fn verify_cognito(emu: &Arc<Emu>, token: &str, provider_arns: &[String]) -> Result<Verified, Denied> {
    for arn in provider_arns {
        let Some(pool_id) = arn.rsplit('/').next() else { continue };
        let issuer = cognito::tokens::issuer(emu, pool_id);
        match verify_jwt(emu, token, &issuer, &[], &[]).await {
            Ok(v) => return Ok(v),
            Err(Denied::Unauthorized(_)) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(Denied::Unauthorized("the token is not from an allowed user pool".into()))
}

/// Runs a Lambda REQUEST authorizer with `event`; its policy decides.
/// Returns the authorizer context for the integration's `requestContext.authorizer`.
pub async fn run_lambda(emu: &Arc<Emu>, function: &str, event: Value, simple: bool) -> Result<Value, Denied> {
    let name = crate::services::lambda::function_name(function);
    let outcome = emu.functions.invoke(emu, name, event.to_string().into()).await.map_err(|_| Denied::Error)?;
    let body = match outcome {
        Outcome::Ok(body) => body,
        Outcome::Error { body } => {
            // Throwing "Unauthorized" is how an authorizer asks for a 401.
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(if v["errorMessage"] == "Unauthorized" {
                Denied::Unauthorized("Unauthorized".into())
            } else {
                Denied::Error
            });
        }
    };
    let v: Value = serde_json::from_slice(&body).map_err(|_| Denied::Error)?;
    if simple {
        return match v["isAuthorized"].as_bool() {
            Some(true) => Ok(json!({ "lambda": v.get("context").cloned().unwrap_or(json!({})) })),
            Some(false) => Err(Denied::Forbidden),
            None => Err(Denied::Error),
        };
    }
    let statements = v["policyDocument"]["Statement"].as_array().cloned().unwrap_or_default();
    let effect = |e: &str| statements.iter().any(|s| s["Effect"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(e)));
    if statements.is_empty() || effect("Deny") || !effect("Allow") {
        return Err(Denied::Forbidden);
    }
    let mut context = Map::new();
    if let Some(ctx) = v["context"].as_object() {
        for (k, val) in ctx {
            context.insert(k.clone(), val.clone());
        }
    }
    context.insert("principalId".into(), v["principalId"].clone());
    if v.get("usageIdentifierKey").is_some() {
        context.insert("integrationLatency".into(), 0.into());
    }
    Ok(Value::Object(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_flatten_like_api_gateway() {
        assert_eq!(flatten(&json!("x")), json!("x"));
        assert_eq!(flatten(&json!(1700000000)), json!("1700000000"));
        assert_eq!(flatten(&json!(true)), json!("true"));
        assert_eq!(flatten(&json!(["a", "b"])), json!("[a b]"));
    }

    #[test]
    fn bearer_prefix_is_optional() {
        assert_eq!(bearer("Bearer abc"), "abc");
        assert_eq!(bearer("bearer  abc "), "abc");
        assert_eq!(bearer("abc"), "abc");
    }
}
