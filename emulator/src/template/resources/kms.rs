//! KMS: `AWS::KMS::Key` → CreateKey (then DisableKey when `Enabled: false`), and
//! `AWS::KMS::Alias` → CreateAlias.
//!
//! A key's `Ref` is its key id; `Fn::GetAtt` gives `Arn` and `KeyId`. A key is the resource
//! that must never be created twice (ciphertexts name their key), so a recorded key is always
//! reused: a changed `KeyPolicy` is put on it, `Enabled` followed, other changes reported.
//! An alias's `Ref` is its name; a changed target is moved with UpdateAlias.

use serde_json::{Value, json};

use super::{Json, boolean, text};
use crate::template::provision::{Done, ProvisionError, Provisioner, Step};

pub(super) async fn key(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    p.ignored(step, &["EnableKeyRotation", "RotationPeriodInDays"], "automatic key rotation is not emulated");
    let policy = text(&props["KeyPolicy"]);
    let enabled = boolean(&props["Enabled"]).unwrap_or(true);

    if let Some(previous) = &step.previous {
        let key_id = previous.physical_id.clone();
        if let Ok(described) = p.call(Json::Kms, "DescribeKey", &json!({"KeyId": key_id})).await {
            let changed = step.changed();
            if changed.iter().any(|m| m == "KeyPolicy")
                && let Some(policy) = &policy
            {
                let input = json!({"KeyId": key_id, "PolicyName": "default", "Policy": policy});
                p.call(Json::Kms, "PutKeyPolicy", &input).await.map_err(|e| step.aws("PutKeyPolicy", &e))?;
            }
            let is_enabled = described["KeyMetadata"]["Enabled"].as_bool().unwrap_or(true);
            set_enabled(p, step, &key_id, is_enabled, enabled).await?;
            const APPLIED: &[&str] =
                &["KeyPolicy", "Enabled", "EnableKeyRotation", "RotationPeriodInDays", "PendingWindowInDays"];
            const REPLACING: &[&str] = &["KeySpec", "KeyUsage", "MultiRegion", "Origin"];
            let (replace, other): (Vec<String>, Vec<String>) = changed
                .into_iter()
                .filter(|m| !APPLIED.contains(&m.as_str()))
                .partition(|m| REPLACING.contains(&m.as_str()));
            p.needs_replacement(step, &replace);
            p.not_applied(step, &other);
            let arn = described["KeyMetadata"]["Arn"].clone();
            return Ok(Done::new(&key_id, true).attr("Arn", arn).attr("KeyId", key_id.as_str()));
        }
    }

    let mut input = json!({});
    for member in ["Description", "KeyUsage", "KeySpec", "Origin"] {
        if let Some(v) = text(&props[member]) {
            input[member] = v.into();
        }
    }
    if let Some(policy) = &policy {
        input["Policy"] = policy.clone().into();
    }
    for member in ["MultiRegion", "BypassPolicyLockoutSafetyCheck"] {
        if let Some(b) = boolean(&props[member]) {
            input[member] = b.into();
        }
    }
    let tags: Vec<Value> = props["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!({"TagKey": text(&t["Key"]).unwrap_or_default(), "TagValue": text(&t["Value"]).unwrap_or_default()}))
        .collect();
    if !tags.is_empty() {
        input["Tags"] = tags.into();
    }
    let out = p.call(Json::Kms, "CreateKey", &input).await.map_err(|e| step.aws("CreateKey", &e))?;
    let key_id = out["KeyMetadata"]["KeyId"].as_str().unwrap_or_default().to_string();
    set_enabled(p, step, &key_id, true, enabled).await?;
    Ok(Done::new(&key_id, false).attr("Arn", out["KeyMetadata"]["Arn"].clone()).attr("KeyId", key_id.as_str()))
}

async fn set_enabled(
    p: &Provisioner<'_>,
    step: &Step,
    key_id: &str,
    is: bool,
    wanted: bool,
) -> Result<(), ProvisionError> {
    if is == wanted {
        return Ok(());
    }
    let op = if wanted { "EnableKey" } else { "DisableKey" };
    p.call(Json::Kms, op, &json!({"KeyId": key_id})).await.map_err(|e| step.aws(op, &e))?;
    Ok(())
}

pub(super) async fn alias(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let name = text(&step.props["AliasName"]).unwrap_or_default();
    let target = text(&step.props["TargetKeyId"]).unwrap_or_default();
    let input = json!({"AliasName": name, "TargetKeyId": target});
    let existing = match p.call(Json::Kms, "CreateAlias", &input).await {
        Ok(_) => false,
        // Made by an earlier run (or outside the stack): point it at the key.
        Err(e) if e.code == "AlreadyExistsException" => {
            p.call(Json::Kms, "UpdateAlias", &input).await.map_err(|e| step.aws("UpdateAlias", &e))?;
            true
        }
        Err(e) => return Err(step.aws("CreateAlias", &e)),
    };
    if let Some(previous) = &step.previous
        && previous.physical_id != name
    {
        // Renamed: the old alias goes, as CloudFormation replaces it.
        let _ = p.call(Json::Kms, "DeleteAlias", &json!({"AliasName": previous.physical_id})).await;
    }
    let arn = format!("arn:aws:kms:{}:{}:{name}", p.emu.config.region, p.emu.config.account);
    Ok(Done::new(&name, existing).attr("Arn", arn))
}
