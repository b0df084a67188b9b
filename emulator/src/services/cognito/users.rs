//! Sign-up and confirmation, admin user management, ListUsers and GetUser.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::pools::Empty;
use super::triggers::{self, PostConfirmationSource, PreSignUpSource};
use super::{
    AttributeType, Client, Pool, User, attribute_list, err, find_user, invalid_parameter, load_client, load_pool,
    not_authorized, password, require_user, save_user, tokens,
};
use crate::error::Result;
use crate::state::Ctx;

fn attrs_from(list: &[AttributeType]) -> BTreeMap<String, String> {
    list.iter().map(|a| (a.name.clone(), a.value.clone().unwrap_or_default())).collect()
}

/// The wire form of a user (AdminCreateUser, ListUsers).
fn user_type(u: &User) -> Value {
    json!({
        "Username": u.username,
        "Attributes": attribute_list(&u.attributes),
        "UserCreateDate": u.created_at,
        "UserLastModifiedDate": u.updated_at,
        "Enabled": u.enabled,
        "UserStatus": u.status,
    })
}

/// A new user record. With `UsernameAttributes`, a sign-in attribute given as username
/// becomes that attribute and the username becomes a generated id, as in AWS.
fn new_user(
    ctx: &Ctx,
    pool: &Pool,
    name: &str,
    mut attributes: BTreeMap<String, String>,
    status: &str,
) -> Result<User> {
    let sub = ctx.rng().uuid();
    let username_attrs = pool.username_attributes();
    let username = if username_attrs.is_empty() {
        name.to_string()
    } else {
        let as_email = username_attrs.iter().any(|a| a == "email") && name.contains('@');
        let as_phone = username_attrs.iter().any(|a| a == "phone_number") && name.starts_with('+');
        match (as_email, as_phone) {
            (true, _) => attributes.insert("email".into(), name.to_string()),
            (_, true) => attributes.insert("phone_number".into(), name.to_string()),
            _ if username_attrs.iter().any(|a| a == "email") => {
                return Err(invalid_parameter("Username should be an email."));
            }
            _ => return Err(invalid_parameter("Username should be a phone number.")),
        };
        sub.clone()
    };
    if username.is_empty() || username.chars().count() > 128 || username.chars().any(char::is_whitespace) {
        return Err(invalid_parameter(
            "Username should be a non-empty string of at most 128 characters without spaces.",
        ));
    }
    attributes.insert("sub".into(), sub.clone());
    let now = ctx.epoch();
    Ok(User {
        pool_id: pool.id.clone(),
        username,
        sub,
        status: status.into(),
        enabled: true,
        attributes,
        password_hash: None,
        password_set_at: None,
        srp_salt: None,
        srp_verifier: None,
        created_at: now,
        updated_at: now,
    })
}

/// Refuses a user whose username or sign-in attribute is already taken.
async fn ensure_new(ctx: &Ctx, pool: &Pool, user: &User) -> Result<()> {
    let mut names = vec![user.username.clone()];
    for a in pool.sign_in_aliases() {
        if let Some(v) = user.attributes.get(&a) {
            names.push(v.clone());
        }
    }
    for n in names {
        if find_user(ctx, pool, &n).await?.is_some() {
            let message = if pool.username_attributes().is_empty() {
                "User already exists"
            } else {
                "An account with the given email already exists."
            };
            return Err(err("UsernameExistsException", message));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    password: String,
    #[serde(default)]
    user_attributes: Vec<AttributeType>,
    #[serde(default)]
    validation_data: Vec<AttributeType>,
}

pub async fn sign_up(ctx: &Ctx, input: SignUpInput) -> Result<Value> {
    let client = load_client(ctx, &input.client_id).await?;
    let pool = load_pool(ctx, &client.pool_id).await?;
    password::check_secret_hash(&client, &input.username, input.secret_hash.as_deref())?;
    if pool.admin_only() {
        return Err(not_authorized("SignUp is not permitted for this user pool"));
    }
    password::check_policy(&pool, &input.password)?;
    let mut user = new_user(ctx, &pool, &input.username, attrs_from(&input.user_attributes), "UNCONFIRMED")?;
    ensure_new(ctx, &pool, &user).await?;
    let validation = attrs_from(&input.validation_data).into_iter().collect();
    let decision =
        triggers::pre_sign_up(ctx, &pool, &client.client_id, &user, PreSignUpSource::SignUp, validation).await?;
    apply_decision(&mut user, decision);
    password::set(ctx, &mut user, &input.password)?;
    save_user(ctx, &user).await?;
    let confirmed = user.status == "CONFIRMED";
    let verify = pool.auto_verified();
    let delivery = if !confirmed && verify.iter().any(|a| user.attributes.contains_key(a)) {
        password::send_code(ctx, &user, "signup").await?
    } else {
        None
    };
    let mut out = json!({"UserConfirmed": confirmed, "UserSub": user.sub});
    if let Some(d) = delivery {
        out["CodeDeliveryDetails"] = d;
    }
    Ok(out)
}

/// The prologue of the client-facing user operations: the client, its pool, the SECRET_HASH
/// check, and the user if there is one.
async fn client_user(
    ctx: &Ctx,
    client_id: &str,
    username: &str,
    secret_hash: Option<&str>,
) -> Result<(Client, Pool, Option<User>)> {
    let client = load_client(ctx, client_id).await?;
    let pool = load_pool(ctx, &client.pool_id).await?;
    password::check_secret_hash(&client, username, secret_hash)?;
    let user = find_user(ctx, &pool, username).await?;
    Ok((client, pool, user))
}

fn unknown_combination() -> crate::error::AwsError {
    err("UserNotFoundException", "Username/client id combination not found.")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
}

pub async fn confirm_sign_up(ctx: &Ctx, input: ConfirmSignUpInput) -> Result<Empty> {
    let (client, pool, user) =
        client_user(ctx, &input.client_id, &input.username, input.secret_hash.as_deref()).await?;
    let mut user = user.ok_or_else(unknown_combination)?;
    if user.status != "UNCONFIRMED" {
        return Err(not_authorized(format!("User cannot be confirmed. Current status is {}", user.status)));
    }
    password::take_code(ctx, &user, "signup", &input.confirmation_code).await?;
    user.status = "CONFIRMED".into();
    mark_verified(&mut user);
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    // As on AWS, the user stays confirmed even if PostConfirmation then fails the call.
    triggers::post_confirmation(ctx, &pool, &client.client_id, &user, PostConfirmationSource::ConfirmSignUp).await?;
    Ok(Empty {})
}

/// PreSignUp may confirm the user and mark addresses verified.
fn apply_decision(user: &mut User, d: triggers::SignUpDecision) {
    if d.auto_confirm && user.status == "UNCONFIRMED" {
        user.status = "CONFIRMED".into();
    }
    if d.auto_verify_email && user.attributes.contains_key("email") {
        user.attributes.insert("email_verified".into(), "true".into());
    }
    if d.auto_verify_phone && user.attributes.contains_key("phone_number") {
        user.attributes.insert("phone_number_verified".into(), "true".into());
    }
}

/// A confirmed code proves the address it went to.
fn mark_verified(user: &mut User) {
    if user.attributes.contains_key("email") {
        user.attributes.insert("email_verified".into(), "true".into());
    } else if user.attributes.contains_key("phone_number") {
        user.attributes.insert("phone_number_verified".into(), "true".into());
    }
}

/// With PreventUserExistenceErrors, unknown users get an answer that looks like a delivery.
fn simulated_delivery() -> Value {
    json!({"CodeDeliveryDetails": {"Destination": "u***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResendInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
}

pub async fn resend_confirmation_code(ctx: &Ctx, input: ResendInput) -> Result<Value> {
    let (client, _, user) = client_user(ctx, &input.client_id, &input.username, input.secret_hash.as_deref()).await?;
    let Some(user) = user else {
        return if client.hides_user_existence() { Ok(simulated_delivery()) } else { Err(unknown_combination()) };
    };
    if user.status != "UNCONFIRMED" {
        return Err(invalid_parameter("User is already confirmed."));
    }
    let d = password::send_code(ctx, &user, "signup")
        .await?
        .ok_or_else(|| invalid_parameter("Auto verification not turned on."))?;
    Ok(json!({ "CodeDeliveryDetails": d }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUserInput {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    user_attributes: Vec<AttributeType>,
    temporary_password: Option<String>,
    message_action: Option<String>,
}

pub async fn admin_create_user(ctx: &Ctx, input: AdminCreateUserInput) -> Result<Value> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let resend = match input.message_action.as_deref() {
        None | Some("SUPPRESS") => false,
        Some("RESEND") => true,
        Some(other) => return Err(invalid_parameter(format!("Invalid MessageAction: {other}"))),
    };
    let temp = match input.temporary_password {
        Some(p) => {
            password::check_policy(&pool, &p)?;
            p
        }
        None => password::temporary(ctx),
    };
    let mut user = if resend {
        let user = require_user(ctx, &pool, &input.username).await?;
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(err(
                "UnsupportedUserStateException",
                format!("Resend not possible. {} status is not FORCE_CHANGE_PASSWORD", user.username),
            ));
        }
        user
    } else {
        let mut user =
            new_user(ctx, &pool, &input.username, attrs_from(&input.user_attributes), "FORCE_CHANGE_PASSWORD")?;
        if find_user(ctx, &pool, &input.username).await?.is_some() {
            return Err(err("UsernameExistsException", "User account already exists"));
        }
        ensure_new(ctx, &pool, &user).await?;
        let source = PreSignUpSource::AdminCreateUser;
        let decision =
            triggers::pre_sign_up(ctx, &pool, "CLIENT_ID_NOT_APPLICABLE", &user, source, Default::default()).await?;
        apply_decision(&mut user, triggers::SignUpDecision { auto_confirm: false, ..decision });
        user
    };
    password::set(ctx, &mut user, &temp)?;
    save_user(ctx, &user).await?;
    if input.message_action.as_deref() != Some("SUPPRESS")
        && let Some(to) = user.attributes.get("email").or(user.attributes.get("phone_number"))
    {
        let body = format!("Your username is {} and temporary password is {temp}.", input.username);
        let channel = if to.contains('@') { "email" } else { "sms" };
        let mail = crate::store::mailbox::Outgoing {
            channel,
            source: "cognito",
            destination: to,
            subject: Some("Your temporary password"),
            body: &body,
        };
        ctx.store().send_mail(&ctx.now_rfc3339(), mail).await?;
    }
    Ok(json!({ "User": user_type(&user) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminUserInput {
    user_pool_id: String,
    username: String,
}

async fn admin_user(ctx: &Ctx, input: &AdminUserInput) -> Result<(Pool, User)> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let user = require_user(ctx, &pool, &input.username).await?;
    Ok((pool, user))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminSetPasswordInput {
    user_pool_id: String,
    username: String,
    password: String,
    #[serde(default)]
    permanent: bool,
}

pub async fn admin_set_user_password(ctx: &Ctx, input: AdminSetPasswordInput) -> Result<Empty> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let mut user = require_user(ctx, &pool, &input.username).await?;
    password::check_policy(&pool, &input.password)?;
    password::set(ctx, &mut user, &input.password)?;
    user.status = if input.permanent { "CONFIRMED" } else { "FORCE_CHANGE_PASSWORD" }.into();
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    Ok(Empty {})
}

pub async fn admin_confirm_sign_up(ctx: &Ctx, input: AdminUserInput) -> Result<Empty> {
    let (_, mut user) = admin_user(ctx, &input).await?;
    if user.status != "UNCONFIRMED" {
        return Err(not_authorized(format!("User cannot be confirmed. Current status is {}", user.status)));
    }
    user.status = "CONFIRMED".into();
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    Ok(Empty {})
}

fn get_user_output(u: &User) -> Value {
    json!({
        "Username": u.username,
        "UserAttributes": attribute_list(&u.attributes),
        "UserCreateDate": u.created_at,
        "UserLastModifiedDate": u.updated_at,
        "Enabled": u.enabled,
        "UserStatus": u.status,
    })
}

pub async fn admin_get_user(ctx: &Ctx, input: AdminUserInput) -> Result<Value> {
    let (_, user) = admin_user(ctx, &input).await?;
    Ok(get_user_output(&user))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminUpdateAttributesInput {
    user_pool_id: String,
    username: String,
    user_attributes: Vec<AttributeType>,
}

pub async fn admin_update_user_attributes(ctx: &Ctx, input: AdminUpdateAttributesInput) -> Result<Empty> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let mut user = require_user(ctx, &pool, &input.username).await?;
    for a in &input.user_attributes {
        if a.name == "sub" {
            return Err(invalid_parameter("Cannot modify the non-mutable attribute sub"));
        }
        if let Some(other) = find_user(ctx, &pool, a.value.as_deref().unwrap_or("")).await?
            && other.username != user.username
            && pool.sign_in_aliases().contains(&a.name)
        {
            return Err(err("AliasExistsException", "An account with the given email already exists."));
        }
    }
    let changes = attrs_from(&input.user_attributes);
    for (k, v) in changes.iter() {
        let verified = format!("{k}_verified");
        let changed = user.attributes.get(k) != Some(v);
        user.attributes.insert(k.clone(), v.clone());
        // A new address is unverified unless the caller says otherwise.
        if changed && matches!(k.as_str(), "email" | "phone_number") && !changes.contains_key(&verified) {
            user.attributes.insert(verified, "false".into());
        }
    }
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    Ok(Empty {})
}

async fn set_enabled(ctx: &Ctx, input: AdminUserInput, enabled: bool) -> Result<Empty> {
    let (_, mut user) = admin_user(ctx, &input).await?;
    user.enabled = enabled;
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    Ok(Empty {})
}

pub async fn admin_disable_user(ctx: &Ctx, input: AdminUserInput) -> Result<Empty> {
    set_enabled(ctx, input, false).await
}

pub async fn admin_enable_user(ctx: &Ctx, input: AdminUserInput) -> Result<Empty> {
    set_enabled(ctx, input, true).await
}

pub async fn admin_delete_user(ctx: &Ctx, input: AdminUserInput) -> Result<Empty> {
    let (pool, user) = admin_user(ctx, &input).await?;
    sqlx::query("DELETE FROM cognito_users WHERE pool_id = ? AND username = ?")
        .bind(&pool.id)
        .bind(&user.username)
        .execute(&mut *ctx.store().turn().await?)
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersInput {
    user_pool_id: String,
    limit: Option<i64>,
    pagination_token: Option<String>,
    filter: Option<String>,
    attributes_to_get: Option<Vec<String>>,
}

/// `attr = "value"` (exact) or `attr ^= "value"` (prefix), as ListUsers' Filter takes them.
fn parse_filter(f: &str) -> Result<Option<(String, bool, String)>> {
    let f = f.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let bad = || invalid_parameter("Error while parsing filter.");
    let (name, rest, prefix) = match (f.find("^="), f.find('=')) {
        (Some(i), _) => (&f[..i], &f[i + 2..], true),
        (None, Some(i)) => (&f[..i], &f[i + 1..], false),
        _ => return Err(bad()),
    };
    let value = rest.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(bad)?;
    let name = name.trim().trim_matches('"');
    const SEARCHABLE: &[&str] = &[
        "username",
        "email",
        "phone_number",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "cognito:user_status",
        "status",
        "sub",
    ];
    if !SEARCHABLE.contains(&name) {
        return Err(bad());
    }
    Ok(Some((name.to_string(), prefix, value.to_string())))
}

pub async fn list_users(ctx: &Ctx, input: ListUsersInput) -> Result<Value> {
    let pool = load_pool(ctx, &input.user_pool_id).await?;
    let limit = input.limit.unwrap_or(60);
    if !(0..=60).contains(&limit) {
        return Err(crate::error::AwsError::validation(
            "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60",
        ));
    }
    let limit = if limit == 0 { 60 } else { limit };
    let filter = parse_filter(input.filter.as_deref().unwrap_or(""))?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM cognito_users WHERE pool_id = ? AND username > ? ORDER BY username",
        super::USER_COLUMNS
    ))
    .bind(&pool.id)
    .bind(input.pagination_token.unwrap_or_default())
    .fetch_all(ctx.store().pool())
    .await?;
    let matches = |u: &User| -> bool {
        let Some((name, prefix, value)) = &filter else { return true };
        let actual = match name.as_str() {
            "username" => Some(u.username.clone()),
            "cognito:user_status" => Some(u.status.clone()),
            "status" => Some(if u.enabled { "Enabled" } else { "Disabled" }.to_string()),
            other => u.attributes.get(other).cloned(),
        };
        actual.is_some_and(|a| if *prefix { a.starts_with(value.as_str()) } else { a == *value })
    };
    let mut users: Vec<User> = rows.iter().map(super::user_from_row).filter(matches).take(limit as usize + 1).collect();
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let listed: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = user_type(u);
            if let Some(keep) = &input.attributes_to_get {
                let attrs: BTreeMap<String, String> = u
                    .attributes
                    .iter()
                    .filter(|(k, _)| keep.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                v["Attributes"] = serde_json::to_value(attribute_list(&attrs)).unwrap_or_default();
            }
            v
        })
        .collect();
    let mut out = json!({ "Users": listed });
    if more && let Some(last) = users.last() {
        out["PaginationToken"] = last.username.clone().into();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessTokenInput {
    access_token: String,
}

pub async fn get_user(ctx: &Ctx, input: AccessTokenInput) -> Result<Value> {
    let claims = tokens::verify_access(ctx, &input.access_token).await?;
    let pool = load_pool(ctx, &claims.pool_id).await?;
    let user = find_user(ctx, &pool, &claims.username).await?.ok_or_else(|| not_authorized("User does not exist."))?;
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    let mut out = get_user_output(&user);
    if let Some(o) = out.as_object_mut() {
        o.remove("UserCreateDate");
        o.remove("UserLastModifiedDate");
        o.remove("Enabled");
        o.remove("UserStatus");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_users_filters_parse() {
        assert_eq!(parse_filter(r#"email = "a@b.c""#).unwrap(), Some(("email".into(), false, "a@b.c".into())));
        assert_eq!(parse_filter(r#"username ^= "al""#).unwrap(), Some(("username".into(), true, "al".into())));
        assert_eq!(parse_filter("").unwrap(), None);
        assert!(parse_filter("email = a@b.c").is_err());
        assert!(parse_filter(r#"custom:x = "1""#).is_err());
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangePasswordInput {
    previous_password: Option<String>,
    proposed_password: String,
    access_token: String,
}

pub async fn change_password(ctx: &Ctx, input: ChangePasswordInput) -> Result<Empty> {
    let claims = tokens::verify_access(ctx, &input.access_token).await?;
    let pool = load_pool(ctx, &claims.pool_id).await?;
    let mut user =
        find_user(ctx, &pool, &claims.username).await?.ok_or_else(|| not_authorized("User does not exist."))?;
    if !password::verify(&user, input.previous_password.as_deref().unwrap_or("")) {
        return Err(not_authorized("Incorrect username or password."));
    }
    password::check_policy(&pool, &input.proposed_password)?;
    password::set(ctx, &mut user, &input.proposed_password)?;
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForgotPasswordInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
}

pub async fn forgot_password(ctx: &Ctx, input: ForgotPasswordInput) -> Result<Value> {
    let (client, _, user) = client_user(ctx, &input.client_id, &input.username, input.secret_hash.as_deref()).await?;
    let Some(user) = user else {
        return if client.hides_user_existence() { Ok(simulated_delivery()) } else { Err(unknown_combination()) };
    };
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    let details = password::send_code(ctx, &user, "forgot").await?.ok_or_else(|| {
        invalid_parameter("Cannot reset password for the user as there is no registered/verified email or phone_number")
    })?;
    Ok(json!({ "CodeDeliveryDetails": details }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmForgotPasswordInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    password: String,
}

pub async fn confirm_forgot_password(ctx: &Ctx, input: ConfirmForgotPasswordInput) -> Result<Empty> {
    let (client, pool, user) =
        client_user(ctx, &input.client_id, &input.username, input.secret_hash.as_deref()).await?;
    let mut user = user.ok_or_else(unknown_combination)?;
    password::check_policy(&pool, &input.password)?;
    password::take_code(ctx, &user, "forgot", &input.confirmation_code).await?;
    password::set(ctx, &mut user, &input.password)?;
    if matches!(user.status.as_str(), "RESET_REQUIRED" | "FORCE_CHANGE_PASSWORD") {
        user.status = "CONFIRMED".into();
    }
    user.updated_at = ctx.epoch();
    save_user(ctx, &user).await?;
    let source = PostConfirmationSource::ConfirmForgotPassword;
    triggers::post_confirmation(ctx, &pool, &client.client_id, &user, source).await?;
    Ok(Empty {})
}
