//! KMS through `aws_sdk_kms`: keys, aliases, crypto, key states, key policies, persistence.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState, Tag};

use crate::common;

const ROLE: &str = "arn:aws:iam::000000000000:role/backend";

async fn key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id
}

#[tokio::test]
async fn create_describe_list_and_tag_keys() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let created = kms
        .create_key()
        .description("alice's key")
        .tags(Tag::builder().tag_key("owner").tag_value("alice").build().unwrap())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        created.arn.as_deref(),
        Some(format!("arn:aws:kms:us-east-1:000000000000:key/{}", created.key_id).as_str())
    );
    assert_eq!(created.key_state, Some(KeyState::Enabled));
    assert!(created.enabled);
    assert_eq!(created.key_spec.as_ref().map(|s| s.as_str()), Some("SYMMETRIC_DEFAULT"));

    let described = kms.describe_key().key_id(created.arn.clone().unwrap()).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(described.description.as_deref(), Some("alice's key"));
    assert_eq!(described.creation_date, created.creation_date);
    let material = created.current_key_material_id.clone().expect("a symmetric AWS_KMS key names its key material");
    assert!(material.len() == 64 && material.bytes().all(|b| b.is_ascii_hexdigit()), "{material}");
    assert_eq!(described.current_key_material_id, created.current_key_material_id);

    let tags = kms.list_resource_tags().key_id(&created.key_id).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    kms.tag_resource()
        .key_id(&created.key_id)
        .tags(Tag::builder().tag_key("env").tag_value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    kms.untag_resource().key_id(&created.key_id).tag_keys("owner").send().await.unwrap();
    let tags = kms.list_resource_tags().key_id(&created.key_id).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| t.tag_key()).collect::<Vec<_>>(), vec!["env"]);

    // Pagination over 5 keys, 2 per page.
    for _ in 0..4 {
        let other = key(&kms).await;
        let other = kms.describe_key().key_id(other).send().await.unwrap().key_metadata.unwrap();
        assert_ne!(other.current_key_material_id, created.current_key_material_id, "each key its own material");
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = kms.list_keys().limit(2).set_marker(marker).send().await.unwrap();
        assert!(page.keys().len() <= 2);
        seen.extend(page.keys().iter().map(|k| k.key_id().unwrap().to_string()));
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.contains(&created.key_id));

    let e = kms.list_keys().limit(0).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = kms.list_keys().marker("not-one-of-ours").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidMarkerException", Some(400)));

    // Without a Policy, the key gets AWS's default: the account may do everything.
    let policy = kms.get_key_policy().key_id(&created.key_id).send().await.unwrap();
    assert_eq!(policy.policy_name(), Some("default"));
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::000000000000:root");
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let e = kms.get_key_policy().key_id(&created.key_id).policy_name("other").send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotFoundException");
    let e = kms.create_key().key_spec(aws_sdk_kms::types::KeySpec::Rsa2048).send().await.unwrap_err();
    assert_eq!(common::code(&e), "UnsupportedOperationException");
}

#[tokio::test]
async fn encrypt_decrypt_with_context_and_without_key_id() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let id = key(&kms).await;
    let enc = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("hello"))
        .encryption_context("recipient", "alice")
        .send()
        .await
        .unwrap();
    assert!(enc.key_id.unwrap().ends_with(&id));
    let blob = enc.ciphertext_blob.unwrap();
    assert!(!blob.as_ref().windows(5).any(|w| w == b"hello"), "ciphertext must not contain the plaintext");

    let dec =
        kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("recipient", "alice").send().await.unwrap();
    assert_eq!(dec.plaintext.unwrap().as_ref(), b"hello");
    // KeyId given and right: fine; given and wrong: IncorrectKeyException.
    kms.decrypt()
        .key_id(&id)
        .ciphertext_blob(blob.clone())
        .encryption_context("recipient", "alice")
        .send()
        .await
        .unwrap();
    let other = key(&kms).await;
    let e = kms
        .decrypt()
        .key_id(&other)
        .ciphertext_blob(blob.clone())
        .encryption_context("recipient", "alice")
        .send()
        .await;
    assert_eq!(common::code(&e.unwrap_err()), "IncorrectKeyException");

    // Wrong or missing context, tampered blob, garbage: InvalidCiphertextException (400).
    for ctx in [Some(("recipient", "bob")), None] {
        let mut req = kms.decrypt().ciphertext_blob(blob.clone());
        if let Some((k, v)) = ctx {
            req = req.encryption_context(k, v);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidCiphertextException", Some(400)));
    }
    let mut tampered = blob.clone().into_inner();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let e = kms.decrypt().ciphertext_blob(Blob::new(tampered)).encryption_context("recipient", "alice").send().await;
    assert_eq!(common::code(&e.unwrap_err()), "InvalidCiphertextException");
    let e = kms.decrypt().ciphertext_blob(Blob::new(vec![9u8; 80])).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidCiphertextException");

    // DryRun: every check runs, then DryRunOperationException (412) instead of a result.
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).dry_run(true).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("DryRunOperationException", Some(412)));
    let e = kms.decrypt().ciphertext_blob(blob.clone()).dry_run(true).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidCiphertextException", "the context is still checked");
    let e = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("recipient", "alice")
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "DryRunOperationException");
    let e = kms.generate_data_key().key_id(&id).number_of_bytes(8).dry_run(true).send().await.unwrap_err();
    assert_eq!(common::code(&e), "DryRunOperationException");

    // Plaintext limits.
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new(vec![0u8; 4097])).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e = kms
        .encrypt()
        .key_id("00000000-0000-4000-8000-000000000000")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotFoundException", Some(400)));
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let (a, b) = (key(&kms).await, key(&kms).await);
    let blob =
        kms.encrypt().key_id(&a).plaintext(Blob::new("move me")).encryption_context("v", "1").send().await.unwrap();
    let re = kms
        .re_encrypt()
        .ciphertext_blob(blob.ciphertext_blob.unwrap())
        .source_encryption_context("v", "1")
        .destination_key_id(&b)
        .destination_encryption_context("v", "2")
        .send()
        .await
        .unwrap();
    assert!(re.source_key_id.unwrap().ends_with(&a));
    assert!(re.key_id.unwrap().ends_with(&b));
    let dec =
        kms.decrypt().ciphertext_blob(re.ciphertext_blob.unwrap()).encryption_context("v", "2").send().await.unwrap();
    assert!(dec.key_id.unwrap().ends_with(&b));
    assert_eq!(dec.plaintext.unwrap().as_ref(), b"move me");
}

#[tokio::test]
async fn data_keys_and_random_bytes() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let id = key(&kms).await;
    for (spec, len) in [(DataKeySpec::Aes256, 32), (DataKeySpec::Aes128, 16)] {
        let dk = kms.generate_data_key().key_id(&id).key_spec(spec).encryption_context("m", "1").send().await.unwrap();
        let plain = dk.plaintext.unwrap();
        assert_eq!(plain.as_ref().len(), len);
        let dec = kms
            .decrypt()
            .ciphertext_blob(dk.ciphertext_blob.unwrap())
            .encryption_context("m", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext.unwrap(), plain);
    }
    let dk = kms.generate_data_key().key_id(&id).number_of_bytes(64).send().await.unwrap();
    assert_eq!(dk.plaintext.unwrap().as_ref().len(), 64);
    let wp = kms.generate_data_key_without_plaintext().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    let dec = kms.decrypt().ciphertext_blob(wp.ciphertext_blob.unwrap()).send().await.unwrap();
    assert_eq!(dec.plaintext.unwrap().as_ref().len(), 32);

    let e = kms.generate_data_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let e =
        kms.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    let r1 = kms.generate_random().number_of_bytes(24).send().await.unwrap().plaintext.unwrap();
    let r2 = kms.generate_random().number_of_bytes(24).send().await.unwrap().plaintext.unwrap();
    assert_eq!(r1.as_ref().len(), 24);
    assert_ne!(r1, r2);
    let e = kms.generate_random().number_of_bytes(1025).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
}

#[tokio::test]
async fn aliases_are_accepted_wherever_a_key_id_is() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let (id, other) = (key(&kms).await, key(&kms).await);
    kms.create_alias().alias_name("alias/chat/alice").target_key_id(&id).send().await.unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:000000000000:alias/chat/alice";
    for name in ["alias/chat/alice", alias_arn] {
        let meta = kms.describe_key().key_id(name).send().await.unwrap().key_metadata.unwrap();
        assert_eq!(meta.key_id, id, "{name}");
        let enc = kms.encrypt().key_id(name).plaintext(Blob::new("x")).send().await.unwrap();
        assert!(enc.key_id.unwrap().ends_with(&id));
    }
    let e = kms.create_alias().alias_name("alias/chat/alice").target_key_id(&other).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AlreadyExistsException");
    let e = kms.create_alias().alias_name("alias/aws/mine").target_key_id(&other).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    let e = kms.create_alias().alias_name("no-prefix").target_key_id(&other).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");

    kms.update_alias().alias_name("alias/chat/alice").target_key_id(&other).send().await.unwrap();
    assert_eq!(kms.describe_key().key_id("alias/chat/alice").send().await.unwrap().key_metadata.unwrap().key_id, other);
    kms.create_alias().alias_name("alias/chat/bob").target_key_id(&id).send().await.unwrap();
    let all = kms.list_aliases().send().await.unwrap();
    assert_eq!(all.aliases().len(), 2);
    let for_key = kms.list_aliases().key_id(&id).send().await.unwrap();
    assert_eq!(for_key.aliases().iter().map(|a| a.alias_name().unwrap()).collect::<Vec<_>>(), vec!["alias/chat/bob"]);
    assert_eq!(for_key.aliases()[0].alias_arn(), Some("arn:aws:kms:us-east-1:000000000000:alias/chat/bob"));

    // One alias per page.
    let first = kms.list_aliases().limit(1).send().await.unwrap();
    assert!(first.truncated);
    let second = kms.list_aliases().limit(1).set_marker(first.next_marker.clone()).send().await.unwrap();
    assert!(!second.truncated);
    let names: Vec<_> = first.aliases().iter().chain(second.aliases()).map(|a| a.alias_name().unwrap()).collect();
    assert_eq!(names, vec!["alias/chat/alice", "alias/chat/bob"]);

    kms.delete_alias().alias_name("alias/chat/bob").send().await.unwrap();
    let e = kms.describe_key().key_id("alias/chat/bob").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotFoundException", Some(400)));
    let e = kms.delete_alias().alias_name("alias/chat/bob").send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotFoundException");

    // AWS managed aliases exist on first use; their keys serve only through their service.
    let managed = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(managed.key_manager.map(|m| m.as_str().to_string()).as_deref(), Some("AWS"));
    let e = kms.encrypt().key_id("alias/aws/s3").plaintext(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");
    let policy = kms.get_key_policy().key_id("alias/aws/s3").send().await.unwrap().policy.unwrap();
    assert!(policy.contains("s3.us-east-1.amazonaws.com"), "{policy}");
    let e = kms.put_key_policy().key_id("alias/aws/s3").policy(policy).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");
    let e = kms.schedule_key_deletion().key_id(&managed.key_id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");
}

#[tokio::test]
async fn disabled_pending_and_deleted_keys() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let id = key(&kms).await;
    let blob = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();

    kms.disable_key().key_id(&id).send().await.unwrap();
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((meta.key_state, meta.enabled), (Some(KeyState::Disabled), false));
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("DisabledException", Some(400)));
    let e = kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err();
    assert_eq!(common::code(&e), "DisabledException");
    kms.enable_key().key_id(&id).send().await.unwrap();
    kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap();

    let e = kms.schedule_key_deletion().key_id(&id).pending_window_in_days(3).send().await.unwrap_err();
    assert_eq!(common::code(&e), "ValidationException");
    let sched = kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(sched.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(sched.pending_window_in_days, Some(7));
    let e = kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("KMSInvalidStateException", Some(400)));
    let e = kms.enable_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "KMSInvalidStateException");

    // Cancelling brings it back disabled.
    kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(
        kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().key_state,
        Some(KeyState::Disabled)
    );
    let e = kms.cancel_key_deletion().key_id(&id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "KMSInvalidStateException");

    // Scheduled again, it is gone once the emulator clock passes the window, with its aliases.
    kms.create_alias().alias_name("alias/doomed").target_key_id(&id).send().await.unwrap();
    let sched = kms.schedule_key_deletion().key_id("alias/doomed").pending_window_in_days(7).send().await.unwrap();
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.deletion_date, sched.deletion_date);
    assert_eq!(meta.pending_deletion_window_in_days, Some(7));
    assert!(!meta.enabled);
    common::advance_clock(emu.url(), "6days").await;
    assert!(kms.describe_key().key_id(&id).send().await.is_ok());
    common::advance_clock(emu.url(), "2days").await;
    let e = kms.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotFoundException");
    // Its ciphertexts no longer decrypt: AWS cannot tell a deleted key from an inaccessible one.
    let e = kms.decrypt().ciphertext_blob(blob).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("AccessDeniedException", Some(400)));
    assert!(format!("{e:?}").contains("The ciphertext refers to a customer master key that does not exist"), "{e:?}");
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(kms.list_aliases().send().await.unwrap().aliases().is_empty());
    let e = kms.describe_key().key_id("alias/doomed").send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotFoundException");
}

/// The chat's key policy: the backend role may decrypt only when the encryption context names
/// the key's owner as recipient; the root may manage the key but not decrypt.
fn recipient_policy(user: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
             "Action": ["kms:Describe*", "kms:Get*", "kms:Put*", "kms:Enable*", "kms:Disable*",
                        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:*Alias", "kms:*Tag*", "kms:ListResourceTags"],
             "Resource": "*"},
            {"Sid": "BackendWrapsForAnyone", "Effect": "Allow", "Principal": {"AWS": ROLE},
             "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*"},
            {"Sid": "BackendUnwrapsOnlyForTheRecipient", "Effect": "Allow", "Principal": {"AWS": ROLE},
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:recipient": user}}}
        ]
    })
    .to_string()
}

#[tokio::test]
async fn key_policy_limits_decryption_to_the_recipient() {
    let emu = common::builder()
        .credential("AKIDBACKEND", "secret", ROLE)
        .credential("AKIDSTRANGER", "secret", "arn:aws:iam::111111111111:role/stranger")
        .start()
        .await
        .unwrap();
    let admin = common::kms(emu.url());
    let backend = aws_sdk_kms::Client::new(&common::sdk_config_as(emu.url(), "AKIDBACKEND", "secret"));
    let id = admin.create_key().policy(recipient_policy("alice")).send().await.unwrap().key_metadata.unwrap().key_id;

    let dk = backend
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("recipient", "alice")
        .send()
        .await
        .unwrap();
    let wrapped = dk.ciphertext_blob.unwrap();
    let ok = backend.decrypt().ciphertext_blob(wrapped.clone()).encryption_context("recipient", "alice").send().await;
    assert_eq!(ok.unwrap().plaintext, dk.plaintext);

    // Addressed to someone else: denied by policy (before any crypto).
    let bob = backend
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("for bob"))
        .encryption_context("recipient", "bob")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = backend.decrypt().ciphertext_blob(bob).encryption_context("recipient", "bob").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("AccessDeniedException", Some(400)));
    assert!(e.to_string().contains("AccessDenied") || format!("{e:?}").contains("not authorized"));
    // The root may manage but not decrypt.
    let e = admin.decrypt().ciphertext_blob(wrapped).encryption_context("recipient", "alice").send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");
    admin.describe_key().key_id(&id).send().await.unwrap();
    // A principal of another account matches no statement at all.
    let stranger = aws_sdk_kms::Client::new(&common::sdk_config_as(emu.url(), "AKIDSTRANGER", "secret"));
    let e = stranger.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");

    // An explicit Deny overrides the Allow.
    let mut policy: serde_json::Value = serde_json::from_str(&recipient_policy("alice")).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!(
        {"Effect": "Deny", "Principal": {"AWS": ROLE}, "Action": "kms:GenerateDataKey", "Resource": "*"}
    ));
    admin.put_key_policy().key_id(&id).policy_name("default").policy(policy.to_string()).send().await.unwrap();
    let e = backend.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap_err();
    assert_eq!(common::code(&e), "AccessDeniedException");
    assert!(format!("{e:?}").contains("with an explicit deny in a resource-based policy"), "{e:?}");
    let got = admin.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap().policy.unwrap();
    assert!(got.contains("\"Deny\""));

    let e = admin.put_key_policy().key_id(&id).policy_name("default").policy("{not json").send().await.unwrap_err();
    assert_eq!(common::code(&e), "MalformedPolicyDocumentException");
    // A policy that would lock the caller out is refused unless the check is bypassed.
    let lockout =
        serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt"}]});
    let e =
        admin.put_key_policy().key_id(&id).policy_name("default").policy(lockout.to_string()).send().await.unwrap_err();
    assert_eq!(common::code(&e), "MalformedPolicyDocumentException");
}

#[tokio::test]
async fn keys_and_ciphertexts_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let kms = common::kms(emu.url());
    let id = key(&kms).await;
    kms.create_alias().alias_name("alias/kept").target_key_id(&id).send().await.unwrap();
    let blob = kms.encrypt().key_id(&id).plaintext(Blob::new("kept")).send().await.unwrap().ciphertext_blob.unwrap();
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let kms = common::kms(emu.url());
    assert_eq!(kms.describe_key().key_id("alias/kept").send().await.unwrap().key_metadata.unwrap().key_id, id);
    assert_eq!(kms.decrypt().ciphertext_blob(blob).send().await.unwrap().plaintext.unwrap().as_ref(), b"kept");
}

#[tokio::test]
async fn bad_input_gets_json_protocol_errors() {
    let emu = common::start().await;
    let post = |target: &'static str, body: &'static str| {
        common::http()
            .post(emu.url())
            .header("X-Amz-Target", format!("TrentService.{target}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body)
            .send()
    };
    let cases = [
        ("Encrypt", "{not json", 400, "SerializationException"),
        ("Encrypt", r#"{"KeyId": 5, "Plaintext": "eA=="}"#, 400, "SerializationException"),
        ("Encrypt", r#"{"KeyId": "k", "Plaintext": "***not base64***"}"#, 400, "SerializationException"),
        ("Encrypt", r#"{"Plaintext": "eA=="}"#, 400, "ValidationException"),
        ("DescribeKey", "{}", 400, "ValidationException"),
        ("DescribeKey", r#"{"KeyId": "not-a-key"}"#, 400, "NotFoundException"),
        ("CreateKey", r#"{"Policy": "{\"Statement\": 1}"}"#, 400, "MalformedPolicyDocumentException"),
        ("DescribeKey", r#"{"KeyId": ""}"#, 400, "ValidationException"),
        ("Decrypt", r#"{"CiphertextBlob": ""}"#, 400, "ValidationException"),
        ("Decrypt", "{}", 400, "ValidationException"),
        // Our version byte, but no key id where one belongs.
        (
            "Decrypt",
            r#"{"CiphertextBlob": "AXh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
            400,
            "InvalidCiphertextException",
        ),
        ("GenerateRandom", r#"{"NumberOfBytes": "8"}"#, 400, "SerializationException"),
        ("ListAliases", r#"{"Marker": "elsewhere"}"#, 400, "InvalidMarkerException"),
        ("ScheduleKeyDeletion", r#"{"KeyId": "alias/x", "PendingWindowInDays": 31}"#, 400, "ValidationException"),
    ];
    for (target, body, status, code) in cases {
        let resp = post(target, body).await.unwrap();
        assert_eq!(resp.status(), status, "{target} {body}");
        assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.1");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["__type"], code, "{target} {body}: {v}");
    }
    let missing = post("Encrypt", r#"{"Plaintext": "eA=="}"#).await.unwrap().json::<serde_json::Value>().await.unwrap();
    assert!(missing["message"].as_str().unwrap().contains("'keyId'"), "{missing}");

    let resp = post("DescribeKey", r#"{"KeyId": "00000000-0000-4000-8000-000000000000"}"#).await.unwrap();
    let body = resp.text().await.unwrap();
    insta::assert_snapshot!("kms_not_found", body);

    // The AccessDeniedException body for a caller the key policy does not name for the action.
    let policy = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": ["kms:Describe*", "kms:PutKeyPolicy"], "Resource": "*"}]});
    let created: serde_json::Value = common::http()
        .post(emu.url())
        .header("X-Amz-Target", "TrentService.CreateKey")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(serde_json::json!({"Policy": policy.to_string()}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let resp = common::http()
        .post(emu.url())
        .header("X-Amz-Target", "TrentService.Encrypt")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(serde_json::json!({"KeyId": key_id, "Plaintext": "eA=="}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-amzn-errortype"], "AccessDeniedException");
    let body = common::redact_ids(&resp.text().await.unwrap()).replace(&key_id, "KEY_ID");
    insta::assert_snapshot!("kms_access_denied", body);
}

#[tokio::test]
async fn concurrent_first_uses_of_an_aws_managed_alias_make_one_key() {
    let emu = common::start().await;
    let kms = common::kms(emu.url());
    let calls = (0..8).map(|_| {
        let kms = kms.clone();
        tokio::spawn(async move {
            kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap().key_id
        })
    });
    let mut ids = Vec::new();
    for c in calls {
        ids.push(c.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 1);
}
