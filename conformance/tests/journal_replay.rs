//! A journal recorded on the client's side (as the conformance suite records moto, LocalStack
//! or AWS) replays on a fresh emulator with the other side's ids paired with the emulator's:
//! a session across KMS, S3, DynamoDB, SNS and Cognito whose every id, ARN, account, token and
//! ciphertext differs comes out equivalent, and answers altered in the journal are reported each
//! at its own step, without the later steps failing with them.

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};
use aws_sdk_dynamodb::types::{AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_kms::primitives::Blob;
use conformance::Target;
use conformance::journal::Recorder;
use emulator::replay::{Outcome, ReplayOptions, replay};
use serde_json::Value;

/// The other side: an unseeded emulator in another account, as a peer would be.
async fn other_side() -> emulator::EmulatorHandle {
    // No listed keys: every access key acts as the account's root.
    let config =
        emulator::config::Config { account: "123456789012".into(), credentials: Vec::new(), ..Default::default() };
    emulator::Emulator::builder().config(config).in_memory().port(0).start().await.expect("emulator starts")
}

/// Records one session through clients carrying `recorder`.
async fn session(sdk: &SdkConfig, recorder: &Recorder) -> anyhow::Result<()> {
    let kms =
        aws_sdk_kms::Client::from_conf(aws_sdk_kms::config::Builder::from(sdk).interceptor(recorder.clone()).build());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).interceptor(recorder.clone()).build(),
    );
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(recorder.clone()).build(),
    );
    let sns =
        aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).interceptor(recorder.clone()).build());
    let idp = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(sdk).interceptor(recorder.clone()).build(),
    );

    let key = kms.create_key().description("journal").send().await?;
    let key_id = key.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default();
    kms.create_alias().alias_name("alias/journal").target_key_id(&key_id).send().await?;
    let sealed = kms
        .encrypt()
        .key_id("alias/journal")
        .plaintext(Blob::new("hello"))
        .encryption_context("conversation", "c1")
        .send()
        .await?;
    kms.decrypt()
        .ciphertext_blob(sealed.ciphertext_blob().cloned().unwrap_or_else(|| Blob::new("")))
        .encryption_context("conversation", "c1")
        .send()
        .await?;
    let data_key = kms.generate_data_key().key_id(&key_id).number_of_bytes(32).send().await?;
    let opened = kms
        .decrypt()
        .ciphertext_blob(data_key.ciphertext_blob().cloned().unwrap_or_else(|| Blob::new("")))
        .send()
        .await?;
    assert_eq!(opened.plaintext(), data_key.plaintext());
    kms.describe_key().key_id("alias/journal").send().await?;
    assert!(kms.describe_key().key_id("alias/nowhere").send().await.is_err());

    s3.create_bucket().bucket("journal-bucket").send().await?;
    s3.put_object()
        .bucket("journal-bucket")
        .key("sealed/m1")
        .body(b"ciphertext bytes".to_vec().into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_id)
        .send()
        .await?;
    let got = s3.get_object().bucket("journal-bucket").key("sealed/m1").send().await?;
    assert_eq!(got.body.collect().await?.into_bytes().as_ref(), b"ciphertext bytes");
    s3.list_objects_v2().bucket("journal-bucket").send().await?;

    ddb.create_table()
        .table_name("journal-messages")
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::N).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build()?)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await?;
    for n in 1..=3 {
        ddb.put_item()
            .table_name("journal-messages")
            .item("pk", AttributeValue::S("c1".into()))
            .item("sk", AttributeValue::N(n.to_string()))
            .item("key", AttributeValue::S(key_id.clone()))
            .send()
            .await?;
    }
    ddb.query()
        .table_name("journal-messages")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("c1".into()))
        .send()
        .await?;

    let topic = sns.create_topic().name("journal-topic").send().await?;
    let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
    sns.subscribe().topic_arn(&topic_arn).protocol("email").endpoint("reader@example.com").send().await?;
    sns.publish().topic_arn(&topic_arn).message("new message").send().await?;
    sns.get_topic_attributes().topic_arn(&topic_arn).send().await?;

    let pool = idp.create_user_pool().pool_name("journal-pool").send().await?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap_or_default().to_string();
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await?;
    let client_id = client.user_pool_client().and_then(|c| c.client_id()).unwrap_or_default().to_string();
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("reader")
        .message_action(MessageActionType::Suppress)
        .send()
        .await?;
    idp.admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("reader")
        .password("Journal-Passw0rd")
        .permanent(true)
        .send()
        .await?;
    let auth = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "reader")
        .auth_parameters("PASSWORD", "Journal-Passw0rd")
        .send()
        .await?;
    let access = auth.authentication_result().and_then(|r| r.access_token()).unwrap_or_default();
    idp.get_user().access_token(access).send().await?;
    Ok(())
}

/// The journal's lines, as JSON values (header first).
fn lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn write(path: &std::path::Path, lines: &[Value]) {
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_recorded_on_the_clients_side_replays_with_its_ids_paired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.jsonl");
    let peer = other_side().await;
    let recorder = Recorder::create(&path, Target::Moto, Some(peer.url()), "us-east-1", "").unwrap();
    session(&testkit::sdk_config(peer.url()), &recorder).await.unwrap();
    peer.shutdown().await;

    let journal = lines(&path);
    assert_eq!(journal[0]["recordedAgainst"], "moto");
    let entries = &journal[1..];
    let find = |op: &str| entries.iter().find(|e| e["operation"] == op).unwrap_or_else(|| panic!("{op} journaled"));
    assert_eq!(find("PutObject")["request"]["body"], "ciphertext bytes", "request bodies are kept");
    assert_eq!(find("GetObject")["response"]["bodyUnrecorded"], true, "a streamed object is not read by the recorder");
    assert!(
        find("CreateKey")["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "authorization" && h[1].as_str().unwrap().ends_with("Signature=REDACTED")),
        "signatures are redacted"
    );
    assert_eq!(find("DescribeKey")["service"], "kms");
    assert_eq!(find("GetUser")["service"], "cognito-idp");

    // A fresh emulator (account 000000000000, other ids, keys and tokens) answers every request
    // equivalently once the ids are paired.
    let report = replay(&path, &ReplayOptions::default()).await.unwrap();
    assert!(report.identical(), "{report}");
    assert_eq!(report.matched, entries.len(), "{report}");
    assert!(report.paired.unwrap() >= 10, "key, ARNs, account, ciphertexts, data key, pool, client, tokens: {report}");

    // Answers altered in the journal: each is reported at its step, and nothing else.
    let mut altered = journal.clone();
    let mut edited = Vec::new();
    for line in altered.iter_mut().skip(1) {
        let op = line["operation"].as_str().unwrap_or_default().to_string();
        let body = line["response"]["body"].as_str().unwrap_or_default().to_string();
        if op == "DescribeKey" && line["response"]["status"] == 200 {
            line["response"]["body"] = Value::String(body.replace(r#""Enabled":true"#, r#""Enabled":false"#));
            edited.push(line["seq"].as_u64().unwrap());
        } else if op == "DescribeKey" {
            line["response"]["status"] = 404.into();
            edited.push(line["seq"].as_u64().unwrap());
        } else if op == "Query" {
            line["response"]["body"] = Value::String(body.replace(r#""Count":3"#, r#""Count":2"#));
            edited.push(line["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(edited.len(), 3);
    let altered_path = dir.path().join("altered.jsonl");
    write(&altered_path, &altered);
    let report = replay(&altered_path, &ReplayOptions::default()).await.unwrap();
    let Outcome::Differences(differing) = &report.outcome else { panic!("differences expected: {report}") };
    let seqs: Vec<u64> = differing.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, edited, "{report}");
    let at: Vec<&str> = differing.iter().flat_map(|d| d.differences.iter().map(|x| x.at.as_str())).collect();
    assert_eq!(at, ["body.KeyMetadata.Enabled", "status", "body.Count"], "{report}");
    assert_eq!(report.matched, entries.len() - 3);
}
