//! The gateway and admin API: health, CORS, unknown operations, clock, request ids.

use crate::common;

#[tokio::test]
async fn health_reports_services_and_uptime() {
    let emu = common::start().await;
    let v: serde_json::Value =
        common::http().get(format!("{}/_emulator/health", emu.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "running");
    let services: Vec<&str> = v["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for s in ["s3", "kms", "sns"] {
        assert!(services.contains(&s), "{services:?}");
    }
    assert!(v["uptimeSeconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn cors_preflight_is_answered_for_any_origin() {
    let emu = common::start().await;
    let resp = common::http()
        .request(reqwest::Method::OPTIONS, format!("{}/bucket/key", emu.url()))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "authorization,x-amz-date,x-amz-target")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("PUT"));
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("x-amz-target"));
}

#[tokio::test]
async fn actual_cors_response_exposes_request_id_and_etag() {
    let emu = common::start().await;
    let resp = common::http()
        .post(emu.url())
        .header("Origin", "http://localhost:3000")
        .header("X-Amz-Target", "TrentService.NoSuchOperation")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"].to_str().unwrap().to_string();
    assert!(exposed.contains("etag") && exposed.contains("x-amzn-requestid"), "{exposed}");
}

#[tokio::test]
async fn unknown_json_operation_is_unknown_operation_exception() {
    let emu = common::start().await;
    for target in ["TrentService.NoSuchOperation", "NoSuchService_2020.Op"] {
        let resp = common::http()
            .post(emu.url())
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{target}");
        assert!(resp.headers().contains_key("x-amzn-requestid"));
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["__type"], "UnknownOperationException", "{target}");
    }
}

#[tokio::test]
async fn unknown_query_action_is_invalid_action_xml() {
    let emu = common::start().await;
    let resp = common::http()
        .post(emu.url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("Action=NoSuchAction&Version=2010-03-31")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("<Code>InvalidAction</Code>"), "{text}");
    assert!(text.contains("<Type>Sender</Type>"), "{text}");
}

#[tokio::test]
async fn clock_can_be_frozen_and_advanced() {
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let emu = common::builder().clock(t0).start().await.unwrap();
    let url = format!("{}/_emulator/clock", emu.url());
    let v: serde_json::Value = common::http().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["now"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["frozen"], true);
    let v: serde_json::Value = common::http()
        .post(&url)
        .json(&serde_json::json!({"advance": "1h 30m"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["now"], "2026-01-01T01:30:00.000Z");
    let bad = common::http().post(&url).query(&[("advance", "soon")]).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn oversized_body_is_rejected_with_an_aws_error_not_a_crash() {
    let mut config = emulator::Config { state: emulator::StateLocation::InMemory, port: 0, ..Default::default() };
    config.max_body_bytes = 1024;
    let emu = emulator::Emulator::builder().config(config).start().await.unwrap();
    let resp = common::http()
        .post(emu.url())
        .header("X-Amz-Target", "TrentService.Encrypt")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["__type"], "RequestEntityTooLarge");
    // The server is still healthy afterwards.
    let ok = common::http().get(format!("{}/_emulator/health", emu.url())).send().await.unwrap();
    assert!(ok.status().is_success());
}

#[tokio::test]
async fn same_seed_and_clock_give_the_same_ids_and_ciphertexts() {
    let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emu = common::builder().seed(7).clock(t0).start().await.unwrap();
        let kms = common::kms(emu.url());
        let meta = kms.create_key().send().await.unwrap().key_metadata.unwrap();
        let blob = kms.encrypt().key_id(&meta.key_id).plaintext(b"same".to_vec().into()).send().await.unwrap();
        let topic = common::sns(emu.url()).create_topic().name("t").send().await.unwrap();
        runs.push((meta.key_id, meta.creation_date, blob.ciphertext_blob.unwrap().into_inner(), topic.topic_arn));
    }
    assert_eq!(runs[0], runs[1]);
    // A different seed gives different keys.
    let emu = common::builder().seed(8).clock(t0).start().await.unwrap();
    let other = common::kms(emu.url()).create_key().send().await.unwrap().key_metadata.unwrap();
    assert_ne!(other.key_id, runs[0].0);
}

#[tokio::test]
async fn reset_wipes_every_service() {
    let emu = common::start().await;
    let (s3, kms, sns) = (common::s3(emu.url()), common::kms(emu.url()), common::sns(emu.url()));
    s3.create_bucket().bucket("gone").send().await.unwrap();
    kms.create_key().send().await.unwrap();
    sns.create_topic().name("gone").send().await.unwrap();
    let resp = common::http().post(format!("{}/_emulator/reset", emu.url())).send().await.unwrap();
    assert!(resp.status().is_success());
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
}
