//! Fixtures: an instance's whole state exported and loaded into another is the same state
//! (`load(export(s)) == s`) and behaves the same — objects, ciphertexts and passwords still
//! open, and the next generated id is the one the first instance would have made; a
//! hand-written world loads through the services' handlers, keys with their material included.

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType, UserStatusType};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use serde_json::{Value, json};

use crate::cognito::{PASSWORD, client, login, pool, signed_up};
use crate::common;

async fn export(url: &str) -> Value {
    let resp = common::http().get(format!("{url}/_emulator/state")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn load(url: &str, document: String) -> (u16, Value) {
    let resp = common::http().post(format!("{url}/_emulator/state")).body(document).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn an_exported_state_loads_into_a_fresh_instance_as_the_same_state() {
    let a = common::builder().seed(5).clock("2026-02-01T12:00:00Z".parse().unwrap()).start().await.unwrap();
    let url = a.url();
    let cfg = common::sdk_config(url);
    let s3 = common::s3_with(&cfg);
    s3.create_bucket().bucket("photos").send().await.unwrap();
    s3.put_object().bucket("photos").key("cat.jpg").body(vec![1u8, 2, 3, 255].into()).send().await.unwrap();
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/chat").target_key_id(&key).send().await.unwrap();
    let sealed = kms.encrypt().key_id("alias/chat").plaintext(Blob::new("secret")).send().await.unwrap();
    let ciphertext = sealed.ciphertext_blob.unwrap();
    let db = aws_sdk_dynamodb::Client::new(&cfg);
    common::pk_table(&db, "items").await;
    db.put_item().table_name("items").item("pk", AttributeValue::S("k".into())).send().await.unwrap();
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let pool_id = pool(&idp, false).await;
    let client_id = client(&idp, &pool_id).await;
    signed_up(url, &idp, &client_id, "alice", "alice@example.com").await;
    let sns = aws_sdk_sns::Client::new(&cfg);
    let topic = sns.create_topic().name("news").send().await.unwrap().topic_arn.unwrap();
    sns.subscribe().topic_arn(&topic).protocol("email").endpoint("bob@example.com").send().await.unwrap();
    let fault = json!({"id": "later", "service": "s3", "operation": "DeleteBucket", "count": 2, "error": {"code": "InternalError"}});
    common::http().post(format!("{url}/_emulator/faults")).json(&fault).send().await.unwrap();

    let exported = export(url).await;
    assert_eq!(exported["clock"], json!({"now": "2026-02-01T12:00:00Z", "frozen": true}));
    let tables = exported["state"].as_object().unwrap();
    assert!(tables["kms_keys"]["rows"].as_array().unwrap().len() == 1 && tables.contains_key("cognito_users"));

    // Into a fresh, unseeded instance with a running clock, as YAML.
    let b = common::builder().start().await.unwrap();
    let (status, answer) = load(b.url(), serde_yaml_ng::to_string(&exported).unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(export(b.url()).await, exported, "load(export(state)) == state");
    // The generator continues where the exported instance stood: the same next key id.
    let kms_b = aws_sdk_kms::Client::new(&common::sdk_config(b.url()));
    let next_a = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let next_b = kms_b.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(next_a, next_b);

    // It behaves as the same state.
    let cfg_b = common::sdk_config(b.url());
    let got = common::s3_with(&cfg_b).get_object().bucket("photos").key("cat.jpg").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), [1u8, 2, 3, 255]);
    let opened = kms_b.decrypt().ciphertext_blob(ciphertext).send().await.unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"secret");
    let idp_b = aws_sdk_cognitoidentityprovider::Client::new(&cfg_b);
    assert!(login(&idp_b, &client_id, "alice", PASSWORD).await.access_token.is_some());
    let item = aws_sdk_dynamodb::Client::new(&cfg_b)
        .get_item()
        .table_name("items")
        .key("pk", AttributeValue::S("k".into()))
        .send()
        .await
        .unwrap();
    assert!(item.item.is_some());
    let e = common::s3_with(&cfg_b).delete_bucket().bucket("photos").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InternalError", "the fault came along");
}

#[tokio::test]
async fn a_hand_written_world_loads_through_the_services() {
    let fixture = emulator::fixtures::parse(include_str!("../../../fixtures/example.yaml")).unwrap();
    let emu = common::builder().fixture(fixture).start().await.unwrap();
    let url = emu.url();
    let cfg = common::sdk_config(url);
    let clock: Value = common::http().get(format!("{url}/_emulator/clock")).send().await.unwrap().json().await.unwrap();
    assert_eq!(clock, json!({"now": "2026-03-01T09:00:00.000Z", "frozen": true}));

    let db = aws_sdk_dynamodb::Client::new(&cfg);
    let notes = db
        .query()
        .table_name("notes")
        .key_condition_expression("pk = :u")
        .expression_attribute_values(":u", AttributeValue::S("user#alice".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(notes.count(), 2);
    assert_eq!(notes.items()[0]["stars"], AttributeValue::N("3".into()));

    let idp = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let pools = idp.list_user_pools().max_results(10).send().await.unwrap();
    let pool_id = pools.user_pools()[0].id().unwrap().to_string();
    // The client's generated id, read from the exported state.
    let state = export(url).await;
    let clients = &state["state"]["cognito_clients"];
    let column = clients["columns"].as_array().unwrap().iter().position(|c| c == "client_id").unwrap();
    let client_id = clients["rows"][0][column].as_str().unwrap().to_string();
    assert_eq!(clients["rows"][0][column + 1], pool_id.as_str());
    assert!(login(&idp, &client_id, "alice", PASSWORD).await.id_token.is_some());
    let e = idp
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "carol")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "UserNotConfirmedException");
    assert_eq!(common::mailbox(url, "carol@example.com").await.len(), 1, "carol's code was mailed");

    // A key with given material: a ciphertext made here opens in another instance of the world.
    let kms = aws_sdk_kms::Client::new(&cfg);
    let sealed = kms.encrypt().key_id("alias/notes").plaintext(Blob::new("note")).send().await.unwrap();
    let other = common::builder()
        .seed(99)
        .fixture(emulator::fixtures::parse(include_str!("../../../fixtures/example.yaml")).unwrap())
        .start()
        .await
        .unwrap();
    let opened = aws_sdk_kms::Client::new(&common::sdk_config(other.url()))
        .decrypt()
        .ciphertext_blob(sealed.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"note");
    assert_eq!(opened.key_id.unwrap(), "arn:aws:kms:us-east-1:000000000000:key/5f0c6a3e-2b1d-4c8e-9a7f-1e2d3c4b5a69");

    // Objects, stored as any upload; a topic with its subscription waiting for confirmation.
    let s3 = common::s3_with(&cfg);
    let welcome = s3.get_object().bucket("attachments").key("welcome.txt").send().await.unwrap();
    assert_eq!(welcome.content_type(), Some("text/plain"));
    assert_eq!(welcome.body.collect().await.unwrap().into_bytes().as_ref(), b"Welcome!");
    let pixel = s3.get_object().bucket("attachments").key("pixel.gif").send().await.unwrap();
    assert_eq!(pixel.body.collect().await.unwrap().into_bytes().len(), 14);
    let sns = aws_sdk_sns::Client::new(&cfg);
    let topics = sns.list_topics().send().await.unwrap();
    let topic = topics.topics()[0].topic_arn().unwrap().to_string();
    assert!(topic.ends_with(":notices"));
    let subs = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    assert_eq!(subs.subscriptions()[0].endpoint(), Some("alice@example.com"));

    // Loading the world again changes nothing that is there.
    let (status, answer) = load(url, include_str!("../../../fixtures/example.yaml").to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert!(login(&idp, &client_id, "alice", PASSWORD).await.id_token.is_some());
    assert_eq!(idp.list_user_pools().max_results(10).send().await.unwrap().user_pools().len(), 1);
    assert_eq!(sns.list_topics().send().await.unwrap().topics().len(), 1);
    assert_eq!(s3.list_buckets().send().await.unwrap().buckets().len(), 1);

    let faults: Value =
        common::http().get(format!("{url}/_emulator/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(faults["faults"][0]["id"], "slow-scan");
}

#[tokio::test]
async fn bad_fixtures_are_refused_with_a_reason_and_change_nothing() {
    let emu = common::start().await;
    let url = emu.url();
    let s3 = common::s3(url);
    s3.create_bucket().bucket("kept").send().await.unwrap();
    for (document, says) in [
        ("clock: [", "not a fixture"),
        ("tabels: []", "unknown field `tabels`"),
        ("fixture: 9", "fixture format 9"),
        ("state: { no_such_table: { columns: [a], rows: [[1]] } }", "unknown table"),
        ("state: { s3_buckets: { columns: [name], rows: [[1, 2]] } }", "2 values for 1 columns"),
        ("faults: [{ service: ec2, latencyMs: 1 }]", "unknown service"),
        ("tables: [{ name: missing }]", "partitionKey"),
        (
            "pools: [{ name: p, clients: [c], users: [{ username: u, password: P, confirmed: false, forceChangePassword: true }] }]",
            "exclude each other",
        ),
        ("pools: [{ name: p, adminOnly: true }]", "unknown field `adminOnly`"),
        (
            "app: { password: P, users: [{ pool: UserPool, username: a }], requests: [{ as: a, api: Api, method: POST, path: \"/rooms/${saved:room}/join\" }] }",
            "no earlier request saves room",
        ),
        (
            "app: { password: P, users: [{ pool: UserPool, username: a }], items: [{ table: T, item: { pk: { S: \"${sub:eve}\" } } }] }",
            "eve is not a demo user",
        ),
    ] {
        let (status, answer) = load(url, document.to_string()).await;
        assert_eq!(status, 400, "{document}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{document}: {answer}");
    }
    assert_eq!(s3.list_buckets().send().await.unwrap().buckets().len(), 1, "nothing was wiped");

    // A section that fails only when applied (the pool's policy refuses the password) after
    // others went through: the whole load is undone, clock included.
    let before = export(url).await;
    let document = "clock: { now: 2030-01-01T00:00:00Z, frozen: true }\n\
                    tables: [{ name: half, partitionKey: { name: pk, type: S } }]\n\
                    buckets: [{ name: half-bucket }]\n\
                    pools: [{ name: p, clients: [c], users: [{ username: u, password: short }] }]\n";
    let (status, answer) = load(url, document.to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("nothing was loaded"), "{answer}");
    let db = aws_sdk_dynamodb::Client::new(&common::sdk_config(url));
    assert!(db.list_tables().send().await.unwrap().table_names().is_empty(), "the table section was undone");
    assert_eq!(s3.list_buckets().send().await.unwrap().buckets().len(), 1, "the bucket section was undone");
    let mut after = export(url).await;
    assert_eq!(after["clock"]["frozen"], false, "the fixture's frozen clock was undone");
    let mut before = before;
    for v in [&mut after, &mut before] {
        v["clock"]["now"] = Value::Null; // a running clock has moved on
    }
    assert_eq!(after, before, "the whole state, clock and generator as they were");
}

#[tokio::test]
async fn admin_only_pool_fixture_refuses_sign_up_and_asks_its_new_user_for_a_password() {
    let text = include_str!("../../../fixtures/admin-only-pool.yaml");
    let fixture = emulator::fixtures::parse(text).unwrap();
    let spec = &fixture.pools[0];
    let dana = spec.users.iter().find(|u| u.force_change_password).expect("a user awaiting a new password");
    let erin = spec.users.iter().find(|u| !u.force_change_password).expect("a confirmed user");
    let emu = common::builder().fixture(fixture.clone()).start().await.unwrap();
    let cfg = common::sdk_config(emu.url());
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&cfg);

    let pools = idp.list_user_pools().max_results(10).send().await.unwrap();
    let pool_id =
        pools.user_pools().iter().find(|p| p.name() == Some(spec.name.as_str())).unwrap().id().unwrap().to_string();
    let described = idp.describe_user_pool().user_pool_id(&pool_id).send().await.unwrap().user_pool.unwrap();
    assert!(described.admin_create_user_config.unwrap().allow_admin_create_user_only, "admin-only");
    // The client's generated id, read from the exported state (the emulator has no
    // ListUserPoolClients).
    let exported = export(emu.url()).await;
    let clients = &exported["state"]["cognito_clients"];
    let column = clients["columns"].as_array().unwrap().iter().position(|c| c == "client_id").unwrap();
    let client_id = clients["rows"][0][column].as_str().unwrap().to_string();
    let status = |user: &str| {
        let req = idp.admin_get_user().user_pool_id(&pool_id).username(user);
        async move { req.send().await.unwrap().user_status.unwrap() }
    };
    assert_eq!(status(&dana.username).await, UserStatusType::ForceChangePassword);
    assert_eq!(status(&erin.username).await, UserStatusType::Confirmed);

    // Nobody signs themselves up.
    let e = idp
        .sign_up()
        .client_id(&client_id)
        .username("mallory")
        .password("Mallory-Passw0rd-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "NotAuthorizedException");
    assert_eq!(common::message(&e), "SignUp is not permitted for this user pool");
    assert!(common::mailbox(emu.url(), "mallory@example.com").await.is_empty());

    // The exported world loads as the same state elsewhere; there, dana's first sign-in asks for
    // a new password, and answering it yields tokens.
    let exported = export(emu.url()).await;
    let other = common::builder().start().await.unwrap();
    let (code, answer) = load(other.url(), serde_json::to_string(&exported).unwrap()).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(export(other.url()).await, exported, "load(export(state)) == state");
    for url in [emu.url(), other.url()] {
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&common::sdk_config(url));
        // Dana's sign-in with her temporary password.
        let with_temporary = || {
            idp.initiate_auth()
                .client_id(&client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", &dana.username)
                .auth_parameters("PASSWORD", &dana.password)
                .send()
        };
        let first = with_temporary().await.unwrap();
        assert_eq!(first.challenge_name, Some(ChallengeNameType::NewPasswordRequired));
        assert!(first.authentication_result.is_none());
        let answered = idp
            .respond_to_auth_challenge()
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(first.session.unwrap())
            .challenge_responses("USERNAME", &dana.username)
            .challenge_responses("NEW_PASSWORD", "Chosen-Passw0rd-2")
            .send()
            .await
            .unwrap();
        let tokens = answered.authentication_result.expect("tokens");
        assert!(tokens.access_token.is_some() && tokens.id_token.is_some() && tokens.refresh_token.is_some());
        let user = idp.admin_get_user().user_pool_id(&pool_id).username(&dana.username).send().await.unwrap();
        assert_eq!(user.user_status, Some(UserStatusType::Confirmed));
        assert!(login(&idp, &client_id, &dana.username, "Chosen-Passw0rd-2").await.access_token.is_some());
        let e = with_temporary().await.unwrap_err();
        assert_eq!(common::code(&e), "NotAuthorizedException", "the temporary password is spent");
        assert!(login(&idp, &client_id, &erin.username, &erin.password).await.access_token.is_some());
    }
}

/// Objects are sealed under the instance's master key, which an instance reads once and keeps:
/// loading another instance's state (with its own key) or resetting must not leave the old key
/// in use.
#[tokio::test]
async fn objects_open_after_a_load_or_reset_replaces_the_master_key() {
    let a = common::builder().seed(11).start().await.unwrap();
    let b = common::builder().seed(12).start().await.unwrap();
    let (sa, sb) = (common::s3_with(&common::sdk_config(a.url())), common::s3_with(&common::sdk_config(b.url())));
    for (s3, text) in [(&sa, "from a"), (&sb, "from b")] {
        s3.create_bucket().bucket("box").send().await.unwrap();
        s3.put_object().bucket("box").key("note").body(text.as_bytes().to_vec().into()).send().await.unwrap();
        // Read once, so each instance holds its own key in memory.
        s3.get_object().bucket("box").key("note").send().await.unwrap();
    }
    let (status, body) = load(b.url(), export(a.url()).await.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let got = sb.get_object().bucket("box").key("note").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"from a");

    let reset = common::http().post(format!("{}/_emulator/reset", b.url())).send().await.unwrap();
    assert!(reset.status().is_success());
    sb.create_bucket().bucket("box").send().await.unwrap();
    sb.put_object().bucket("box").key("after").body(b"after reset".to_vec().into()).send().await.unwrap();
    let got = sb.get_object().bucket("box").key("after").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"after reset");
    // The key made after the reset is the one in the state: an export opens elsewhere.
    let c = common::builder().start().await.unwrap();
    let (status, body) = load(c.url(), export(b.url()).await.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let sc = common::s3_with(&common::sdk_config(c.url()));
    let got = sc.get_object().bucket("box").key("after").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"after reset");
}
