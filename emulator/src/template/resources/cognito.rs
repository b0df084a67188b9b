//! Cognito: `AWS::Cognito::UserPool` → CreateUserPool, `AWS::Cognito::UserPoolClient` →
//! CreateUserPoolClient, and the `LambdaConfig` triggers of SAM functions' `Cognito` events.
//!
//! A pool's `Ref` is its id; `Fn::GetAtt` gives `Arn`, `ProviderName` and `ProviderURL`. The
//! provider URL is the issuer of the pool's tokens on this instance (the emulator's own URL +
//! `/{poolId}` unless AWS's issuer was asked for), so a JWT verifier configured with it works
//! locally. A client's `Ref` is its id; `Fn::GetAtt` gives `ClientSecret` and `Name`.
//!
//! Pools come before the functions that name them, so a function's `Cognito` event sets the
//! trigger once the function exists. Provisioned again, a pool's changed settings are written to
//! its stored configuration; a client cannot be changed (the service has no
//! UpdateUserPoolClient), which is reported.

use serde_json::{Map, Value, json};

use super::{Json, strings, text};
use crate::services::cognito;
use crate::template::provision::{Done, ProvisionError, Provisioner, Step};

/// Pool settings a pool cannot change once created.
const POOL_REPLACING: &[&str] = &["UsernameAttributes", "AliasAttributes"];

pub(super) async fn pool(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let name = p.name(step, "UserPoolName", step.previous_attr("Name"), 128, false);
    let mut input = match &step.props {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    input.remove("UserPoolName");
    input.insert("PoolName".into(), name.clone().into());

    if let Some(previous) = &step.previous {
        let id = previous.physical_id.clone();
        if p.call(Json::Cognito, "DescribeUserPool", &json!({"UserPoolId": id})).await.is_ok() {
            let changed = step.changed();
            let (replace, update): (Vec<String>, Vec<String>) =
                changed.into_iter().partition(|m| POOL_REPLACING.contains(&m.as_str()));
            p.needs_replacement(step, &replace);
            if !update.is_empty() {
                let mut config = Value::Object(input.clone());
                // The replacing settings stay as the pool was made.
                let old = previous.properties.clone();
                cognito::update_pool_config(&p.emu, &id, |stored| {
                    for member in POOL_REPLACING {
                        match old.get(*member) {
                            Some(v) => config[*member] = v.clone(),
                            None => {
                                config.as_object_mut().map(|c| c.remove(*member));
                            }
                        }
                    }
                    *stored = config;
                })
                .await
                .map_err(|e| step.aws("updating the pool's configuration", &e))?;
            }
            return Ok(pool_done(p, &id, &name, true));
        }
    }
    let out = p
        .call(Json::Cognito, "CreateUserPool", &Value::Object(input))
        .await
        .map_err(|e| step.aws("CreateUserPool", &e))?;
    let id = out["UserPool"]["Id"].as_str().unwrap_or_default().to_string();
    Ok(pool_done(p, &id, &name, false))
}

fn pool_done(p: &Provisioner<'_>, id: &str, name: &str, existing: bool) -> Done {
    let (region, account) = (&p.emu.config.region, &p.emu.config.account);
    let issuer = cognito::tokens::issuer(&p.emu, id);
    let provider_name = issuer.split_once("://").map_or(issuer.as_str(), |(_, rest)| rest).to_string();
    Done::new(id, existing)
        .attr("Arn", format!("arn:aws:cognito-idp:{region}:{account}:userpool/{id}"))
        .attr("ProviderName", provider_name)
        .attr("ProviderURL", issuer)
        .attr("UserPoolId", id)
        .attr("Name", name)
}

pub(super) async fn client(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let pool_id = text(&step.props["UserPoolId"]).unwrap_or_default();
    if let Some(previous) = &step.previous
        && previous.properties["UserPoolId"] == step.props["UserPoolId"]
    {
        let id = previous.physical_id.clone();
        let input = json!({"UserPoolId": pool_id, "ClientId": id});
        if let Ok(out) = p.call(Json::Cognito, "DescribeUserPoolClient", &input).await {
            let changed: Vec<String> = step.changed().into_iter().filter(|m| m != "ClientName").collect();
            p.not_applied(step, &changed);
            return Ok(client_done(&out["UserPoolClient"], true));
        }
    }
    let name = p.name(step, "ClientName", step.previous_attr("Name"), 128, false);
    let mut input = match &step.props {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    input.insert("ClientName".into(), name.into());
    let out = p
        .call(Json::Cognito, "CreateUserPoolClient", &Value::Object(input))
        .await
        .map_err(|e| step.aws("CreateUserPoolClient", &e))?;
    Ok(client_done(&out["UserPoolClient"], false))
}

fn client_done(client: &Value, existing: bool) -> Done {
    let id = client["ClientId"].as_str().unwrap_or_default();
    let mut done = Done::new(id, existing)
        .attr("ClientId", id)
        .attr("Name", client["ClientName"].clone())
        .attr("UserPoolId", client["UserPoolId"].clone());
    if let Some(secret) = client["ClientSecret"].as_str() {
        done = done.attr("ClientSecret", secret);
    }
    done
}

/// A SAM function's `Cognito` event: the function becomes the pool's trigger(s).
pub(super) async fn trigger_event(
    p: &mut Provisioner<'_>,
    function: &Step,
    event: &str,
    properties: &Value,
    function_arn: &str,
) -> Result<(), ProvisionError> {
    let pool_id = text(&properties["UserPool"]).unwrap_or_default();
    let triggers = strings(&properties["Trigger"]);
    if pool_id.is_empty() || triggers.is_empty() {
        return Err(function.error(&format!("event {event} (Cognito)"), "a Cognito event needs UserPool and Trigger"));
    }
    cognito::update_pool_config(&p.emu, &pool_id, |config| {
        if !config["LambdaConfig"].is_object() {
            config["LambdaConfig"] = json!({});
        }
        for trigger in &triggers {
            config["LambdaConfig"][trigger.as_str()] = function_arn.into();
        }
    })
    .await
    .map_err(|e| function.aws(&format!("event {event}: setting the pool's LambdaConfig"), &e))
}
