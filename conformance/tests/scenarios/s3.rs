//! S3: objects and metadata, ranges, listing with pagination, presigned URLs, SSE-KMS.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use conformance::{Cleanup, Run, Target, scenario};
use serde_json::{Value, json};

async fn bucket(run: &mut Run, name: &str) -> conformance::Result<String> {
    let bucket = run.name(name);
    let s3 = run.s3();
    run.ok("CreateBucket", s3.create_bucket().bucket(&bucket).send().await, |_| Value::Null)?;
    run.cleanup(Cleanup::Bucket(bucket.clone()));
    Ok(bucket)
}

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> String {
    String::from_utf8_lossy(&out.body.collect().await.map(|b| b.to_vec()).unwrap_or_default()).into_owned()
}

/// The `<Code>` of an S3 XML error body.
fn xml_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_string())
}

scenario!(objects_and_ranges, [S3], |run| {
    let s3 = run.s3();
    let b = bucket(run, "objects").await?;
    let put = run.ok(
        "PutObject",
        s3.put_object()
            .bucket(&b)
            .key("docs/hello.txt")
            .body(ByteStream::from_static(b"hello, world"))
            .content_type("text/plain")
            .metadata("owner", "alice")
            .send()
            .await,
        |o| json!({ "ETag": o.e_tag() }),
    )?;
    run.ok("HeadObject", s3.head_object().bucket(&b).key("docs/hello.txt").send().await, |o| {
        json!({
            "ContentLength": o.content_length(),
            "ContentType": o.content_type(),
            "ETag": o.e_tag(),
            "Metadata": o.metadata(),
            "LastModified": o.last_modified().map(|t| t.secs()),
        })
    })?;
    let full = run.ok(
        "GetObject",
        s3.get_object().bucket(&b).key("docs/hello.txt").send().await,
        |o| json!({ "ContentLength": o.content_length(), "AcceptRanges": o.accept_ranges() }),
    )?;
    let text = body(full).await;
    run.note("GetObject body", json!(text));
    for range in ["bytes=0-4", "bytes=7-", "bytes=-5"] {
        let out = run.ok(
            &format!("GetObject {range}"),
            s3.get_object().bucket(&b).key("docs/hello.txt").range(range).send().await,
            |o| json!({ "ContentRange": o.content_range(), "ContentLength": o.content_length() }),
        )?;
        let text = body(out).await;
        run.note(&format!("GetObject {range} body"), json!(text));
    }
    run.err(
        "GetObject unsatisfiable range",
        s3.get_object().bucket(&b).key("docs/hello.txt").range("bytes=100-200").send().await,
    );
    run.err("GetObject missing key", s3.get_object().bucket(&b).key("docs/missing.txt").send().await);
    run.err("HeadObject missing key", s3.head_object().bucket(&b).key("docs/missing.txt").send().await);
    run.err("GetObject missing bucket", s3.get_object().bucket(run.name("no-such-bucket")).key("k").send().await);
    run.err(
        "GetObject If-None-Match current ETag",
        s3.get_object().bucket(&b).key("docs/hello.txt").if_none_match(put.e_tag().unwrap_or_default()).send().await,
    );
    run.ok(
        "CopyObject",
        s3.copy_object().bucket(&b).key("docs/copy.txt").copy_source(format!("{b}/docs/hello.txt")).send().await,
        |o| json!({ "ETag": o.copy_object_result().and_then(|r| r.e_tag()) }),
    )?;
    run.ok("DeleteObject", s3.delete_object().bucket(&b).key("docs/hello.txt").send().await, |_| Value::Null)?;
    run.err("GetObject deleted", s3.get_object().bucket(&b).key("docs/hello.txt").send().await);
    run.err("DeleteBucket not empty", s3.delete_bucket().bucket(&b).send().await);
});

scenario!(listing_pagination, [S3], |run| {
    run.known_peer_bug(Target::Moto, "moto does not echo Marker in a ListObjects (v1) response")
        .in_steps(&["ListObjects (v1) marker"]);
    let s3 = run.s3();
    let b = bucket(run, "listing").await?;
    for key in ["a/1", "a/2", "a/3", "b/1", "b/2", "c", "d"] {
        run.ok(
            &format!("PutObject {key}"),
            s3.put_object().bucket(&b).key(key).body(ByteStream::from(key.as_bytes().to_vec())).send().await,
            |_| Value::Null,
        )?;
    }
    let mut token: Option<String> = None;
    loop {
        let page = run.ok(
            "ListObjectsV2 max-keys 3",
            s3.list_objects_v2().bucket(&b).max_keys(3).set_continuation_token(token.clone()).send().await,
            |o| {
                json!({
                    "Keys": o.contents().iter().map(|c| c.key()).collect::<Vec<_>>(),
                    "Sizes": o.contents().iter().map(|c| c.size()).collect::<Vec<_>>(),
                    "KeyCount": o.key_count(),
                    "IsTruncated": o.is_truncated(),
                    "MaxKeys": o.max_keys(),
                    "HasNextContinuationToken": o.next_continuation_token().is_some(),
                })
            },
        )?;
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    run.ok("ListObjectsV2 delimiter", s3.list_objects_v2().bucket(&b).delimiter("/").send().await, |o| {
        json!({
            "Keys": o.contents().iter().map(|c| c.key()).collect::<Vec<_>>(),
            "CommonPrefixes": o.common_prefixes().iter().map(|p| p.prefix()).collect::<Vec<_>>(),
            "KeyCount": o.key_count(),
        })
    })?;
    run.ok("ListObjectsV2 prefix a/ start-after a/1", s3.list_objects_v2().bucket(&b).prefix("a/").start_after("a/1").send().await, |o| {
        json!({ "Keys": o.contents().iter().map(|c| c.key()).collect::<Vec<_>>(), "Prefix": o.prefix(), "StartAfter": o.start_after() })
    })?;
    run.ok("ListObjects (v1) marker", s3.list_objects().bucket(&b).marker("b/1").max_keys(2).send().await, |o| {
        json!({
            "Keys": o.contents().iter().map(|c| c.key()).collect::<Vec<_>>(),
            "IsTruncated": o.is_truncated(),
            "Marker": o.marker(),
        })
    })?;
    run.err("ListObjectsV2 missing bucket", s3.list_objects_v2().bucket(run.name("no-such-bucket")).send().await);
});

scenario!(presigned_urls, [S3], |run| {
    run.known_peer_bug(Target::Moto, "moto accepts presigned URLs with a wrong signature and after they expire")
        .in_steps(&["GET presigned, signature altered", "GET presigned, expired"]);
    run.known_peer_bug(Target::LocalStack, "LocalStack accepts presigned URLs with a wrong signature (S3_SKIP_SIGNATURE_VALIDATION defaults to 1) and after they expire")
        .in_steps(&["GET presigned, signature altered", "GET presigned, expired"]);
    let s3 = run.s3();
    let b = bucket(run, "presigned").await?;
    let http = reqwest::Client::new();
    let put = s3
        .put_object()
        .bucket(&b)
        .key("up.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300))?)
        .await?;
    let r = http.put(put.uri()).body("uploaded through a URL").send().await?;
    run.note("PUT presigned", json!({ "status": r.status().as_u16() }));
    let get = s3
        .get_object()
        .bucket(&b)
        .key("up.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300))?)
        .await?;
    let r = http.get(get.uri()).send().await?;
    run.note("GET presigned", json!({ "status": r.status().as_u16(), "body": r.text().await? }));
    // The same URL with its signature altered.
    let uri = get.uri().to_string();
    let sig_at = uri.find("X-Amz-Signature=").map(|i| i + "X-Amz-Signature=".len()).unwrap_or(uri.len());
    let flipped = if uri[sig_at..].starts_with('0') { '1' } else { '0' };
    let tampered = format!("{}{}{}", &uri[..sig_at], flipped, &uri[(sig_at + 1).min(uri.len())..]);
    let r = http.get(tampered).send().await?;
    let status = r.status().as_u16();
    run.note("GET presigned, signature altered", json!({ "status": status, "code": xml_code(&r.text().await?) }));
    let short = s3
        .get_object()
        .bucket(&b)
        .key("up.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1))?)
        .await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = http.get(short.uri()).send().await?;
    let status = r.status().as_u16();
    run.note("GET presigned, expired", json!({ "status": status, "code": xml_code(&r.text().await?) }));
});

scenario!(sse_kms, [S3, Kms], |run| {
    run.known_peer_bug(
        Target::LocalStack,
        "LocalStack accepts SSE-KMS with a key that does not exist (AWS: KMS.NotFoundException, 400)",
    )
    .in_steps(&["PutObject SSE-KMS unknown key"]);
    run.known_peer_bug(
        Target::Moto,
        "moto accepts SSE-KMS with a key that does not exist (AWS: KMS.NotFoundException, 400)",
    )
    .in_steps(&["PutObject SSE-KMS unknown key"]);
    let s3 = run.s3();
    let kms = run.kms();
    let key = run.ok("CreateKey", kms.create_key().description("conformance s3 sse").send().await, |_| Value::Null)?;
    let key_id = key.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default();
    let key_arn = key.key_metadata().and_then(|m| m.arn()).unwrap_or_default().to_string();
    run.cleanup(Cleanup::Key(key_id.clone()));
    let b = bucket(run, "sse").await?;
    run.ok(
        "PutObject SSE-KMS",
        s3.put_object()
            .bucket(&b)
            .key("secret.txt")
            .body(ByteStream::from_static(b"top secret"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key_arn)
            .send()
            .await,
        |o| json!({ "ServerSideEncryption": o.server_side_encryption().map(|s| s.as_str()), "SSEKMSKeyId": o.ssekms_key_id() }),
    )?;
    run.ok("HeadObject", s3.head_object().bucket(&b).key("secret.txt").send().await, |o| {
        json!({ "ServerSideEncryption": o.server_side_encryption().map(|s| s.as_str()), "SSEKMSKeyId": o.ssekms_key_id() })
    })?;
    let out = run.ok(
        "GetObject",
        s3.get_object().bucket(&b).key("secret.txt").send().await,
        |o| json!({ "ServerSideEncryption": o.server_side_encryption().map(|s| s.as_str()) }),
    )?;
    let text = body(out).await;
    run.note("GetObject body", json!(text));
    run.err(
        "PutObject SSE-KMS unknown key",
        s3.put_object()
            .bucket(&b)
            .key("other.txt")
            .body(ByteStream::from_static(b"x"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(format!(
                "arn:aws:kms:{}:{}:key/00000000-0000-4000-8000-000000000000",
                run.region,
                account(&key_arn)
            ))
            .send()
            .await,
    );
});

fn account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("000000000000")
}
