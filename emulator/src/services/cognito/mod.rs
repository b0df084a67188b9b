//! Cognito user pools (awsJson1_1, `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`).
//!
//! | file          | what                                                                 |
//! |---------------|----------------------------------------------------------------------|
//! | `mod.rs`      | operation table; pool, client and user records and lookups; errors    |
//! | `pools.rs`    | Create/Describe/List/DeleteUserPool, Create/DescribeUserPoolClient     |
//! | `users.rs`    | sign-up and confirmation, admin user management, ListUsers, GetUser    |
//! | `auth.rs`     | InitiateAuth, AdminInitiateAuth, challenges, refresh, sign-out, revoke |
//! | `password.rs` | password policy and hashing, codes, SECRET_HASH                       |
//! | `srp.rs`      | the SRP-6a exchange of USER_SRP_AUTH                                  |
//! | `tokens.rs`   | signing keys, JWTs, JWKS, access-token verification                   |
//! | `triggers.rs` | PreSignUp, PostConfirmation, PreTokenGeneration, PostAuthentication   |

mod auth;
mod password;
mod pools;
mod srp;
pub mod tokens;
mod triggers;
mod users;

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::{AwsError, Result};
use crate::protocol::aws_json::{self, JSON_1_1};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService";
pub const FLAVOR: aws_json::Flavor = aws_json::Flavor { content_type: JSON_1_1, error_namespace: "" };

/// The operation table: one line per operation.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Response> {
    let result = dispatch(ctx, op, body).await;
    // Cognito names input that breaks its model's constraints InvalidParameterException, with
    // the "1 validation error detected: …" message other services send as ValidationException.
    result.map_err(|mut e| {
        if e.code == "ValidationException" {
            e.code = "InvalidParameterException".into();
        }
        e
    })
}

async fn dispatch(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Response> {
    aws_json::json_operations!(FLAVOR, ctx, op, body, {
        "CreateUserPool" => pools::create_user_pool,
        "DescribeUserPool" => pools::describe_user_pool,
        "ListUserPools" => pools::list_user_pools,
        "DeleteUserPool" => pools::delete_user_pool,
        "CreateUserPoolClient" => pools::create_user_pool_client,
        "DescribeUserPoolClient" => pools::describe_user_pool_client,
        "ListUserPoolClients" => pools::list_user_pool_clients,
        "SignUp" => users::sign_up,
        "ConfirmSignUp" => users::confirm_sign_up,
        "ResendConfirmationCode" => users::resend_confirmation_code,
        "AdminCreateUser" => users::admin_create_user,
        "AdminSetUserPassword" => users::admin_set_user_password,
        "AdminConfirmSignUp" => users::admin_confirm_sign_up,
        "AdminGetUser" => users::admin_get_user,
        "AdminUpdateUserAttributes" => users::admin_update_user_attributes,
        "AdminDisableUser" => users::admin_disable_user,
        "AdminEnableUser" => users::admin_enable_user,
        "AdminDeleteUser" => users::admin_delete_user,
        "ListUsers" => users::list_users,
        "GetUser" => users::get_user,
        "ChangePassword" => users::change_password,
        "ForgotPassword" => users::forgot_password,
        "ConfirmForgotPassword" => users::confirm_forgot_password,
        "InitiateAuth" => auth::initiate_auth,
        "AdminInitiateAuth" => auth::admin_initiate_auth,
        "RespondToAuthChallenge" => auth::respond_to_auth_challenge,
        "AdminRespondToAuthChallenge" => auth::admin_respond_to_auth_challenge,
        "GlobalSignOut" => auth::global_sign_out,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out,
        "RevokeToken" => auth::revoke_token,
    })
}

// ---- errors (all 400, as Cognito's model declares them) ----

pub(crate) fn err(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::bad_request(code, message)
}

pub(crate) fn not_authorized(message: impl Into<String>) -> AwsError {
    err("NotAuthorizedException", message)
}

pub(crate) fn invalid_parameter(message: impl Into<String>) -> AwsError {
    err("InvalidParameterException", message)
}

// ---- records ----

/// A user pool: its id and the CreateUserPool input it was made from.
#[derive(Debug, Clone)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub config: Value,
    pub created_at: f64,
    pub updated_at: f64,
}

impl Pool {
    fn strings(&self, member: &str) -> Vec<String> {
        self.config[member]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// Attributes that may be used as the username (`email`, `phone_number`).
    pub fn username_attributes(&self) -> Vec<String> {
        self.strings("UsernameAttributes")
    }

    /// Attributes a user may sign in with besides the username.
    pub fn sign_in_aliases(&self) -> Vec<String> {
        let mut all = self.username_attributes();
        all.extend(self.strings("AliasAttributes"));
        all
    }

    pub fn auto_verified(&self) -> Vec<String> {
        self.strings("AutoVerifiedAttributes")
    }

    pub fn admin_only(&self) -> bool {
        self.config["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"].as_bool().unwrap_or(false)
    }

    pub fn arn(&self, ctx: &Ctx) -> String {
        format!("arn:aws:cognito-idp:{}:{}:userpool/{}", ctx.config().region, ctx.account(), self.id)
    }
}

pub async fn load_pool(ctx: &Ctx, id: &str) -> Result<Pool> {
    let row = sqlx::query("SELECT id, name, config, created_at, updated_at FROM cognito_pools WHERE id = ?")
        .bind(id)
        .fetch_optional(ctx.store().pool())
        .await?
        .ok_or_else(|| err("ResourceNotFoundException", format!("User pool {id} does not exist.")))?;
    Ok(Pool {
        id: row.get(0),
        name: row.get(1),
        config: serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default(),
        created_at: row.get(3),
        updated_at: row.get(4),
    })
}

/// Rewrites a pool's stored configuration (the CreateUserPool input it keeps) in place.
///
/// The service has no UpdateUserPool; template provisioning uses this to set `LambdaConfig`
/// triggers once the functions exist (pools are created before the functions that name them)
/// and to apply changed pool settings when a stack is provisioned again. Nothing is validated:
/// callers pass members CreateUserPool already accepted.
pub async fn update_pool_config(emu: &crate::state::Emu, id: &str, change: impl FnOnce(&mut Value)) -> Result<()> {
    let row = sqlx::query("SELECT config FROM cognito_pools WHERE id = ?")
        .bind(id)
        .fetch_optional(emu.store.pool())
        .await?
        .ok_or_else(|| err("ResourceNotFoundException", format!("User pool {id} does not exist.")))?;
    let mut config: Value = serde_json::from_str(row.get::<&str, _>(0)).unwrap_or_default();
    change(&mut config);
    let now = emu.clock.now().timestamp_millis() as f64 / 1000.0;
    sqlx::query("UPDATE cognito_pools SET config = ?, updated_at = ? WHERE id = ?")
        .bind(config.to_string())
        .bind(now)
        .bind(id)
        .execute(&mut *emu.store.turn().await?)
        .await?;
    Ok(())
}

/// An app client of a pool.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub pool_id: String,
    pub secret: Option<String>,
    pub config: Value,
    pub created_at: f64,
}

fn unit_seconds(unit: Option<&str>, default_unit: &str) -> i64 {
    match unit.unwrap_or(default_unit) {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        _ => 86_400,
    }
}

impl Client {
    fn validity(&self, member: &str, unit_member: &str, default_unit: &str, default_seconds: i64) -> i64 {
        match self.config[member].as_i64() {
            Some(v) => v * unit_seconds(self.config["TokenValidityUnits"][unit_member].as_str(), default_unit),
            None => default_seconds,
        }
    }

    pub fn access_token_seconds(&self) -> i64 {
        self.validity("AccessTokenValidity", "AccessToken", "hours", 3600)
    }

    pub fn id_token_seconds(&self) -> i64 {
        self.validity("IdTokenValidity", "IdToken", "hours", 3600)
    }

    pub fn refresh_token_seconds(&self) -> i64 {
        self.validity("RefreshTokenValidity", "RefreshToken", "days", 30 * 86_400)
    }

    /// The enabled `ExplicitAuthFlows` (AWS's default when none were given).
    pub fn flows(&self) -> Vec<String> {
        match self.config["ExplicitAuthFlows"].as_array() {
            Some(a) if !a.is_empty() => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => vec!["ALLOW_USER_SRP_AUTH".into(), "ALLOW_REFRESH_TOKEN_AUTH".into(), "ALLOW_CUSTOM_AUTH".into()],
        }
    }

    /// `ENABLED` hides whether a user exists (NotAuthorized instead of UserNotFound).
    pub fn hides_user_existence(&self) -> bool {
        self.config["PreventUserExistenceErrors"].as_str() == Some("ENABLED")
    }
}

pub async fn load_client(ctx: &Ctx, client_id: &str) -> Result<Client> {
    let row =
        sqlx::query("SELECT client_id, pool_id, secret, config, created_at FROM cognito_clients WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(ctx.store().pool())
            .await?
            .ok_or_else(|| err("ResourceNotFoundException", format!("User pool client {client_id} does not exist.")))?;
    Ok(Client {
        client_id: row.get(0),
        pool_id: row.get(1),
        secret: row.get(2),
        config: serde_json::from_str(row.get::<&str, _>(3)).unwrap_or_default(),
        created_at: row.get(4),
    })
}

/// A user of a pool.
#[derive(Debug, Clone)]
pub struct User {
    pub pool_id: String,
    pub username: String,
    pub sub: String,
    pub status: String,
    pub enabled: bool,
    pub attributes: BTreeMap<String, String>,
    pub password_hash: Option<String>,
    pub password_set_at: Option<f64>,
    pub srp_salt: Option<Vec<u8>>,
    pub srp_verifier: Option<Vec<u8>>,
    pub created_at: f64,
    pub updated_at: f64,
}

const USER_COLUMNS: &str = "pool_id, username, sub, status, enabled, attributes, password_hash, password_set_at, \
                            srp_salt, srp_verifier, created_at, updated_at";

fn user_from_row(r: &SqliteRow) -> User {
    User {
        pool_id: r.get(0),
        username: r.get(1),
        sub: r.get(2),
        status: r.get(3),
        enabled: r.get::<i64, _>(4) != 0,
        attributes: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or_default(),
        password_hash: r.get(6),
        password_set_at: r.get(7),
        srp_salt: r.get(8),
        srp_verifier: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
    }
}

/// Finds a user by username, or by an attribute the pool lets users sign in with
/// (`UsernameAttributes` / `AliasAttributes`, e.g. `email`).
pub async fn find_user(ctx: &Ctx, pool: &Pool, name: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM cognito_users WHERE pool_id = ? AND username = ?"))
        .bind(&pool.id)
        .bind(name)
        .fetch_optional(ctx.store().pool())
        .await?;
    if let Some(r) = row {
        return Ok(Some(user_from_row(&r)));
    }
    for attr in pool.sign_in_aliases() {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM cognito_users WHERE pool_id = ? AND json_extract(attributes, '$.' || ?) = ?"
        ))
        .bind(&pool.id)
        .bind(&attr)
        .bind(name)
        .fetch_optional(ctx.store().pool())
        .await?;
        if let Some(r) = row {
            return Ok(Some(user_from_row(&r)));
        }
    }
    Ok(None)
}

/// The user, or `UserNotFoundException` (as the admin APIs answer).
pub async fn require_user(ctx: &Ctx, pool: &Pool, name: &str) -> Result<User> {
    find_user(ctx, pool, name).await?.ok_or_else(|| err("UserNotFoundException", "User does not exist."))
}

pub async fn save_user(ctx: &Ctx, u: &User) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO cognito_users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (pool_id, username) DO UPDATE SET status = excluded.status, enabled = excluded.enabled,
           attributes = excluded.attributes, password_hash = excluded.password_hash,
           password_set_at = excluded.password_set_at, srp_salt = excluded.srp_salt,
           srp_verifier = excluded.srp_verifier, updated_at = excluded.updated_at"
    ))
    .bind(&u.pool_id)
    .bind(&u.username)
    .bind(&u.sub)
    .bind(&u.status)
    .bind(u.enabled as i64)
    .bind(serde_json::to_string(&u.attributes).unwrap_or_default())
    .bind(&u.password_hash)
    .bind(u.password_set_at)
    .bind(&u.srp_salt)
    .bind(&u.srp_verifier)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(&mut *ctx.store().turn().await?)
    .await?;
    Ok(())
}

/// `[{"Name": …, "Value": …}]`, the wire form of user attributes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeType {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

pub fn attribute_list(attrs: &BTreeMap<String, String>) -> Vec<AttributeType> {
    attrs.iter().map(|(k, v)| AttributeType { name: k.clone(), value: Some(v.clone()) }).collect()
}
