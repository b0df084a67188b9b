//! KMS: keys and aliases, encryption, data keys bound to an encryption context, key policies,
//! key states.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyMetadata};
use conformance::{Cleanup, Run, Target, scenario};
use serde_json::{Value, json};

const UNKNOWN_KEY: &str = "00000000-0000-4000-8000-000000000000";

fn metadata(m: Option<&KeyMetadata>) -> Value {
    m.map(|m| {
        json!({
            "KeyId": m.key_id(),
            "Arn": m.arn(),
            "Description": m.description(),
            "Enabled": m.enabled(),
            "KeyState": m.key_state().map(|s| s.as_str()),
            "KeyUsage": m.key_usage().map(|s| s.as_str()),
            "KeySpec": m.key_spec().map(|s| s.as_str()),
            "KeyManager": m.key_manager().map(|s| s.as_str()),
            "Origin": m.origin().map(|s| s.as_str()),
            "DeletionDate": m.deletion_date().map(|d| d.secs()),
        })
    })
    .unwrap_or(Value::Null)
}

async fn key(run: &mut Run, description: &str) -> conformance::Result<(String, String)> {
    let kms = run.kms();
    let out =
        run.ok("CreateKey", kms.create_key().description(description).send().await, |o| metadata(o.key_metadata()))?;
    let m = out.key_metadata().ok_or_else(|| anyhow::anyhow!("no KeyMetadata"))?;
    run.cleanup(Cleanup::Key(m.key_id().to_string()));
    Ok((m.key_id().to_string(), m.arn().unwrap_or_default().to_string()))
}

scenario!(keys_aliases_and_encryption, [Kms], |run| {
    run.known_peer_bug(Target::LocalStack, "LocalStack omits EncryptionAlgorithm from Encrypt")
        .in_steps(&["Encrypt by alias"]);
    run.known_peer_bug(Target::Moto, "moto leaves KeyUsage out of a key's metadata when CreateKey does not name it (AWS: ENCRYPT_DECRYPT), omits EncryptionAlgorithm from Encrypt, and answers Decrypt of garbage with AccessDeniedException (AWS: InvalidCiphertextException)")
        .in_steps(&["CreateKey", "DescribeKey by alias", "Encrypt by alias", "Decrypt garbage"]);
    let kms = run.kms();
    let (key_id, _) = key(run, "conformance keys").await?;
    let alias = format!("alias/{}", run.name("k"));
    run.ok("CreateAlias", kms.create_alias().alias_name(&alias).target_key_id(&key_id).send().await, |_| Value::Null)?;
    run.ok("DescribeKey by alias", kms.describe_key().key_id(&alias).send().await, |o| metadata(o.key_metadata()))?;
    run.ok("ListAliases for the key", kms.list_aliases().key_id(&key_id).send().await, |o| {
        json!(
            o.aliases()
                .iter()
                .map(|a| json!({ "AliasName": a.alias_name(), "TargetKeyId": a.target_key_id() }))
                .collect::<Vec<_>>()
        )
    })?;
    let enc = run.ok(
        "Encrypt by alias",
        kms.encrypt().key_id(&alias).plaintext(Blob::new("attack at dawn")).send().await,
        |o| json!({ "KeyId": o.key_id(), "EncryptionAlgorithm": o.encryption_algorithm().map(|a| a.as_str()) }),
    )?;
    let blob = enc.ciphertext_blob().cloned().unwrap_or_else(|| Blob::new(""));
    run.ok("Decrypt without KeyId", kms.decrypt().ciphertext_blob(blob.clone()).send().await, |o| {
        json!({
            "KeyId": o.key_id(),
            "Plaintext": o.plaintext().map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()),
        })
    })?;
    run.err("CreateAlias again", kms.create_alias().alias_name(&alias).target_key_id(&key_id).send().await);
    run.err("DescribeKey unknown id", kms.describe_key().key_id(UNKNOWN_KEY).send().await);
    run.err(
        "Encrypt unknown alias",
        kms.encrypt().key_id(format!("alias/{}", run.name("none"))).plaintext(Blob::new("x")).send().await,
    );
    run.err("Decrypt garbage", kms.decrypt().ciphertext_blob(Blob::new(vec![7u8; 64])).send().await);
    run.ok("DeleteAlias", kms.delete_alias().alias_name(&alias).send().await, |_| Value::Null)?;
    run.err("DescribeKey deleted alias", kms.describe_key().key_id(&alias).send().await);
});

scenario!(data_keys_and_context_binding, [Kms], |run| {
    run.known_peer_bug(Target::LocalStack, "LocalStack accepts GenerateDataKey with both KeySpec and NumberOfBytes, and with neither (AWS: ValidationException)")
        .in_steps(&["GenerateDataKey with both KeySpec and NumberOfBytes", "GenerateDataKey without KeySpec"]);
    run.known_peer_bug(
        Target::Moto,
        "moto leaves KeyUsage out of a key's metadata when CreateKey does not name it (AWS: ENCRYPT_DECRYPT)",
    )
    .in_steps(&["CreateKey"]);
    let kms = run.kms();
    let (key_id, _) = key(run, "conformance data keys").await?;
    let dk = run.ok(
        "GenerateDataKey AES_256 with context",
        kms.generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("conversation", "c1")
            .encryption_context("reader", "alice")
            .send()
            .await,
        |o| {
            json!({
                "KeyId": o.key_id(),
                "PlaintextLength": o.plaintext().map(|p| p.as_ref().len()),
                "CiphertextBlob": o.ciphertext_blob().map(|b| super::support::b64(b.as_ref())),
            })
        },
    )?;
    let wrapped = dk.ciphertext_blob().cloned().unwrap_or_else(|| Blob::new(""));
    let plain = dk.plaintext().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    run.ok(
        "Decrypt with the same context",
        kms.decrypt()
            .ciphertext_blob(wrapped.clone())
            .encryption_context("reader", "alice")
            .encryption_context("conversation", "c1")
            .send()
            .await,
        |o| json!({ "KeyId": o.key_id(), "SamePlaintext": o.plaintext().map(|p| p.as_ref() == plain.as_slice()) }),
    )?;
    run.err(
        "Decrypt with another reader in the context",
        kms.decrypt()
            .ciphertext_blob(wrapped.clone())
            .encryption_context("reader", "bob")
            .encryption_context("conversation", "c1")
            .send()
            .await,
    );
    run.err("Decrypt without the context", kms.decrypt().ciphertext_blob(wrapped.clone()).send().await);
    run.ok(
        "GenerateDataKeyWithoutPlaintext NumberOfBytes 16",
        kms.generate_data_key_without_plaintext().key_id(&key_id).number_of_bytes(16).send().await,
        |o| json!({ "KeyId": o.key_id(), "HasCiphertext": o.ciphertext_blob().is_some() }),
    )?;
    run.err(
        "GenerateDataKey with both KeySpec and NumberOfBytes",
        kms.generate_data_key().key_id(&key_id).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send().await,
    );
    run.err("GenerateDataKey without KeySpec", kms.generate_data_key().key_id(&key_id).send().await);
    run.ok(
        "GenerateRandom 24",
        kms.generate_random().number_of_bytes(24).send().await,
        |o| json!({ "Length": o.plaintext().map(|p| p.as_ref().len()) }),
    )?;
});

scenario!(key_states, [Kms], |run| {
    run.known_peer_bug(
        Target::LocalStack,
        "LocalStack answers ScheduleKeyDeletion with the bare key id (AWS: the key ARN)",
    )
    .in_steps(&["ScheduleKeyDeletion 7 days"]);
    run.known_peer_bug(Target::Moto, "moto encrypts under disabled keys and keys pending deletion, accepts a 3-day deletion window (AWS: 7-30, ValidationException) and leaves KeyState and PendingWindowInDays out of ScheduleKeyDeletion")
        .in_steps(&["CreateKey", "DescribeKey disabled", "Encrypt under a disabled key", "GenerateDataKey under a disabled key", "ScheduleKeyDeletion 3 days", "ScheduleKeyDeletion 7 days", "DescribeKey pending deletion", "Encrypt under a key pending deletion", "Decrypt under a key pending deletion", "EnableKey pending deletion", "CancelKeyDeletion", "DescribeKey after cancel"]);
    let kms = run.kms();
    let (key_id, _) = key(run, "conformance key states").await?;
    run.ok("DisableKey", kms.disable_key().key_id(&key_id).send().await, |_| Value::Null)?;
    run.ok("DescribeKey disabled", kms.describe_key().key_id(&key_id).send().await, |o| metadata(o.key_metadata()))?;
    run.err("Encrypt under a disabled key", kms.encrypt().key_id(&key_id).plaintext(Blob::new("x")).send().await);
    run.err(
        "GenerateDataKey under a disabled key",
        kms.generate_data_key().key_id(&key_id).number_of_bytes(32).send().await,
    );
    run.ok("EnableKey", kms.enable_key().key_id(&key_id).send().await, |_| Value::Null)?;
    let enc =
        run.ok("Encrypt", kms.encrypt().key_id(&key_id).plaintext(Blob::new("x")).send().await, |_| Value::Null)?;
    let blob = enc.ciphertext_blob().cloned().unwrap_or_else(|| Blob::new(""));
    run.err(
        "ScheduleKeyDeletion 3 days",
        kms.schedule_key_deletion().key_id(&key_id).pending_window_in_days(3).send().await,
    );
    run.ok("ScheduleKeyDeletion 7 days", kms.schedule_key_deletion().key_id(&key_id).pending_window_in_days(7).send().await, |o| {
        json!({ "KeyId": o.key_id(), "KeyState": o.key_state().map(|s| s.as_str()), "PendingWindowInDays": o.pending_window_in_days() })
    })?;
    run.ok("DescribeKey pending deletion", kms.describe_key().key_id(&key_id).send().await, |o| {
        metadata(o.key_metadata())
    })?;
    run.err(
        "Encrypt under a key pending deletion",
        kms.encrypt().key_id(&key_id).plaintext(Blob::new("x")).send().await,
    );
    run.err("Decrypt under a key pending deletion", kms.decrypt().ciphertext_blob(blob.clone()).send().await);
    run.err("EnableKey pending deletion", kms.enable_key().key_id(&key_id).send().await);
    run.ok(
        "CancelKeyDeletion",
        kms.cancel_key_deletion().key_id(&key_id).send().await,
        |o| json!({ "KeyId": o.key_id() }),
    )?;
    run.ok("DescribeKey after cancel", kms.describe_key().key_id(&key_id).send().await, |o| {
        metadata(o.key_metadata())
    })?;
    run.err("DisableKey unknown key", kms.disable_key().key_id(UNKNOWN_KEY).send().await);
});

scenario!(key_policies, [Kms], |run| {
    run.known_peer_bug(Target::Moto, "moto stores key policies but neither enforces nor validates them").in_steps(&[
        "CreateKey",
        "Encrypt denied by policy",
        "GenerateDataKey for reader bob",
        "PutKeyPolicy malformed",
    ]);
    run.known_peer_bug(Target::LocalStack, "LocalStack stores key policies but does not enforce them").in_steps(&[
        "Encrypt denied by policy",
        "GenerateDataKey for reader bob",
        "PutKeyPolicy malformed",
    ]);
    let kms = run.kms();
    let (key_id, key_arn) = key(run, "conformance policies").await?;
    let account = key_arn.split(':').nth(4).unwrap_or_default().to_string();
    run.ok("GetKeyPolicy default", kms.get_key_policy().key_id(&key_id).policy_name("default").send().await, |o| {
        let doc: Value = serde_json::from_str(o.policy().unwrap_or("{}")).unwrap_or(Value::Null);
        json!({ "Statements": doc["Statement"].as_array().map(|s| s.len()), "Actions": doc["Statement"][0]["Action"] })
    })?;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "Admin", "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::{account}:root") }, "Action": "kms:*", "Resource": "*" },
            { "Sid": "NoEncrypt", "Effect": "Deny", "Principal": { "AWS": "*" }, "Action": "kms:Encrypt", "Resource": "*" },
            {
                "Sid": "OnlyReaderAlice", "Effect": "Deny", "Principal": { "AWS": "*" }, "Action": "kms:GenerateDataKey",
                "Resource": "*", "Condition": { "StringNotEquals": { "kms:EncryptionContext:reader": "alice" } },
            },
        ],
    });
    run.ok(
        "PutKeyPolicy",
        kms.put_key_policy().key_id(&key_id).policy_name("default").policy(policy.to_string()).send().await,
        |_| Value::Null,
    )?;
    run.ok("GetKeyPolicy", kms.get_key_policy().key_id(&key_id).policy_name("default").send().await, |o| {
        let doc: Value = serde_json::from_str(o.policy().unwrap_or("{}")).unwrap_or(Value::Null);
        json!(doc["Statement"].as_array().map(|s| s.iter().map(|s| s["Sid"].clone()).collect::<Vec<_>>()))
    })?;
    run.err("Encrypt denied by policy", kms.encrypt().key_id(&key_id).plaintext(Blob::new("x")).send().await);
    run.ok(
        "GenerateDataKey for reader alice",
        kms.generate_data_key().key_id(&key_id).number_of_bytes(32).encryption_context("reader", "alice").send().await,
        |_| Value::Null,
    )?;
    run.err(
        "GenerateDataKey for reader bob",
        kms.generate_data_key().key_id(&key_id).number_of_bytes(32).encryption_context("reader", "bob").send().await,
    );
    run.err(
        "PutKeyPolicy malformed",
        kms.put_key_policy().key_id(&key_id).policy_name("default").policy("{not json").send().await,
    );
});
