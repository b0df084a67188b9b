//! Who is calling. HTTP routes get the caller from the claims API Gateway's JWT authorizer
//! already verified; the WebSocket `$connect` route verifies the access token itself (API
//! Gateway has no JWT authorizer for WebSocket APIs) against the pool's JWKS, cached and
//! fetched again when a token names a key id it has not seen (key rotation).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::chat::Caller;

/// The caller from verified claims (ID or access token).
pub fn caller_from_claims<'a>(claim: impl Fn(&str) -> Option<&'a str>) -> Option<Caller> {
    let sub = claim("sub").filter(|s| !s.is_empty())?;
    let username = claim("cognito:username").or_else(|| claim("username")).unwrap_or(sub);
    Some(Caller { sub: sub.to_string(), username: username.to_string() })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the issuer's keys are unavailable: {0}")]
    Keys(String),
}

/// Verifies a user pool's access tokens.
pub struct Verifier {
    issuer: String,
    client_id: Option<String>,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
}

impl Verifier {
    pub fn new(issuer: impl Into<String>, client_id: Option<String>) -> Self {
        Verifier { issuer: issuer.into(), client_id, http: reqwest::Client::new(), keys: RwLock::default() }
    }

    async fn refresh(&self) -> Result<(), AuthError> {
        let url = format!("{}/.well-known/jwks.json", self.issuer);
        let doc: Value = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| AuthError::Keys(e.to_string()))?
            .json()
            .await
            .map_err(|e| AuthError::Keys(e.to_string()))?;
        let mut keys = HashMap::new();
        for k in doc["keys"].as_array().into_iter().flatten() {
            let (Some(kid), Some(n), Some(e)) = (k["kid"].as_str(), k["n"].as_str(), k["e"].as_str()) else { continue };
            if let Ok(key) = DecodingKey::from_rsa_components(n, e) {
                keys.insert(kid.to_string(), key);
            }
        }
        *self.keys.write().await = keys;
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(k) = self.keys.read().await.get(kid) {
            return Ok(k.clone());
        }
        self.refresh().await?;
        self.keys.read().await.get(kid).cloned().ok_or_else(|| AuthError::Invalid("unknown key id".into()))
    }

    /// Verifies an access token: RS256 by a key of the pool, issuer, expiry, `token_use`, and
    /// the app client when one is configured.
    pub async fn verify_access(&self, token: &str) -> Result<Caller, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid("not RS256".into()));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Invalid("no key id".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<HashMap<String, Value>>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        if text("token_use") != Some("access") {
            return Err(AuthError::Invalid("not an access token".into()));
        }
        if let Some(client) = &self.client_id
            && text("client_id") != Some(client.as_str())
        {
            return Err(AuthError::Invalid("issued to another client".into()));
        }
        caller_from_claims(text).ok_or_else(|| AuthError::Invalid("no subject".into()))
    }
}
