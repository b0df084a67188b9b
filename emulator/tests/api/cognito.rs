//! Cognito user pools through `aws_sdk_cognitoidentityprovider`: pools and clients, self
//! sign-up with an e-mailed code, admin-only pools with NEW_PASSWORD_REQUIRED, password and
//! refresh flows, sign-out and revocation, and tokens checked by an independent JWT verifier
//! that knows only the emulator's JWKS.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType,
    MessageActionType, PasswordPolicyType, PreventUserExistenceErrorTypes, UserPoolPolicyType, UserStatusType,
    UsernameAttributeType, VerifiedAttributeType,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::Sha256;

use crate::common;

pub const PASSWORD: &str = "Correct-Horse-9";

fn cognito(url: &str) -> Client {
    Client::new(&common::sdk_config(url))
}

pub async fn pool(idp: &Client, admin_only: bool) -> String {
    idp.create_user_pool()
        .pool_name("chat")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .admin_create_user_config(AdminCreateUserConfigType::builder().allow_admin_create_user_only(admin_only).build())
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

pub async fn client(idp: &Client, pool_id: &str) -> String {
    idp.create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap()
}

/// The 6-digit code in the newest mail to `address`.
async fn code_for(url: &str, address: &str) -> String {
    let mail = common::mailbox(url, address).await;
    let body = mail.first().expect("a mail")["body"].as_str().unwrap().to_string();
    body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).expect("a 6-digit code").to_string()
}

pub async fn login(
    idp: &Client,
    client_id: &str,
    username: &str,
    password: &str,
) -> aws_sdk_cognitoidentityprovider::types::AuthenticationResultType {
    idp.initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap()
}

/// Signs up and confirms `username` with the code from the mailbox.
pub async fn signed_up(url: &str, idp: &Client, client_id: &str, username: &str, email: &str) {
    idp.sign_up()
        .client_id(client_id)
        .username(username)
        .password(PASSWORD)
        .user_attributes(AttributeType::builder().name("email").value(email).build().unwrap())
        .send()
        .await
        .unwrap();
    let code = code_for(url, email).await;
    idp.confirm_sign_up().client_id(client_id).username(username).confirmation_code(code).send().await.unwrap();
}

#[tokio::test]
async fn pools_and_clients_are_created_described_listed_and_deleted() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let created = idp
        .create_user_pool()
        .pool_name("chat")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(PasswordPolicyType::builder().minimum_length(10).require_symbols(false).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let id = created.id.clone().unwrap();
    assert!(id.starts_with("us-east-1_") && id.len() == "us-east-1_".len() + 9, "{id}");
    assert_eq!(
        created.arn.as_deref(),
        Some(format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{id}").as_str())
    );
    let described = idp.describe_user_pool().user_pool_id(&id).send().await.unwrap().user_pool.unwrap();
    let policy = described.policies.unwrap().password_policy.unwrap();
    assert_eq!((policy.minimum_length, policy.require_symbols), (Some(10), false));

    let c = idp
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("server")
        .generate_secret(true)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(c.client_id.as_ref().unwrap().len(), 26);
    assert!(c.client_secret.is_some());
    let d = idp.describe_user_pool_client().user_pool_id(&id).client_id(c.client_id.unwrap()).send().await.unwrap();
    assert_eq!(d.user_pool_client.unwrap().client_name.as_deref(), Some("server"));

    let second = pool(&idp, false).await;
    let page = idp.list_user_pools().max_results(1).send().await.unwrap();
    assert_eq!(page.user_pools().len(), 1);
    let rest = idp.list_user_pools().max_results(10).next_token(page.next_token.clone().unwrap()).send().await.unwrap();
    assert_eq!(page.user_pools().len() + rest.user_pools().len(), 2);

    idp.delete_user_pool().user_pool_id(&second).send().await.unwrap();
    let e = idp.describe_user_pool().user_pool_id(&second).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("ResourceNotFoundException", Some(400)));
    let e = idp.list_user_pools().max_results(0).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameterException");
}

#[tokio::test]
async fn the_schema_lists_every_standard_attribute_with_what_the_pool_set_and_its_custom_ones() {
    use aws_sdk_cognitoidentityprovider::types::{AttributeDataType, SchemaAttributeType};
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let id = idp
        .create_user_pool()
        .pool_name("schema")
        .schema(SchemaAttributeType::builder().name("email").required(true).mutable(true).build())
        .schema(SchemaAttributeType::builder().name("team").attribute_data_type(AttributeDataType::String).build())
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let pool = idp.describe_user_pool().user_pool_id(&id).send().await.unwrap().user_pool.unwrap();
    let schema = pool.schema_attributes();
    let names: Vec<&str> = schema.iter().filter_map(|a| a.name()).collect();
    assert_eq!(names.len(), 21, "20 standard attributes, then the custom one: {names:?}");
    assert_eq!(names[0], "sub");
    assert_eq!(names[20], "custom:team");
    for standard in [
        "middle_name",
        "nickname",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "address",
    ] {
        assert!(names.contains(&standard), "{standard} is listed");
    }
    let by = |n: &str| schema.iter().find(|a| a.name() == Some(n)).unwrap();
    let sub = by("sub");
    assert_eq!((sub.required(), sub.mutable()), (Some(true), Some(false)));
    assert_eq!(sub.string_attribute_constraints().and_then(|c| c.min_length()), Some("1"));
    assert_eq!(by("email").required(), Some(true), "the pool's setting of a standard attribute shows in place");
    assert_eq!(names.iter().filter(|n| **n == "email").count(), 1);
    assert_eq!(by("birthdate").string_attribute_constraints().and_then(|c| c.max_length()), Some("10"));
    assert_eq!(by("updated_at").number_attribute_constraints().and_then(|c| c.min_value()), Some("0"));
    assert_eq!(by("phone_number").required(), Some(false));
}

#[tokio::test]
async fn self_sign_up_with_emailed_code_then_password_login_refresh_and_sign_out() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;

    let e = idp.sign_up().client_id(&client_id).username("alice").password("short").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidPasswordException");

    let out = idp
        .sign_up()
        .client_id(&client_id)
        .username("alice")
        .password(PASSWORD)
        .user_attributes(AttributeType::builder().name("email").value("alice@example.com").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(!out.user_confirmed);
    let details = out.code_delivery_details.unwrap();
    assert_eq!(details.destination.as_deref(), Some("a***@e***"));
    let e = idp.sign_up().client_id(&client_id).username("alice").password(PASSWORD).send().await.unwrap_err();
    assert_eq!(common::code(&e), "UsernameExistsException");

    let e = login_err(&idp, &client_id, "alice", PASSWORD).await;
    assert_eq!(common::code(&e), "UserNotConfirmedException");
    let e = idp
        .confirm_sign_up()
        .client_id(&client_id)
        .username("alice")
        .confirmation_code("000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "CodeMismatchException");
    let code = code_for(emu.url(), "alice@example.com").await;
    idp.confirm_sign_up().client_id(&client_id).username("alice").confirmation_code(code).send().await.unwrap();
    let e =
        idp.confirm_sign_up().client_id(&client_id).username("alice").confirmation_code("1").send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");

    let e = login_err(&idp, &client_id, "alice", "Wrong-Password-1").await;
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotAuthorizedException", Some(400)));
    let e = login_err(&idp, &client_id, "nobody", PASSWORD).await;
    assert_eq!(common::code(&e), "UserNotFoundException");

    let tokens = login(&idp, &client_id, "alice", PASSWORD).await;
    assert_eq!(tokens.token_type.as_deref(), Some("Bearer"));
    assert_eq!(tokens.expires_in, 3600);
    let access = tokens.access_token.unwrap();
    let me = idp.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(me.username, "alice");
    let attr =
        |name: &str| me.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value().map(str::to_string));
    assert_eq!(attr("email").as_deref(), Some("alice@example.com"));
    assert_eq!(attr("email_verified").as_deref(), Some("true"));

    let refreshed = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", tokens.refresh_token.clone().unwrap())
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    assert!(refreshed.refresh_token.is_none());
    let new_access = refreshed.access_token.unwrap();
    idp.get_user().access_token(&new_access).send().await.unwrap();

    idp.global_sign_out().access_token(&new_access).send().await.unwrap();
    for token in [&access, &new_access] {
        let e = idp.get_user().access_token(token).send().await.unwrap_err();
        assert_eq!(common::code(&e), "NotAuthorizedException");
    }
    let e = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", tokens.refresh_token.unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    // A new sign-in works again.
    let again = login(&idp, &client_id, "alice", PASSWORD).await;
    idp.get_user().access_token(again.access_token.unwrap()).send().await.unwrap();
}

async fn login_err(
    idp: &Client,
    client_id: &str,
    username: &str,
    password: &str,
) -> aws_sdk_cognitoidentityprovider::error::SdkError<
    aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthError,
    aws_sdk_cognitoidentityprovider::config::http::HttpResponse,
> {
    idp.initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn admin_only_pool_invites_users_who_must_set_a_new_password() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, true).await;
    let client_id = client(&idp, &pool_id).await;

    let e = idp.sign_up().client_id(&client_id).username("mallory").password(PASSWORD).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");

    let created = idp
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("bob")
        .user_attributes(AttributeType::builder().name("email").value("bob@example.com").build().unwrap())
        .user_attributes(AttributeType::builder().name("email_verified").value("true").build().unwrap())
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(created.user_status, Some(UserStatusType::ForceChangePassword));
    let e = idp.admin_create_user().user_pool_id(&pool_id).username("bob").send().await.unwrap_err();
    assert_eq!(common::code(&e), "UsernameExistsException");

    let invitation = common::mailbox(emu.url(), "bob@example.com").await;
    let body = invitation[0]["body"].as_str().unwrap();
    let temp = body.split("temporary password is ").nth(1).unwrap().trim_end_matches('.').to_string();

    let challenge = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "bob")
        .auth_parameters("PASSWORD", &temp)
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.challenge_name, Some(ChallengeNameType::NewPasswordRequired));
    assert!(challenge.authentication_result.is_none());
    let session = challenge.session.unwrap();

    let e = idp
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session("not-a-session")
        .challenge_responses("USERNAME", "bob")
        .challenge_responses("NEW_PASSWORD", "Brand-New-Pass-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    let done = idp
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(session)
        .challenge_responses("USERNAME", "bob")
        .challenge_responses("NEW_PASSWORD", "Brand-New-Pass-1")
        .send()
        .await
        .unwrap();
    let access = done.authentication_result.unwrap().access_token.unwrap();
    assert_eq!(idp.get_user().access_token(access).send().await.unwrap().username, "bob");
    let got = idp.admin_get_user().user_pool_id(&pool_id).username("bob").send().await.unwrap();
    assert_eq!(got.user_status, Some(UserStatusType::Confirmed));

    // Admin password auth works with the new password; the temporary one is gone.
    let admin = idp
        .admin_initiate_auth()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "bob")
        .auth_parameters("PASSWORD", "Brand-New-Pass-1")
        .send()
        .await
        .unwrap();
    assert!(admin.authentication_result.unwrap().id_token.is_some());
    assert_eq!(common::code(&login_err(&idp, &client_id, "bob", &temp).await), "NotAuthorizedException");

    // Suppressed invitations send nothing; temporary passwords expire.
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("carol")
        .temporary_password("Temp-Pass-123")
        .message_action(MessageActionType::Suppress)
        .user_attributes(AttributeType::builder().name("email").value("carol@example.com").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(common::mailbox(emu.url(), "carol@example.com").await.is_empty());
    common::advance_clock(emu.url(), "8days").await;
    let e = login_err(&idp, &client_id, "carol", "Temp-Pass-123").await;
    assert_eq!(common::code(&e), "NotAuthorizedException");
}

#[tokio::test]
async fn admin_user_management_and_list_users_filters() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    for (name, email) in [("ann", "ann@example.com"), ("andy", "andy@example.org"), ("zed", "zed@example.com")] {
        idp.admin_create_user()
            .user_pool_id(&pool_id)
            .username(name)
            .message_action(MessageActionType::Suppress)
            .user_attributes(AttributeType::builder().name("email").value(email).build().unwrap())
            .send()
            .await
            .unwrap();
        idp.admin_set_user_password()
            .user_pool_id(&pool_id)
            .username(name)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
    }
    let found = idp.list_users().user_pool_id(&pool_id).filter("email = \"zed@example.com\"").send().await.unwrap();
    assert_eq!(found.users().iter().map(|u| u.username().unwrap()).collect::<Vec<_>>(), vec!["zed"]);
    let prefixed = idp.list_users().user_pool_id(&pool_id).filter("username ^= \"an\"").send().await.unwrap();
    assert_eq!(prefixed.users().len(), 2);
    let page = idp.list_users().user_pool_id(&pool_id).limit(2).send().await.unwrap();
    assert_eq!(page.users().len(), 2);
    let rest =
        idp.list_users().user_pool_id(&pool_id).pagination_token(page.pagination_token.unwrap()).send().await.unwrap();
    assert_eq!(rest.users().len(), 1);
    let e = idp.list_users().user_pool_id(&pool_id).filter("email = zed").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameterException");

    idp.admin_update_user_attributes()
        .user_pool_id(&pool_id)
        .username("ann")
        .user_attributes(AttributeType::builder().name("name").value("Ann Example").build().unwrap())
        .send()
        .await
        .unwrap();
    let ann = idp.admin_get_user().user_pool_id(&pool_id).username("ann").send().await.unwrap();
    assert!(ann.user_attributes().iter().any(|a| a.name() == "name" && a.value() == Some("Ann Example")));

    idp.admin_disable_user().user_pool_id(&pool_id).username("ann").send().await.unwrap();
    let e = login_err(&idp, &client_id, "ann", PASSWORD).await;
    assert_eq!(common::code(&e), "NotAuthorizedException");
    idp.admin_enable_user().user_pool_id(&pool_id).username("ann").send().await.unwrap();
    login(&idp, &client_id, "ann", PASSWORD).await;

    idp.admin_delete_user().user_pool_id(&pool_id).username("ann").send().await.unwrap();
    let e = idp.admin_get_user().user_pool_id(&pool_id).username("ann").send().await.unwrap_err();
    assert_eq!(common::code(&e), "UserNotFoundException");
}

#[tokio::test]
async fn email_as_username_pool_and_hidden_user_existence() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = idp
        .create_user_pool()
        .pool_name("by-email")
        .username_attributes(UsernameAttributeType::Email)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client_id = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    let e = idp.sign_up().client_id(&client_id).username("not-an-email").password(PASSWORD).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameterException");
    let out = idp.sign_up().client_id(&client_id).username("dana@example.com").password(PASSWORD).send().await.unwrap();
    let code = code_for(emu.url(), "dana@example.com").await;
    idp.confirm_sign_up()
        .client_id(&client_id)
        .username("dana@example.com")
        .confirmation_code(code)
        .send()
        .await
        .unwrap();
    let tokens = login(&idp, &client_id, "dana@example.com", PASSWORD).await;
    let me = idp.get_user().access_token(tokens.access_token.unwrap()).send().await.unwrap();
    assert_eq!(me.username, out.user_sub, "with email as username, the username is the sub");
    let e = login_err(&idp, &client_id, "nobody@example.com", PASSWORD).await;
    assert_eq!(common::code(&e), "NotAuthorizedException", "existence is hidden");
    let fake = idp.forgot_password().client_id(&client_id).username("nobody@example.com").send().await.unwrap();
    assert!(fake.code_delivery_details.is_some());
    let fake =
        idp.resend_confirmation_code().client_id(&client_id).username("nobody@example.com").send().await.unwrap();
    assert!(fake.code_delivery_details.is_some());
    assert!(common::mailbox(emu.url(), "nobody@example.com").await.is_empty(), "nothing is really sent");
}

#[tokio::test]
async fn clients_with_a_secret_require_the_secret_hash() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let c = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("server")
        .generate_secret(true)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let (client_id, secret) = (c.client_id.unwrap(), c.client_secret.unwrap());
    let hash = |user: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{user}{client_id}").as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    };
    let e = idp.sign_up().client_id(&client_id).username("erin").password(PASSWORD).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    let e = idp
        .sign_up()
        .client_id(&client_id)
        .username("erin")
        .password(PASSWORD)
        .secret_hash("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    idp.sign_up()
        .client_id(&client_id)
        .username("erin")
        .password(PASSWORD)
        .secret_hash(hash("erin"))
        .user_attributes(AttributeType::builder().name("email").value("erin@example.com").build().unwrap())
        .send()
        .await
        .unwrap();
    idp.admin_confirm_sign_up().user_pool_id(&pool_id).username("erin").send().await.unwrap();
    let ok = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "erin")
        .auth_parameters("PASSWORD", PASSWORD)
        .auth_parameters("SECRET_HASH", hash("erin"))
        .send()
        .await
        .unwrap();
    let refresh = ok.authentication_result.unwrap().refresh_token.unwrap();
    // RevokeToken needs the client secret too; afterwards the refresh token is dead.
    let e = idp.revoke_token().client_id(&client_id).token(&refresh).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    idp.revoke_token().client_id(&client_id).client_secret(&secret).token(&refresh).send().await.unwrap();
    let e = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh)
        .auth_parameters("SECRET_HASH", hash("erin"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
}

/// Fetches the pool's JWKS over plain HTTP, as any verifier would.
async fn jwks(url: &str, pool_id: &str) -> JwkSet {
    common::http().get(format!("{url}/{pool_id}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap()
}

fn verify(
    token: &str,
    set: &JwkSet,
    issuer: &str,
    audience: Option<&str>,
) -> Result<serde_json::Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let jwk =
        set.find(header.kid.as_deref().unwrap_or_default()).ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    match audience {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    Ok(jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)?.claims)
}

#[tokio::test]
async fn tokens_verify_with_only_the_published_jwks_and_forgeries_do_not() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(emu.url(), &idp, &client_id, "frank", "frank@example.com").await;
    let t = login(&idp, &client_id, "frank", PASSWORD).await;
    let (id_token, access) = (t.id_token.unwrap(), t.access_token.unwrap());

    let oidc: serde_json::Value = common::http()
        .get(format!("{}/{pool_id}/.well-known/openid-configuration", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = format!("{}/{pool_id}", emu.url());
    assert_eq!(oidc["issuer"], issuer);
    let set = jwks(emu.url(), &pool_id).await;
    assert_eq!(set.keys.len(), 1);

    let id = verify(&id_token, &set, &issuer, Some(&client_id)).unwrap();
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["cognito:username"], "frank");
    assert_eq!(id["email"], "frank@example.com");
    assert_eq!(id["email_verified"], true);
    for claim in ["sub", "origin_jti", "event_id", "auth_time", "exp", "iat", "jti"] {
        assert!(id.get(claim).is_some(), "id token lacks {claim}: {id}");
    }
    let acc = verify(&access, &set, &issuer, None).unwrap();
    assert_eq!(acc["token_use"], "access");
    assert_eq!(acc["client_id"], client_id);
    assert_eq!(acc["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(acc["username"], "frank");
    assert_eq!(acc["sub"], id["sub"]);
    assert_eq!(acc["origin_jti"], id["origin_jti"]);
    assert_eq!(acc["exp"].as_i64().unwrap() - acc["iat"].as_i64().unwrap(), 3600);
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!((header.alg, header.typ), (Algorithm::RS256, None));

    // Tampered payload, wrong audience, wrong issuer, alg "none": all rejected.
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut claims = id.clone();
    claims["cognito:username"] = "mallory".into();
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(verify(&tampered, &set, &issuer, Some(&client_id)).is_err());
    assert!(verify(&id_token, &set, &issuer, Some("another-client")).is_err());
    assert!(verify(&id_token, &set, "https://cognito-idp.us-east-1.amazonaws.com/other", Some(&client_id)).is_err());
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    assert!(verify(&alg_none, &set, &issuer, Some(&client_id)).is_err());
    // The emulator itself rejects the tampered token too.
    let forged_access = {
        let p: Vec<&str> = access.split('.').collect();
        let mut c = acc.clone();
        c["username"] = "mallory".into();
        format!("{}.{}.{}", p[0], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string()), p[2])
    };
    let e = idp.get_user().access_token(forged_access).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");

    // An hour later on the emulator clock, the access token has expired for the emulator.
    common::advance_clock(emu.url(), "61m").await;
    let e = idp.get_user().access_token(&access).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
}

#[tokio::test]
async fn expired_tokens_fail_standard_verification() {
    // A clock frozen in the past issues tokens whose `exp` a real-time verifier sees as expired.
    let past: chrono::DateTime<chrono::Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().clock(past).start().await.unwrap();
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(emu.url(), &idp, &client_id, "gina", "gina@example.com").await;
    let t = login(&idp, &client_id, "gina", PASSWORD).await;
    let set = jwks(emu.url(), &pool_id).await;
    let err = verify(&t.id_token.unwrap(), &set, &format!("{}/{pool_id}", emu.url()), Some(&client_id)).unwrap_err();
    assert_eq!(err.kind(), &jsonwebtoken::errors::ErrorKind::ExpiredSignature);
}

#[tokio::test]
async fn pools_users_and_keys_survive_restart_and_seeded_runs_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    // AWS-style issuers do not depend on the emulator's port, so tokens outlive a restart.
    let emu = common::builder().state_dir(dir.path()).clock(t0).cognito_aws_issuer(true).start().await.unwrap();
    let url = emu.url().to_string();
    let idp = cognito(&url);
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(&url, &idp, &client_id, "hank", "hank@example.com").await;
    let before = login(&idp, &client_id, "hank", PASSWORD).await;
    let keys_before = jwks(&url, &pool_id).await;
    let iss = format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}");
    let id = verify(before.id_token.as_deref().unwrap(), &keys_before, &iss, Some(&client_id));
    assert!(id.is_err(), "a 2026-01-01 token is expired for a real-time verifier");
    let oidc: serde_json::Value = common::http()
        .get(format!("{url}/{pool_id}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], iss);
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).clock(t0).cognito_aws_issuer(true).start().await.unwrap();
    let idp = cognito(emu.url());
    let keys_after = jwks(emu.url(), &pool_id).await;
    assert_eq!(keys_before.keys[0].common.key_id, keys_after.keys[0].common.key_id);
    let after = login(&idp, &client_id, "hank", PASSWORD).await;
    assert!(after.access_token.is_some());
    let me = idp.get_user().access_token(before.access_token.unwrap()).send().await.unwrap();
    assert_eq!(me.username, "hank", "a token issued before the restart is still valid");

    // Same seed and clock: same pool id, same keys, same tokens (the AWS-style issuer keeps the
    // port out of the tokens).
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emu = common::builder().seed(9).clock(t0).cognito_aws_issuer(true).start().await.unwrap();
        let idp = cognito(emu.url());
        let pool_id = pool(&idp, false).await;
        let client_id = client(&idp, &pool_id).await;
        signed_up(emu.url(), &idp, &client_id, "ola", "ola@example.com").await;
        let t = login(&idp, &client_id, "ola", PASSWORD).await;
        let set = jwks(emu.url(), &pool_id).await;
        runs.push((pool_id, serde_json::to_string(&set).unwrap(), t.id_token.unwrap(), t.access_token.unwrap()));
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn bad_input_gets_cognito_errors() {
    let emu = common::start().await;
    let post = |target: &'static str, body: &'static str| {
        common::http()
            .post(emu.url())
            .header("X-Amz-Target", format!("AWSCognitoIdentityProviderService.{target}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body)
            .send()
    };
    for (target, body, code) in [
        ("CreateUserPool", "{}", "InvalidParameterException"),
        ("CreateUserPool", "{not json", "SerializationException"),
        ("SignUp", r#"{"ClientId": "nope", "Username": "u", "Password": "p"}"#, "ResourceNotFoundException"),
        ("InitiateAuth", r#"{"ClientId": 7, "AuthFlow": "USER_PASSWORD_AUTH"}"#, "SerializationException"),
        ("GetUser", r#"{"AccessToken": "not-a-jwt"}"#, "NotAuthorizedException"),
        ("NoSuchOperation", "{}", "UnknownOperationException"),
    ] {
        let resp = post(target, body).await.unwrap();
        assert_eq!(resp.status(), 400, "{target} {body}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["__type"], code, "{target} {body}: {v}");
    }
    let resp =
        common::http().get(format!("{}/us-east-1_missing00/.well-known/jwks.json", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = post("DescribeUserPool", r#"{"UserPoolId": "us-east-1_missing00"}"#).await.unwrap();
    insta::assert_snapshot!("cognito_pool_not_found", resp.text().await.unwrap());
}

/// Runs USER_SRP_AUTH with the independent client; returns the challenge response outcome.
async fn srp_login(
    idp: &Client,
    pool_id: &str,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String>
{
    let client = testkit::srp::Client::new(&[0x5a; 32]);
    let start = idp
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", client.a_hex())
        .send()
        .await
        .map_err(|e| common::code(&e))?;
    assert_eq!(start.challenge_name, Some(ChallengeNameType::PasswordVerifier));
    let p = start.challenge_parameters.unwrap();
    let user_id = p["USER_ID_FOR_SRP"].clone();
    let block = p["SECRET_BLOCK"].clone();
    let ts = "Tue Nov 24 01:20:00 UTC 2026";
    let pool_name = pool_id.split_once('_').unwrap().1;
    let sig = client.signature(
        pool_name,
        &user_id,
        password,
        (&p["SALT"], &p["SRP_B"], &STANDARD.decode(&block).unwrap()),
        ts,
    );
    idp.respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", &user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &block)
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", STANDARD.encode(sig))
        .challenge_responses("TIMESTAMP", ts)
        .send()
        .await
        .map_err(|e| common::code(&e))
}

#[tokio::test]
async fn user_srp_auth_is_the_real_srp_exchange() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    // Default flows: SRP and refresh.
    let client_id = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("amplify")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    signed_up(emu.url(), &idp, &client_id, "ivy", "ivy@example.com").await;

    let ok = srp_login(&idp, &pool_id, &client_id, "ivy", PASSWORD).await.unwrap();
    let access = ok.authentication_result.unwrap().access_token.unwrap();
    assert_eq!(idp.get_user().access_token(access).send().await.unwrap().username, "ivy");
    // Wrong password: the signatures differ.
    assert_eq!(
        srp_login(&idp, &pool_id, &client_id, "ivy", "Wrong-Horse-9").await.unwrap_err(),
        "NotAuthorizedException"
    );
    // Password flow is not enabled on this client.
    assert_eq!(common::code(&login_err(&idp, &client_id, "ivy", PASSWORD).await), "InvalidParameterException");
    // A user who must change a temporary password gets NEW_PASSWORD_REQUIRED after SRP too.
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("jay")
        .temporary_password("Temp-Pass-123")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let out = srp_login(&idp, &pool_id, &client_id, "jay", "Temp-Pass-123").await.unwrap();
    assert_eq!(out.challenge_name, Some(ChallengeNameType::NewPasswordRequired));
    // A secret block answers once.
    let e = idp
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", "ivy")
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", STANDARD.encode(b"made up"))
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", STANDARD.encode(b"x"))
        .challenge_responses("TIMESTAMP", "Tue Nov 24 01:20:00 UTC 2026")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
}

/// The same exchange driven by pycognito's AWSSRP, a widely used client implementation in
/// another language. Skipped with a message where Python or pycognito is missing.
#[tokio::test]
async fn pycognito_authenticates_with_srp() {
    let probe = std::process::Command::new("python3").args(["-c", "import pycognito, boto3"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: python3 with pycognito and boto3 not available (pip install pycognito)");
        return;
    }
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("py")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    signed_up(emu.url(), &idp, &client_id, "kim", "kim@example.com").await;
    let script = r#"
import sys, boto3
from pycognito.aws_srp import AWSSRP
url, pool, client, user, password = sys.argv[1:6]
idp = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
try:
    tokens = AWSSRP(username=user, password=password, pool_id=pool, client_id=client, client=idp).authenticate_user()
    print(tokens["AuthenticationResult"]["AccessToken"])
except Exception as e:
    print("ERROR", type(e).__name__, e)
"#;
    let run = async |password: &str| {
        let out = tokio::process::Command::new("python3")
            .args(["-c", script, emu.url(), &pool_id, &client_id, "kim", password])
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let good = run(PASSWORD).await;
    let bad = run("Wrong-Horse-9").await;
    assert!(!good.starts_with("ERROR"), "{good}");
    let me = idp.get_user().access_token(good.lines().next().unwrap()).send().await.unwrap();
    assert_eq!(me.username, "kim");
    assert!(bad.starts_with("ERROR") && bad.contains("NotAuthorized"), "{bad}");
}

#[tokio::test]
async fn passwords_change_and_reset_with_expiring_codes() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(emu.url(), &idp, &client_id, "lee", "lee@example.com").await;
    let access = login(&idp, &client_id, "lee", PASSWORD).await.access_token.unwrap();

    let e = idp
        .change_password()
        .access_token(&access)
        .previous_password("nope")
        .proposed_password("Next-Pass-42")
        .send()
        .await;
    assert_eq!(common::code(&e.unwrap_err()), "NotAuthorizedException");
    let e =
        idp.change_password().access_token(&access).previous_password(PASSWORD).proposed_password("weak").send().await;
    assert_eq!(common::code(&e.unwrap_err()), "InvalidPasswordException");
    idp.change_password()
        .access_token(&access)
        .previous_password(PASSWORD)
        .proposed_password("Next-Pass-42")
        .send()
        .await
        .unwrap();
    login(&idp, &client_id, "lee", "Next-Pass-42").await;

    let sent = idp.forgot_password().client_id(&client_id).username("lee").send().await.unwrap();
    assert_eq!(sent.code_delivery_details.unwrap().destination.as_deref(), Some("l***@e***"));
    let code = code_for(emu.url(), "lee@example.com").await;
    let e = idp
        .confirm_forgot_password()
        .client_id(&client_id)
        .username("lee")
        .confirmation_code("000000")
        .password("Reset-Pass-77")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "CodeMismatchException");
    idp.confirm_forgot_password()
        .client_id(&client_id)
        .username("lee")
        .confirmation_code(&code)
        .password("Reset-Pass-77")
        .send()
        .await
        .unwrap();
    login(&idp, &client_id, "lee", "Reset-Pass-77").await;
    // A code works once.
    let e = idp
        .confirm_forgot_password()
        .client_id(&client_id)
        .username("lee")
        .confirmation_code(&code)
        .password("Reset-Pass-78")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ExpiredCodeException");

    // Codes expire after a day on the emulator clock.
    idp.forgot_password().client_id(&client_id).username("lee").send().await.unwrap();
    let code = code_for(emu.url(), "lee@example.com").await;
    common::advance_clock(emu.url(), "25h").await;
    let e = idp
        .confirm_forgot_password()
        .client_id(&client_id)
        .username("lee")
        .confirmation_code(code)
        .password("Reset-Pass-79")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ExpiredCodeException");
}

#[tokio::test]
async fn rotated_keys_stay_published_until_old_tokens_expire() {
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(emu.url(), &idp, &client_id, "max", "max@example.com").await;
    let issuer = format!("{}/{pool_id}", emu.url());
    let old = login(&idp, &client_id, "max", PASSWORD).await.id_token.unwrap();
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();

    let resp =
        common::http().post(format!("{}/_emulator/cognito/{pool_id}/rotate-key", emu.url())).send().await.unwrap();
    assert!(resp.status().is_success());
    let new_kid = resp.json::<serde_json::Value>().await.unwrap()["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);

    let new = login(&idp, &client_id, "max", PASSWORD).await.id_token.unwrap();
    assert_eq!(jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(), new_kid);
    let set = jwks(emu.url(), &pool_id).await;
    assert_eq!(set.keys.len(), 2);
    verify(&old, &set, &issuer, Some(&client_id)).unwrap();
    verify(&new, &set, &issuer, Some(&client_id)).unwrap();

    common::advance_clock(emu.url(), "25h").await;
    let set = jwks(emu.url(), &pool_id).await;
    assert_eq!(set.keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect::<Vec<_>>(), vec![new_kid]);
    let missing = common::http()
        .post(format!("{}/_emulator/cognito/us-east-1_missing00/rotate-key", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Test invoker: records every event and answers as the chat's functions would.
#[derive(Default)]
struct Functions {
    calls: std::sync::Mutex<Vec<(String, serde_json::Value)>>,
}

impl emulator::invoke::LambdaInvoker for Functions {
    fn invoke<'a>(&'a self, function: &'a str, mut event: serde_json::Value) -> emulator::invoke::InvokeFuture<'a> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((function.to_string(), event.clone()));
            let email = event["request"]["userAttributes"]["email"].as_str().unwrap_or_default().to_string();
            let fail = |message: &str| {
                Err(emulator::invoke::InvokeError::Function { error_type: "Error".into(), message: message.into() })
            };
            match function.rsplit(':').next().unwrap() {
                "pre-sign-up" if email.ends_with("@blocked.test") => fail("domain not allowed"),
                "pre-sign-up" if email.ends_with("@trusted.test") => {
                    event["response"]["autoConfirmUser"] = true.into();
                    event["response"]["autoVerifyEmail"] = true.into();
                    Ok(event)
                }
                "post-confirmation" if email.starts_with("flaky") => fail("table unavailable"),
                "pre-token" => {
                    event["response"]["claimsOverrideDetails"] = serde_json::json!({
                        "claimsToAddOrOverride": {"role": "member"},
                        "claimsToSuppress": ["email"],
                    });
                    Ok(event)
                }
                _ => Ok(event),
            }
        })
    }
}

#[tokio::test]
async fn triggers_receive_aws_events_and_shape_the_flow() {
    let functions = std::sync::Arc::new(Functions::default());
    let emu = common::builder().lambda_invoker(functions.clone()).start().await.unwrap();
    let idp = cognito(emu.url());
    let arn = |name: &str| format!("arn:aws:lambda:us-east-1:000000000000:function:{name}");
    let pool_id = idp
        .create_user_pool()
        .pool_name("triggered")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .lambda_config(
            aws_sdk_cognitoidentityprovider::types::LambdaConfigType::builder()
                .pre_sign_up(arn("pre-sign-up"))
                .post_confirmation(arn("post-confirmation"))
                .pre_token_generation(arn("pre-token"))
                .post_authentication(arn("post-auth"))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client_id = client(&idp, &pool_id).await;
    let sign_up = |name: &'static str, email: &'static str| {
        idp.sign_up()
            .client_id(&client_id)
            .username(name)
            .password(PASSWORD)
            .user_attributes(AttributeType::builder().name("email").value(email).build().unwrap())
            .send()
    };

    let e = sign_up("bad", "bad@blocked.test").await.unwrap_err();
    assert_eq!(common::code(&e), "UserLambdaValidationException");
    assert!(format!("{e:?}").contains("PreSignUp failed with error domain not allowed."), "{e:?}");
    let e = idp.admin_get_user().user_pool_id(&pool_id).username("bad").send().await.unwrap_err();
    assert_eq!(common::code(&e), "UserNotFoundException", "a rejected sign-up creates no user");

    let trusted = sign_up("tess", "tess@trusted.test").await.unwrap();
    assert!(trusted.user_confirmed && trusted.code_delivery_details.is_none());

    sign_up("nora", "nora@example.com").await.unwrap();
    let code = code_for(emu.url(), "nora@example.com").await;
    idp.confirm_sign_up().client_id(&client_id).username("nora").confirmation_code(code).send().await.unwrap();
    let tokens = login(&idp, &client_id, "nora", PASSWORD).await;
    idp.initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", tokens.refresh_token.unwrap())
        .send()
        .await
        .unwrap();

    let calls = functions.calls.lock().unwrap().clone();
    let sources: Vec<(&str, &str)> =
        calls.iter().map(|(f, e)| (f.rsplit(':').next().unwrap(), e["triggerSource"].as_str().unwrap())).collect();
    assert_eq!(
        sources,
        vec![
            ("pre-sign-up", "PreSignUp_SignUp"),
            ("pre-sign-up", "PreSignUp_SignUp"),
            ("pre-sign-up", "PreSignUp_SignUp"),
            ("post-confirmation", "PostConfirmation_ConfirmSignUp"),
            ("post-auth", "PostAuthentication_Authentication"),
            ("pre-token", "TokenGeneration_Authentication"),
            ("pre-token", "TokenGeneration_RefreshTokens"),
        ]
    );
    let (_, confirmation) = &calls[3];
    assert_eq!(confirmation["version"], "1");
    assert_eq!(confirmation["region"], "us-east-1");
    assert_eq!(confirmation["userPoolId"], pool_id.as_str());
    assert_eq!(confirmation["userName"], "nora");
    assert_eq!(confirmation["callerContext"]["clientId"], client_id.as_str());
    assert!(confirmation["callerContext"]["awsSdkVersion"].is_string());
    assert_eq!(confirmation["request"]["userAttributes"]["email"], "nora@example.com");
    assert_eq!(confirmation["request"]["userAttributes"]["email_verified"], "true");

    // PreTokenGeneration added a claim and suppressed another in the ID token.
    let set = jwks(emu.url(), &pool_id).await;
    let id = verify(tokens.id_token.as_deref().unwrap(), &set, &format!("{}/{pool_id}", emu.url()), Some(&client_id))
        .unwrap();
    assert_eq!(id["role"], "member");
    assert!(id.get("email").is_none(), "{id}");

    // A failing PostConfirmation fails the call; the user is confirmed regardless, as on AWS.
    sign_up("flaky", "flaky@example.com").await.unwrap();
    let code = code_for(emu.url(), "flaky@example.com").await;
    let e =
        idp.confirm_sign_up().client_id(&client_id).username("flaky").confirmation_code(code).send().await.unwrap_err();
    assert_eq!(common::code(&e), "UserLambdaValidationException");
    let flaky = idp.admin_get_user().user_pool_id(&pool_id).username("flaky").send().await.unwrap();
    assert_eq!(flaky.user_status, Some(UserStatusType::Confirmed));
}

#[tokio::test]
async fn token_lifetimes_follow_the_client_settings() {
    use aws_sdk_cognitoidentityprovider::types::{TimeUnitsType, TokenValidityUnitsType};
    let emu = common::start().await;
    let idp = cognito(emu.url());
    let pool_id = pool(&idp, false).await;
    let client_id = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("short")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .access_token_validity(5)
        .id_token_validity(10)
        .refresh_token_validity(2)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .id_token(TimeUnitsType::Minutes)
                .refresh_token(TimeUnitsType::Hours)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    signed_up(emu.url(), &idp, &client_id, "pat", "pat@example.com").await;
    let t = login(&idp, &client_id, "pat", PASSWORD).await;
    assert_eq!(t.expires_in, 300);
    let set = jwks(emu.url(), &pool_id).await;
    let id =
        verify(t.id_token.as_deref().unwrap(), &set, &format!("{}/{pool_id}", emu.url()), Some(&client_id)).unwrap();
    assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 600);
    common::advance_clock(emu.url(), "6m").await;
    let e = idp.get_user().access_token(t.access_token.unwrap()).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    // The refresh token lives two hours.
    let refresh = t.refresh_token.unwrap();
    let renewed = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap();
    idp.get_user().access_token(renewed.authentication_result.unwrap().access_token.unwrap()).send().await.unwrap();
    common::advance_clock(emu.url(), "2h").await;
    let e = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
}

#[tokio::test]
async fn user_pool_clients_are_listed_a_page_at_a_time() {
    let emu = common::start().await;
    let idp = Client::new(&common::sdk_config(emu.url()));
    let pool_id = pool(&idp, false).await;
    let other = pool(&idp, false).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(client(&idp, &pool_id).await);
    }
    client(&idp, &other).await;
    made.sort();

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = idp
            .list_user_pool_clients()
            .user_pool_id(&pool_id)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.user_pool_clients().len() <= 2);
        for c in page.user_pool_clients() {
            assert_eq!((c.client_name(), c.user_pool_id()), (Some("web"), Some(pool_id.as_str())));
            seen.push(c.client_id().unwrap().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, made, "every client of this pool once, none of the other pool's");

    let e = idp.list_user_pool_clients().user_pool_id(&pool_id).max_results(61).send().await.unwrap_err();
    assert_eq!(e.as_service_error().and_then(|e| e.meta().code()), Some("InvalidParameterException"));
    let e = idp.list_user_pool_clients().user_pool_id("us-east-1_missing").send().await.unwrap_err();
    assert!(e.as_service_error().unwrap().is_resource_not_found_exception(), "{e:?}");
}
