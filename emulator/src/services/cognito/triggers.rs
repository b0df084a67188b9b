//! User pool triggers: PreSignUp, PostConfirmation, PreTokenGeneration, PostAuthentication.
//!
//! Events are `aws_lambda_events`' Cognito types, so the JSON a function receives is AWS's. A
//! pool's `LambdaConfig` names the function; [`Emu::lambda`](crate::state::Emu::lambda) runs
//! it. A function error fails the flow with `UserLambdaValidationException`, as on AWS. Until an
//! invoker is installed, configured triggers are skipped with a warning.

use std::collections::HashMap;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsCallerContext, CognitoEventUserPoolsHeader, CognitoEventUserPoolsPostAuthentication,
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsPreTokenGen,
};
use serde::Serialize;
use serde_json::Value;

pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmationTriggerSource as PostConfirmationSource;
pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreSignupTriggerSource as PreSignUpSource;
pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreTokenGenTriggerSource as TokenSource;

use super::{Pool, User, err};
use crate::error::Result;
use crate::invoke::InvokeError;
use crate::state::Ctx;

fn header<T: Default>(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: &User,
    source: T,
) -> CognitoEventUserPoolsHeader<T> {
    let mut caller = CognitoEventUserPoolsCallerContext::default();
    caller.awssdk_version = Some("aws-sdk-unknown-unknown".into());
    caller.client_id = Some(client_id.to_string());
    let mut h = CognitoEventUserPoolsHeader::default();
    h.version = Some("1".into());
    h.trigger_source = Some(source);
    h.region = Some(ctx.config().region.clone());
    h.user_pool_id = Some(pool.id.clone());
    h.caller_context = caller;
    h.user_name = Some(user.username.clone());
    h
}

fn attributes(user: &User) -> HashMap<String, String> {
    user.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Invokes the pool's `trigger` function with `event`; returns the `response` member of what it
/// returned, or `None` when no function is configured. Responses are read leniently (functions
/// commonly return only the members they set), events are sent exactly typed.
async fn run<E: Serialize>(ctx: &Ctx, pool: &Pool, trigger: &str, event: &E) -> Result<Option<Value>> {
    let Some(function) = pool.config["LambdaConfig"][trigger].as_str() else { return Ok(None) };
    let Some(invoker) = ctx.emu.lambda.as_ref() else {
        tracing::warn!(pool = %pool.id, trigger, function, "trigger configured but no Lambda runtime is available; skipped");
        return Ok(None);
    };
    let payload = serde_json::to_value(event).map_err(|e| crate::error::AwsError::internal(e.to_string()))?;
    match invoker.invoke(function, payload).await {
        Ok(Value::Object(mut out)) => Ok(Some(out.remove("response").unwrap_or(Value::Null))),
        Ok(_) => Err(err("InvalidLambdaResponseException", format!("Invalid {trigger} response"))),
        Err(InvokeError::Function { message, .. }) => {
            Err(err("UserLambdaValidationException", format!("{trigger} failed with error {message}.")))
        }
        Err(InvokeError::Unavailable(why)) => {
            Err(err("UnexpectedLambdaException", format!("{trigger} invocation failed: {why}")))
        }
    }
}

/// What PreSignUp decided.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignUpDecision {
    pub auto_confirm: bool,
    pub auto_verify_email: bool,
    pub auto_verify_phone: bool,
}

pub async fn pre_sign_up(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: &User,
    source: PreSignUpSource,
    validation_data: HashMap<String, String>,
) -> Result<SignUpDecision> {
    let mut event = CognitoEventUserPoolsPreSignup::default();
    event.cognito_event_user_pools_header = header(ctx, pool, client_id, user, source);
    event.request.user_attributes = attributes(user);
    event.request.validation_data = validation_data;
    let response = run(ctx, pool, "PreSignUp", &event).await?.unwrap_or(Value::Null);
    let flag = |name: &str| response[name].as_bool().unwrap_or(false);
    Ok(SignUpDecision {
        auto_confirm: flag("autoConfirmUser"),
        auto_verify_email: flag("autoVerifyEmail"),
        auto_verify_phone: flag("autoVerifyPhone"),
    })
}

pub async fn post_confirmation(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: &User,
    source: PostConfirmationSource,
) -> Result<()> {
    let mut event: CognitoEventUserPoolsPostConfirmation = CognitoEventUserPoolsPostConfirmation::default();
    event.cognito_event_user_pools_header = header(ctx, pool, client_id, user, source);
    event.request.user_attributes = attributes(user);
    run(ctx, pool, "PostConfirmation", &event).await.map(|_| ())
}

pub async fn post_authentication(ctx: &Ctx, pool: &Pool, client_id: &str, user: &User) -> Result<()> {
    let mut event = CognitoEventUserPoolsPostAuthentication::default();
    event.cognito_event_user_pools_header = header(ctx, pool, client_id, user, Default::default());
    event.request.user_attributes = attributes(user);
    run(ctx, pool, "PostAuthentication", &event).await.map(|_| ())
}

/// Claims PreTokenGeneration asked to add or override, and to suppress, in the ID token.
#[derive(Debug, Default, Clone)]
pub struct ClaimOverrides {
    pub add_or_override: Vec<(String, Value)>,
    pub suppress: Vec<String>,
}

pub async fn pre_token_generation(
    ctx: &Ctx,
    pool: &Pool,
    client_id: &str,
    user: &User,
    source: TokenSource,
) -> Result<Option<ClaimOverrides>> {
    let mut event = CognitoEventUserPoolsPreTokenGen::default();
    event.cognito_event_user_pools_header = header(ctx, pool, client_id, user, source);
    event.request.user_attributes = attributes(user);
    let Some(response) = run(ctx, pool, "PreTokenGeneration", &event).await? else { return Ok(None) };
    let details = &response["claimsOverrideDetails"];
    let add_or_override = match &details["claimsToAddOrOverride"] {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    };
    let suppress = details["claimsToSuppress"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok(Some(ClaimOverrides { add_or_override, suppress }))
}
