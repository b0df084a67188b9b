//! Credentials: any key by default; `--strict-auth` verifies SigV4 and answers each protocol's
//! own authentication errors. These go through the real SDK signers, so a passing strict-mode
//! call also proves the emulator's canonical-request construction matches the SDK's.

use crate::common;

const ROLE: &str = "arn:aws:iam::000000000000:role/backend";

async fn strict() -> emulator::EmulatorHandle {
    common::builder().strict_auth(true).credential("AKIDBACKEND", "backend-secret", ROLE).start().await.unwrap()
}

#[tokio::test]
async fn strict_mode_accepts_correct_signatures_on_every_protocol() {
    let emu = strict().await;
    let cfg = common::sdk_config_as(emu.url(), "AKIDBACKEND", "backend-secret");
    // restXml, including the SDK's default streaming-checksum upload.
    let s3 = common::s3_with(&cfg);
    s3.create_bucket().bucket("signed").send().await.unwrap();
    s3.put_object().bucket("signed").key("a dir/é.txt").body(b"hello".to_vec().into()).send().await.unwrap();
    let got = s3.get_object().bucket("signed").key("a dir/é.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    // awsJson1_1
    aws_sdk_kms::Client::new(&cfg).list_keys().send().await.unwrap();
    // awsQuery
    aws_sdk_sns::Client::new(&cfg).list_topics().send().await.unwrap();
}

#[tokio::test]
async fn strict_mode_rejects_a_wrong_secret_with_each_protocols_error() {
    let emu = strict().await;
    let cfg = common::sdk_config_as(emu.url(), "AKIDBACKEND", "not-the-secret");

    let e = common::s3_with(&cfg).list_buckets().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("SignatureDoesNotMatch", Some(403)));

    let e = aws_sdk_kms::Client::new(&cfg).list_keys().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidSignatureException", Some(400)));

    let e = aws_sdk_sns::Client::new(&cfg).list_topics().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("SignatureDoesNotMatch", Some(403)));
}

#[tokio::test]
async fn strict_mode_rejects_unknown_access_keys() {
    let emu = strict().await;
    let cfg = common::sdk_config_as(emu.url(), "AKIDUNKNOWN", "whatever");

    let e = common::s3_with(&cfg).list_buckets().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidAccessKeyId", Some(403)));

    let e = aws_sdk_kms::Client::new(&cfg).list_keys().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("UnrecognizedClientException", Some(400)));

    let e = aws_sdk_sns::Client::new(&cfg).list_topics().send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidClientTokenId", Some(403)));
}

#[tokio::test]
async fn strict_mode_rejects_unsigned_requests() {
    let emu = strict().await;
    let resp = common::http()
        .post(emu.url())
        .header("X-Amz-Target", "TrentService.ListKeys")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");

    let resp = common::http().get(format!("{}/some-bucket", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("<Code>AccessDenied</Code>"));
}

#[tokio::test]
async fn default_mode_accepts_any_key_and_maps_it_to_the_account_root() {
    let emu = common::start().await;
    let cfg = common::sdk_config_as(emu.url(), "AKIDANYTHING", "any-secret");
    common::s3_with(&cfg).list_buckets().send().await.unwrap();
    aws_sdk_kms::Client::new(&cfg).list_keys().send().await.unwrap();
    // A key made by an unmapped access key is owned by, and usable by, the account root.
    let key = aws_sdk_kms::Client::new(&cfg).create_key().send().await.unwrap();
    let meta = key.key_metadata.unwrap();
    assert_eq!(meta.aws_account_id.as_deref(), Some("000000000000"));
    let enc = common::kms(emu.url()).encrypt().key_id(meta.key_id).plaintext(b"x".to_vec().into()).send().await;
    assert!(enc.is_ok(), "{enc:?}");
}

/// Auth errors snapshot per protocol (request ids redacted): the shapes SDKs parse.
#[tokio::test]
async fn auth_error_shapes_per_protocol() {
    let emu = strict().await;
    let http = common::http();
    let json = http
        .post(emu.url())
        .header("X-Amz-Target", "TrentService.ListKeys")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=NOPE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("X-Amz-Date", "20260101T000000Z")
        .body("{}")
        .send()
        .await
        .unwrap();
    let query = http
        .post(emu.url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=NOPE/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("X-Amz-Date", "20260101T000000Z")
        .body("Action=ListTopics&Version=2010-03-31")
        .send()
        .await
        .unwrap();
    let xml = http
        .get(format!("{}/bucket/key", emu.url()))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=NOPE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("X-Amz-Date", "20260101T000000Z")
        .send()
        .await
        .unwrap();
    let mut out = String::new();
    for (name, resp) in [("awsJson1_1", json), ("awsQuery", query), ("restXml", xml)] {
        let status = resp.status().as_u16();
        let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let has_id = resp.headers().contains_key("x-amzn-requestid") || resp.headers().contains_key("x-amz-request-id");
        let body = common::redact_ids(&resp.text().await.unwrap());
        out.push_str(&format!("== {name}: {status} {ctype} request-id-header={has_id}\n{body}\n"));
    }
    insta::assert_snapshot!(out);
}
