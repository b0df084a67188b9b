//! S3 through the AWS SDK for Rust (path-style), plus hand-made requests for wire details.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete, MetadataDirective,
    ObjectIdentifier, ServerSideEncryption,
};
use base64::Engine;

use crate::common;

const MIB: usize = 1024 * 1024;

async fn bucket(s3: &Client, name: &str) {
    s3.create_bucket().bucket(name).send().await.expect("create bucket");
}

async fn put(
    s3: &Client,
    b: &str,
    k: &str,
    body: impl Into<Vec<u8>>,
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    s3.put_object().bucket(b).key(k).body(ByteStream::from(body.into())).send().await.expect("put object")
}

async fn get_bytes(s3: &Client, b: &str, k: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(b).key(k).send().await.expect("get object");
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn bucket_lifecycle_and_errors() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "alpha").await;
    bucket(&s3, "beta").await;

    // us-east-1 answers 200 to the owner re-creating a bucket (legacy behaviour).
    s3.create_bucket().bucket("alpha").send().await.expect("re-create in us-east-1");

    s3.head_bucket().bucket("alpha").send().await.expect("head bucket");
    let names: Vec<String> =
        s3.list_buckets().send().await.unwrap().buckets().iter().map(|b| b.name().unwrap().to_string()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let loc = s3.get_bucket_location().bucket("alpha").send().await.unwrap();
    assert!(loc.location_constraint().is_none_or(|c| c.as_str().is_empty()), "{loc:?}");

    // Outside us-east-1 the owner gets BucketAlreadyOwnedByYou.
    let eu = common::s3_with(
        &aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(emu.url())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "test"),
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    );
    eu.create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("create in eu-west-1");
    let loc = s3.get_bucket_location().bucket("gamma").send().await.unwrap();
    assert_eq!(loc.location_constraint().unwrap().as_str(), "eu-west-1");
    let err = eu
        .create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("BucketAlreadyOwnedByYou", Some(409)));

    // Bad names.
    let resp = common::http().put(format!("{}/Bad_Name", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidBucketName</Code>"));

    // Not empty, then empty.
    put(&s3, "alpha", "k", "v").await;
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("BucketNotEmpty", Some(409)));
    s3.delete_object().bucket("alpha").key("k").send().await.unwrap();
    s3.delete_bucket().bucket("alpha").send().await.expect("delete empty bucket");

    let err = s3.head_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(common::status(&err), Some(404));
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));
    let err = s3.list_objects_v2().bucket("alpha").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));
    let err = s3.put_object().bucket("alpha").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));
}

#[tokio::test]
async fn put_get_head_with_metadata_checksums_and_encryption() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "bkt").await;
    let body = b"hello, emulator".to_vec();
    let out = s3
        .put_object()
        .bucket("bkt")
        .key("dir/hello.txt")
        .body(ByteStream::from(body.clone()))
        .content_type("text/plain")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"h.txt\"")
        .content_language("en")
        .metadata("owner", "alice")
        .metadata("purpose", "test")
        .send()
        .await
        .unwrap();
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&body))
    };
    assert_eq!(out.e_tag(), Some(format!("\"{md5}\"").as_str()));
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));

    // The SDK validates the returned checksum against the body it reads.
    let got =
        s3.get_object().bucket("bkt").key("dir/hello.txt").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"h.txt\""));
    assert_eq!(got.content_language(), Some("en"));
    assert_eq!(got.metadata().unwrap()["owner"], "alice");
    assert_eq!(got.metadata().unwrap()["purpose"], "test");
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(got.checksum_crc32().is_some(), "the SDK uploads with CRC32 by default");
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    let head = s3.head_object().bucket("bkt").key("dir/hello.txt").send().await.unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.e_tag(), Some(format!("\"{md5}\"").as_str()));
    assert_eq!(head.metadata().unwrap()["owner"], "alice");
    assert!(head.last_modified().is_some());

    // Explicit algorithms round-trip too.
    for algo in
        [ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Crc32C, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Crc64Nvme]
    {
        s3.put_object()
            .bucket("bkt")
            .key("algo")
            .checksum_algorithm(algo.clone())
            .body(ByteStream::from_static(b"checksummed"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{algo:?}: {e:?}"));
        let got = s3.get_object().bucket("bkt").key("algo").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"checksummed");
    }

    // Missing keys and buckets.
    let err = s3.get_object().bucket("bkt").key("nope").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchKey", Some(404)));
    let err = s3.head_object().bucket("bkt").key("nope").send().await.unwrap_err();
    assert_eq!(common::status(&err), Some(404));
    let err = s3.get_object().bucket("nobucket").key("k").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));

    // Delete is idempotent.
    s3.delete_object().bucket("bkt").key("dir/hello.txt").send().await.unwrap();
    s3.delete_object().bucket("bkt").key("dir/hello.txt").send().await.expect("204 for a missing key too");
    let err = s3.get_object().bucket("bkt").key("dir/hello.txt").send().await.unwrap_err();
    assert_eq!(common::code(&err), "NoSuchKey");
}

/// A PutObject stores the new body and removes the one it replaces in the same transaction, so
/// the store holds one body per object, and a PutObject into a bucket that is gone stores none.
#[tokio::test]
async fn replacing_an_object_keeps_one_body_per_object() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    let bodies = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM s3_blobs").fetch_one(emu.state().store.pool()).await.unwrap()
    };
    bucket(&s3, "over").await;
    for n in 0..3 {
        put(&s3, "over", "k", pattern(1000 + n)).await;
    }
    put(&s3, "over", "other", pattern(10)).await;
    assert_eq!(get_bytes(&s3, "over", "k").await, pattern(1002));
    assert_eq!(get_bytes(&s3, "over", "other").await, pattern(10));
    assert_eq!(bodies().await, 2);

    for key in ["k", "other"] {
        s3.delete_object().bucket("over").key(key).send().await.unwrap();
    }
    s3.delete_bucket().bucket("over").send().await.unwrap();
    let err = s3.put_object().bucket("over").key("k").body(ByteStream::from(pattern(5))).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));
    assert_eq!(bodies().await, 0);
}

#[tokio::test]
async fn six_mib_object_and_odd_keys() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "big").await;
    let body = pattern(6 * MIB);
    put(&s3, "big", "six", body.clone()).await;
    assert_eq!(get_bytes(&s3, "big", "six").await, body);
    let got = s3.get_object().bucket("big").key("six").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), 6 * MIB);

    for key in ["a b/c+d=e&f?g#h", "ünïcødé/日本語.txt", "trailing/", "x%2Fy"] {
        put(&s3, "big", key, key.as_bytes().to_vec()).await;
        assert_eq!(get_bytes(&s3, "big", key).await, key.as_bytes(), "{key}");
    }
    let keys: Vec<String> = s3
        .list_objects_v2()
        .bucket("big")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    assert!(keys.contains(&"ünïcødé/日本語.txt".to_string()), "{keys:?}");
    assert!(keys.contains(&"x%2Fy".to_string()), "{keys:?}");
}

#[tokio::test]
async fn ranges_and_conditional_gets() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "bkt").await;
    let out = put(&s3, "bkt", "k", "0123456789").await;
    let etag = out.e_tag().unwrap().to_string();

    let r = s3.get_object().bucket("bkt").key("k").range("bytes=2-4").send().await.unwrap();
    assert_eq!(r.content_range(), Some("bytes 2-4/10"));
    assert_eq!(r.content_length(), Some(3));
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), b"234");
    let r = s3.get_object().bucket("bkt").key("k").range("bytes=7-").send().await.unwrap();
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), b"789");
    let r = s3.get_object().bucket("bkt").key("k").range("bytes=-3").send().await.unwrap();
    assert_eq!(r.content_range(), Some("bytes 7-9/10"));
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), b"789");
    let r = s3.get_object().bucket("bkt").key("k").range("bytes=5-100").send().await.unwrap();
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), b"56789");

    let err = s3.get_object().bucket("bkt").key("k").range("bytes=10-").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidRange", Some(416)));
    let raw = common::http().get(format!("{}/bkt/k", emu.url())).header("Range", "bytes=20-30").send().await.unwrap();
    assert_eq!(raw.status(), 416);
    let text = raw.text().await.unwrap();
    assert!(text.contains("<ActualObjectSize>10</ActualObjectSize>"), "{text}");

    // Raw 206 carries Content-Range and Accept-Ranges.
    let raw = common::http().get(format!("{}/bkt/k", emu.url())).header("Range", "bytes=0-0").send().await.unwrap();
    assert_eq!(raw.status(), 206);
    assert_eq!(raw.headers()["content-range"], "bytes 0-0/10");
    assert_eq!(raw.headers()["accept-ranges"], "bytes");

    // If-Match / If-None-Match.
    s3.get_object().bucket("bkt").key("k").if_match(&etag).send().await.expect("matching If-Match");
    let err = s3.get_object().bucket("bkt").key("k").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("PreconditionFailed", Some(412)));
    let err = s3.get_object().bucket("bkt").key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(common::status(&err), Some(304));
    s3.get_object().bucket("bkt").key("k").if_none_match("\"other\"").send().await.expect("non-matching If-None-Match");

    // Dates: the object was just written.
    let past = aws_smithy_types::DateTime::from_secs(0);
    let future = aws_smithy_types::DateTime::from_secs(4_000_000_000);
    let err = s3.get_object().bucket("bkt").key("k").if_modified_since(future).send().await.unwrap_err();
    assert_eq!(common::status(&err), Some(304));
    s3.get_object().bucket("bkt").key("k").if_modified_since(past).send().await.expect("modified since 1970");
    let err = s3.get_object().bucket("bkt").key("k").if_unmodified_since(past).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("PreconditionFailed", Some(412)));
    // AWS precedence: If-Match true wins over If-Unmodified-Since false ...
    s3.get_object()
        .bucket("bkt")
        .key("k")
        .if_match(&etag)
        .if_unmodified_since(past)
        .send()
        .await
        .expect("If-Match wins");
    // ... and If-None-Match false (not matching) wins over If-Modified-Since (not modified).
    s3.get_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("\"other\"")
        .if_modified_since(future)
        .send()
        .await
        .expect("If-None-Match wins");
    // HEAD honours the same conditions.
    let err = s3.head_object().bucket("bkt").key("k").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(common::status(&err), Some(412));

    // response-* overrides.
    let r = s3.get_object().bucket("bkt").key("k").response_content_type("application/x-test").send().await.unwrap();
    assert_eq!(r.content_type(), Some("application/x-test"));
}

#[tokio::test]
async fn listing_with_delimiter_prefix_and_pagination() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "lst").await;
    for k in ["a.txt", "photos/2024/1.jpg", "photos/2024/2.jpg", "photos/2025/1.jpg", "photos/x.jpg", "z/1", "z/2"] {
        put(&s3, "lst", k, "x").await;
    }
    let out = s3.list_objects_v2().bucket("lst").delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(keys, ["a.txt"]);
    assert_eq!(prefixes, ["photos/", "z/"]);
    assert_eq!(out.key_count(), Some(3));
    assert_eq!(out.is_truncated(), Some(false));

    let out = s3.list_objects_v2().bucket("lst").prefix("photos/").delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(keys, ["photos/x.jpg"]);
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);

    // Pages of 1 with a delimiter: common prefixes are not repeated across pages.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("lst")
            .delimiter("/")
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(out.contents().iter().map(|o| o.key().unwrap().to_string()));
        seen.extend(out.common_prefixes().iter().map(|p| p.prefix().unwrap().to_string()));
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_string);
    }
    assert_eq!(seen, ["a.txt", "photos/", "z/"]);

    let out = s3.list_objects_v2().bucket("lst").start_after("photos/2025/1.jpg").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, ["photos/x.jpg", "z/1", "z/2"]);

    // v1 with marker.
    let out = s3.list_objects().bucket("lst").marker("photos/x.jpg").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, ["z/1", "z/2"]);
    let out = s3.list_objects().bucket("lst").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.next_marker(), Some("photos/"));

    // encoding-type=url.
    put(&s3, "lst", "sp ace", "x").await;
    let raw =
        common::http().get(format!("{}/lst?list-type=2&prefix=sp&encoding-type=url", emu.url())).send().await.unwrap();
    let text = raw.text().await.unwrap();
    assert!(text.contains("<Key>sp%20ace</Key>"), "{text}");

    // Bad parameters.
    let err = s3.list_objects_v2().bucket("lst").continuation_token("garbage!!").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidArgument", Some(400)));
    let raw = common::http().get(format!("{}/lst?list-type=2&max-keys=abc", emu.url())).send().await.unwrap();
    assert_eq!(raw.status(), 400);
}

#[tokio::test]
async fn listing_more_than_1000_keys_pages() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "many").await;
    let n = 1005;
    let mut tasks = Vec::new();
    for chunk in 0..5 {
        let s3 = s3.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..n).step_by(5) {
                put(&s3, "many", &format!("k{i:05}"), "x").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let first = s3.list_objects_v2().bucket("many").send().await.unwrap();
    assert_eq!(first.key_count(), Some(1000));
    assert_eq!(first.max_keys(), Some(1000));
    assert_eq!(first.is_truncated(), Some(true));
    let mut pages = s3.list_objects_v2().bucket("many").into_paginator().send();
    let mut keys = Vec::new();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        count += 1;
        keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_string()));
    }
    assert_eq!(count, 2);
    assert_eq!(keys.len(), n);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    sorted.dedup();
    assert_eq!(sorted.len(), n);
}

#[tokio::test]
async fn copy_object_with_replace_and_copy_directives() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "src").await;
    bucket(&s3, "dst").await;
    s3.put_object()
        .bucket("src")
        .key("a b/orig.txt")
        .content_type("text/plain")
        .metadata("v", "1")
        .body(ByteStream::from_static(b"copy me"))
        .send()
        .await
        .unwrap();

    let out = s3.copy_object().bucket("dst").key("copy1").copy_source("src/a%20b/orig.txt").send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    assert!(result.e_tag().unwrap().starts_with('"'));
    assert!(result.last_modified().is_some());
    let head = s3.head_object().bucket("dst").key("copy1").send().await.unwrap();
    assert_eq!(head.metadata().unwrap()["v"], "1");
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(get_bytes(&s3, "dst", "copy1").await, b"copy me");

    s3.copy_object()
        .bucket("dst")
        .key("copy2")
        .copy_source("src/a%20b/orig.txt")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("v", "2")
        .content_type("application/json")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket("dst").key("copy2").send().await.unwrap();
    assert_eq!(head.metadata().unwrap().get("v").map(String::as_str), Some("2"));
    assert_eq!(head.content_type(), Some("application/json"));

    // Copy onto itself needs a change.
    let err = s3.copy_object().bucket("dst").key("copy2").copy_source("dst/copy2").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidRequest", Some(400)));
    let err = s3.copy_object().bucket("dst").key("c").copy_source("src/missing").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchKey", Some(404)));
    let err = s3.copy_object().bucket("dst").key("c").copy_source("nosuchbucket/k").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchBucket", Some(404)));
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("c")
        .copy_source("src/a%20b/orig.txt")
        .copy_source_if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("PreconditionFailed", Some(412)));
}

#[tokio::test]
async fn delete_objects_verbose_quiet_and_malformed() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "del").await;
    for k in ["a", "b", "c"] {
        put(&s3, "del", k, "x").await;
    }
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
    };
    let out = s3.delete_objects().bucket("del").delete(ids(&["a", "missing"]).build().unwrap()).send().await.unwrap();
    let deleted: Vec<&str> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    assert_eq!(deleted, ["a", "missing"]);
    let out = s3.delete_objects().bucket("del").delete(ids(&["b"]).quiet(true).build().unwrap()).send().await.unwrap();
    assert!(out.deleted().is_empty());
    assert!(out.errors().is_empty());
    let left: Vec<String> = s3
        .list_objects_v2()
        .bucket("del")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    assert_eq!(left, ["c"]);

    // Malformed XML body.
    let body = b"<Delete><Object><Key>c</Key></Object".to_vec();
    let md5 = {
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))
    };
    let resp = common::http()
        .post(format!("{}/del?delete", emu.url()))
        .header("Content-MD5", md5)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>MalformedXML</Code>"));
    // No integrity header at all.
    let resp = common::http()
        .post(format!("{}/del?delete", emu.url()))
        .body("<Delete><Object><Key>c</Key></Object></Delete>")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidRequest</Code>"));
}

#[tokio::test]
async fn multipart_upload_two_parts_and_errors() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "mpu").await;
    let create =
        s3.create_multipart_upload().bucket("mpu").key("big.bin").content_type("application/zip").send().await.unwrap();
    let id = create.upload_id().unwrap().to_string();

    let part1 = pattern(5 * MIB);
    let part2 = b"tail".to_vec();
    let p1 = s3
        .upload_part()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(part1.clone()))
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(part2.clone()))
        .send()
        .await
        .unwrap();

    let parts = s3.list_parts().bucket("mpu").key("big.bin").upload_id(&id).send().await.unwrap();
    let sizes: Vec<i64> = parts.parts().iter().map(|p| p.size().unwrap()).collect();
    assert_eq!(sizes, [(5 * MIB) as i64, 4]);
    let uploads = s3.list_multipart_uploads().bucket("mpu").send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));

    // Wrong ETag → InvalidPart; parts out of order → InvalidPartOrder.
    let part = |n: i32, etag: &str| CompletedPart::builder().part_number(n).e_tag(etag).build();
    let err = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(part(1, "\"bad\"")).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidPart", Some(400)));
    let err = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(part(2, p2.e_tag().unwrap()))
                .parts(part(1, p1.e_tag().unwrap()))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidPartOrder", Some(400)));

    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(part(1, p1.e_tag().unwrap()))
                .parts(part(2, p2.e_tag().unwrap()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let etag = done.e_tag().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with("-2\""), "{etag}");
    let mut whole = part1.clone();
    whole.extend_from_slice(&part2);
    let got = s3.get_object().bucket("mpu").key("big.bin").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.content_type(), Some("application/zip"));
    assert_eq!(got.e_tag(), Some(etag));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), whole.as_slice());
    assert!(s3.list_multipart_uploads().bucket("mpu").send().await.unwrap().uploads().is_empty());

    // The upload is gone.
    let err = s3.list_parts().bucket("mpu").key("big.bin").upload_id(&id).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchUpload", Some(404)));

    // Small non-final parts → EntityTooSmall; abort then NoSuchUpload.
    let id2 =
        s3.create_multipart_upload().bucket("mpu").key("small").send().await.unwrap().upload_id().unwrap().to_string();
    let mut done_parts = Vec::new();
    for n in 1..=2 {
        let p = s3
            .upload_part()
            .bucket("mpu")
            .key("small")
            .upload_id(&id2)
            .part_number(n)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await
            .unwrap();
        done_parts.push(part(n, p.e_tag().unwrap()));
    }
    let err = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("small")
        .upload_id(&id2)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done_parts)).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("EntityTooSmall", Some(400)));
    let err = s3
        .upload_part()
        .bucket("mpu")
        .key("small")
        .upload_id(&id2)
        .part_number(10_001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidArgument", Some(400)));
    s3.abort_multipart_upload().bucket("mpu").key("small").upload_id(&id2).send().await.unwrap();
    let err = s3.abort_multipart_upload().bucket("mpu").key("small").upload_id(&id2).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NoSuchUpload", Some(404)));
}

#[tokio::test]
async fn multipart_with_crc32_checksums_is_composite() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "mpu").await;
    let id = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("c")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let p1 = s3
        .upload_part()
        .bucket("mpu")
        .key("c")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(pattern(5 * MIB)))
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part()
        .bucket("mpu")
        .key("c")
        .upload_id(&id)
        .part_number(2)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from_static(b"end"))
        .send()
        .await
        .unwrap();
    let part = |n: i32, p: &aws_sdk_s3::operation::upload_part::UploadPartOutput| {
        CompletedPart::builder()
            .part_number(n)
            .e_tag(p.e_tag().unwrap())
            .checksum_crc32(p.checksum_crc32().unwrap())
            .build()
    };
    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("c")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(part(1, &p1)).parts(part(2, &p2)).build())
        .send()
        .await
        .unwrap();
    assert!(done.checksum_crc32().unwrap().ends_with("-2"), "{done:?}");
    // The SDK skips validating composite checksums but must still read the object.
    let got = s3.get_object().bucket("mpu").key("c").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), 5 * MIB + 3);
}

#[tokio::test]
async fn integrity_checks_on_raw_uploads() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "integ").await;
    let http = common::http();
    let url = format!("{}/integ/obj", emu.url());
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);

    // Content-MD5: wrong → BadDigest, not base64 → InvalidDigest.
    let resp = http.put(&url).header("Content-MD5", b64(&[0u8; 16])).body("data").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>BadDigest</Code>"));
    let resp = http.put(&url).header("Content-MD5", "nope").body("data").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidDigest</Code>"));

    // Wrong flexible checksum → BadDigest.
    let resp = http.put(&url).header("x-amz-checksum-crc32", b64(&[1, 2, 3, 4])).body("data").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("<Code>BadDigest</Code>") && text.contains("CRC32"), "{text}");

    // aws-chunked with a trailing checksum, as the SDKs stream it.
    let crc = {
        let c = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        b64(&c.checksum(b"hello world").to_be_bytes())
    };
    let chunked = format!("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n");
    let resp = http
        .put(&url)
        .header("Content-Encoding", "aws-chunked")
        .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .header("x-amz-decoded-content-length", "11")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(chunked)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-amz-checksum-crc32"].to_str().unwrap(), crc);
    assert_eq!(get_bytes(&s3, "integ", "obj").await, b"hello world");
    let head = s3.head_object().bucket("integ").key("obj").send().await.unwrap();
    assert!(head.content_encoding().is_none(), "aws-chunked is not stored: {head:?}");

    // A corrupted trailing checksum and a wrong decoded length are rejected.
    let bad = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let resp = http
        .put(&url)
        .header("Content-Encoding", "aws-chunked")
        .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .header("x-amz-decoded-content-length", "5")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>BadDigest</Code>"));
    let resp = http
        .put(&url)
        .header("Content-Encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "99")
        .body("5\r\nhello\r\n0\r\n\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>IncompleteBody</Code>"));

    // Signed streaming framing (chunk signatures) decodes too.
    let resp = http
        .put(&url)
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("x-amz-decoded-content-length", "3")
        .body("3;chunk-signature=abcd\r\nabc\r\n0;chunk-signature=ef01\r\n\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get_bytes(&s3, "integ", "obj").await, b"abc");

    // A wrong x-amz-content-sha256.
    let resp = http.put(&url).header("x-amz-content-sha256", "0".repeat(64)).body("data").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>XAmzContentSHA256Mismatch</Code>"));

    // The SDK's own PutObject path: `?x-id=PutObject`.
    let resp = http.put(format!("{url}?x-id=PutObject")).body("via x-id").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unsupported_subresources_and_methods() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "uns").await;
    let err = s3.get_bucket_acl().bucket("uns").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NotImplemented", Some(501)));
    let err = s3.get_bucket_versioning().bucket("uns").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("NotImplemented", Some(501)));
    let resp = common::http().post(format!("{}/uns", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.text().await.unwrap().contains("<Code>MethodNotAllowed</Code>"));
}

#[tokio::test]
async fn virtual_hosted_style_requests() {
    let emu = common::start().await;
    let port = emu.addr().port();
    let http = common::http();
    let base = format!("http://127.0.0.1:{port}");
    for host in [
        format!("vhost.localhost:{port}"),
        format!("vhost.s3.localhost:{port}"),
        format!("vhost.s3.us-east-1.localhost:{port}"),
    ] {
        let _ = http.delete(format!("{base}/obj/with%20space")).header("Host", &host).send().await.unwrap();
        let resp = http.put(&base).header("Host", &host).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        let resp =
            http.put(format!("{base}/obj/with%20space")).header("Host", &host).body("virtual").send().await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        let resp = http.get(format!("{base}/obj/with%20space")).header("Host", &host).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        assert_eq!(resp.text().await.unwrap(), "virtual");
        let resp = http.get(format!("{base}/?list-type=2")).header("Host", &host).send().await.unwrap();
        assert!(resp.text().await.unwrap().contains("<Key>obj/with space</Key>"), "{host}");
    }
    // The same object path-style, through the SDK.
    let s3 = common::s3(emu.url());
    assert_eq!(get_bytes(&s3, "vhost", "obj/with space").await, b"virtual");
}

#[tokio::test]
async fn presigned_urls_work_tamper_and_expire() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "pre").await;
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap();
    let put_req = s3.put_object().bucket("pre").key("doc.txt").presigned(cfg()).await.unwrap();
    let http = common::http();
    let mut req = http.put(put_req.uri()).body("presigned body");
    for (k, v) in put_req.headers() {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let get_req = s3.get_object().bucket("pre").key("doc.txt").presigned(cfg()).await.unwrap();
    let url = get_req.uri().to_string();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "presigned body");

    // Tampering with the URL breaks the signature.
    let tampered = url.replace("doc.txt", "other.txt");
    let resp = http.get(&tampered).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("<Code>SignatureDoesNotMatch</Code>"));

    common::advance_clock(emu.url(), "2h").await;
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let text = resp.text().await.unwrap();
    assert!(text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"), "{text}");
}

#[tokio::test]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let s3 = common::s3(emu.url());
    bucket(&s3, "keep").await;
    put(&s3, "keep", "a/b.txt", "persisted").await;
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let s3 = common::s3(emu.url());
    s3.head_bucket().bucket("keep").send().await.expect("bucket after restart");
    assert_eq!(get_bytes(&s3, "keep", "a/b.txt").await, b"persisted");
    emu.shutdown().await;

    // Bodies are encrypted at rest: the plaintext is not in the database file.
    let db = std::fs::read(dir.path().join("emulator.db")).unwrap();
    let wal = std::fs::read(dir.path().join("emulator.db-wal")).unwrap_or_default();
    let needle = b"persisted";
    assert!(!db.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));
}

#[tokio::test]
async fn no_such_key_error_body_shape() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    bucket(&s3, "snap").await;
    let resp = common::http().get(format!("{}/snap/missing/key.txt", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let request_id = resp.headers()["x-amz-request-id"].to_str().unwrap().to_string();
    let host_id = resp.headers()["x-amz-id-2"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap().replace(&request_id, "[request-id]").replace(&host_id, "[host-id]");
    insta::assert_snapshot!("s3_no_such_key", body);

    let resp = common::http().get(format!("{}/nobucket/k", emu.url())).send().await.unwrap();
    let request_id = resp.headers()["x-amz-request-id"].to_str().unwrap().to_string();
    let host_id = resp.headers()["x-amz-id-2"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap().replace(&request_id, "[request-id]").replace(&host_id, "[host-id]");
    insta::assert_snapshot!("s3_no_such_bucket", body);

    // HEAD errors carry no body.
    let resp = common::http().head(format!("{}/snap/missing", emu.url())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().contains_key("x-amz-request-id"));
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_gets_aws_errors() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    let http = common::http();
    // CreateBucket: malformed configuration, a constraint the endpoint's region does not match,
    // and us-east-1 named explicitly.
    let resp = http.put(format!("{}/newbucket", emu.url())).body("<CreateBucketConfiguration>").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>MalformedXML</Code>"));
    let err = s3
        .create_bucket()
        .bucket("newbucket")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("IllegalLocationConstraintException", Some(400)));
    let resp = http
        .put(format!("{}/newbucket", emu.url()))
        .body(
            "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidLocationConstraint</Code>"));

    bucket(&s3, "inputs").await;
    // Keys over 1024 bytes, metadata over 2 KB.
    let long = "k".repeat(1025);
    let err = s3.put_object().bucket("inputs").key(&long).body(ByteStream::from_static(b"x")).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("KeyTooLongError", Some(400)));
    let err = s3
        .put_object()
        .bucket("inputs")
        .key("meta")
        .metadata("big", "v".repeat(2100))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("MetadataTooLarge", Some(400)));
    // Unknown encryption method and a bad encryption context.
    let resp = http
        .put(format!("{}/inputs/k", emu.url()))
        .header("x-amz-server-side-encryption", "ROT13")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidArgument</Code>"));
    let resp = http
        .put(format!("{}/inputs/k", emu.url()))
        .header("x-amz-server-side-encryption", "aws:kms")
        .header("x-amz-server-side-encryption-context", "not base64 json")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>InvalidArgument</Code>"));
    // A KMS key that does not exist, as S3 reports it.
    let err = s3
        .put_object()
        .bucket("inputs")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("KMS.NotFoundException", Some(400)));
    // Invalid part numbers on a GET.
    put(&s3, "inputs", "plain", "x").await;
    let err = s3.get_object().bucket("inputs").key("plain").part_number(3).send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("InvalidPartNumber", Some(416)));
    // CompleteMultipartUpload with a body that is not XML.
    let id =
        s3.create_multipart_upload().bucket("inputs").key("m").send().await.unwrap().upload_id().unwrap().to_string();
    let resp = http.post(format!("{}/inputs/m?uploadId={id}", emu.url())).body("parts please").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("<Code>MalformedXML</Code>"));
    let resp = http.post(format!("{}/inputs/m?uploadId=nope", emu.url())).body("<x/>").send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("<Code>NoSuchUpload</Code>"));
}

// SSE-KMS: needs the KMS service.

async fn kms_key(url: &str) -> String {
    let kms = common::kms(url);
    kms.create_key().send().await.unwrap().key_metadata().unwrap().arn().unwrap().to_string()
}

#[tokio::test]
async fn sse_kms_round_trip_and_key_state() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    let kms = common::kms(emu.url());
    bucket(&s3, "enc").await;
    let arn = kms_key(emu.url()).await;
    let put = s3
        .put_object()
        .bucket("enc")
        .key("secret")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .body(ByteStream::from_static(b"top secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(put.ssekms_key_id(), Some(arn.as_str()));
    assert_eq!(get_bytes(&s3, "enc", "secret").await, b"top secret");
    let head = s3.head_object().bucket("enc").key("secret").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(arn.as_str()));

    kms.disable_key().key_id(&arn).send().await.unwrap();
    let err = s3.get_object().bucket("enc").key("secret").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("KMS.DisabledException", Some(400)));
    let err = s3
        .put_object()
        .bucket("enc")
        .key("other")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("KMS.DisabledException", Some(400)));
    kms.enable_key().key_id(&arn).send().await.unwrap();
    assert_eq!(get_bytes(&s3, "enc", "secret").await, b"top secret");

    // A key policy denying everyone → AccessDenied.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}
        ]
    });
    kms.put_key_policy().key_id(&arn).policy_name("default").policy(policy.to_string()).send().await.unwrap();
    let err = s3.get_object().bucket("enc").key("secret").send().await.unwrap_err();
    assert_eq!((common::code(&err).as_str(), common::status(&err)), ("AccessDenied", Some(403)));
}

/// A GET racing overwrites of its object answers one of the versions written, never an error:
/// an object replaced between the read of its metadata and the read of its body is read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_racing_overwrites_answer_a_whole_version() {
    let emu = common::start().await;
    let s3 = common::s3(emu.url());
    s3.create_bucket().bucket("race").send().await.unwrap();
    let versions = [vec![b'a'; 2048], vec![b'b'; 4096]];
    s3.put_object().bucket("race").key("k").body(versions[0].clone().into()).send().await.unwrap();
    let writer = {
        let (s3, versions) = (s3.clone(), versions.clone());
        tokio::spawn(async move {
            for i in 0..150 {
                let body = versions[i % 2].clone();
                s3.put_object().bucket("race").key("k").body(body.into()).send().await.unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let got = s3.get_object().bucket("race").key("k").send().await.expect("a GET racing a PUT succeeds");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(versions.iter().any(|v| v[..] == body[..]), "a whole version, {} bytes", body.len());
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 10, "the reads overlapped the writes ({reads})");
}
