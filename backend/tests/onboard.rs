//! Onboarding against the emulator's KMS, SNS and DynamoDB through the SDK: idempotent on
//! retry, and the user's key usable by the backend's role only for that user as recipient.

use std::collections::HashMap;

use backend::chat::Caller;
use backend::onboard::Onboarding;
use backend::store::Store;

const ROLE: &str = "arn:aws:iam::000000000000:role/chat-api";

fn kms_as(url: &str, key: &str, secret: &str) -> aws_sdk_kms::Client {
    let cfg = testkit::sdk_config(url);
    let conf = aws_sdk_kms::config::Builder::from(&cfg)
        .credentials_provider(aws_credential_types::Credentials::new(key, secret, None, None, "t"))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

#[tokio::test]
async fn onboarding_is_idempotent_and_the_key_serves_only_its_user() {
    let emu = emulator::Emulator::builder()
        .in_memory()
        .port(0)
        .credential("AKIABACKEND", "backend-secret", ROLE)
        .start()
        .await
        .unwrap();
    let url = emu.url().to_string();
    let cfg = testkit::sdk_config(&url);
    let db = aws_sdk_dynamodb::Client::new(&cfg);
    // The template's table shape, minimal: only the keys onboarding writes.
    db.create_table()
        .table_name("chat")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let onboarding = Onboarding {
        kms: aws_sdk_kms::Client::new(&cfg),
        sns: aws_sdk_sns::Client::new(&cfg),
        store: Store::new(db, "chat"),
        crypto_roles: vec![ROLE.into()],
        account: "000000000000".into(),
    };
    let alice = Caller { sub: "sub-alice".into(), username: "alice".into() };
    let first = onboarding.onboard(&alice, "alice@example.com", 1).await.unwrap();
    let again = onboarding.onboard(&alice, "alice@example.com", 2).await.unwrap();
    assert_eq!(first, again, "a retried trigger finds what the first run made");
    let subs =
        aws_sdk_sns::Client::new(&cfg).list_subscriptions_by_topic().topic_arn(&first.topic_arn).send().await.unwrap();
    assert_eq!(subs.subscriptions().len(), 1);
    assert_eq!(subs.subscriptions()[0].endpoint(), Some("alice@example.com"));

    let context = |who: &str| HashMap::from([("recipient".to_string(), who.to_string())]);
    let backend = kms_as(&url, "AKIABACKEND", "backend-secret");
    // The backend's role, for Alice as recipient: allowed, and it decrypts back.
    let key = backend
        .generate_data_key()
        .key_id(&first.key_id)
        .number_of_bytes(32)
        .set_encryption_context(Some(context("sub-alice")))
        .send()
        .await
        .unwrap();
    let back = backend
        .decrypt()
        .ciphertext_blob(key.ciphertext_blob.clone().unwrap())
        .set_encryption_context(Some(context("sub-alice")))
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext, key.plaintext);
    // The same role naming someone else as recipient: refused.
    let e = backend
        .generate_data_key()
        .key_id(&first.key_id)
        .number_of_bytes(32)
        .set_encryption_context(Some(context("sub-mallory")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(aws_sdk_kms::error::ProvideErrorMetadata::code),
        Some("AccessDeniedException")
    );
    // Anyone else, the account's administrators included, cannot decrypt.
    let admin = kms_as(&url, "test", "test");
    let e = admin
        .decrypt()
        .ciphertext_blob(key.ciphertext_blob.unwrap())
        .set_encryption_context(Some(context("sub-alice")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(aws_sdk_kms::error::ProvideErrorMetadata::code),
        Some("AccessDeniedException")
    );
    // Administrators can still manage the key.
    let policy = admin.get_key_policy().key_id(&first.key_id).send().await.unwrap();
    assert!(policy.policy().unwrap().contains("kms:EncryptionContext:recipient"));
    emu.shutdown().await;
}
