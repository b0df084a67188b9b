//! The chat's message path end to end, across services: a message is sealed for its reader
//! under the reader's own KMS key (a data key bound by encryption context to the conversation,
//! the message and the reader), the ciphertext goes to S3, the wrapped key and metadata to a
//! DynamoDB row; reading it back needs the same context, and no other reader can unwrap it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_dynamodb::types::{AttributeValue, StreamViewType};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_s3::primitives::ByteStream;
use conformance::{Cleanup, Run, Target, scenario};
use serde_json::{Value, json};

async fn user_key(run: &mut Run, user: &str) -> conformance::Result<String> {
    let kms = run.kms();
    let out = run.ok(
        &format!("CreateKey for {user}"),
        kms.create_key().description(format!("chat key of {user}")).send().await,
        |_| Value::Null,
    )?;
    let id = out.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default();
    run.cleanup(Cleanup::Key(id.clone()));
    Ok(id)
}

fn context(conversation: &str, message: &str, reader: &str) -> std::collections::HashMap<String, String> {
    [("conversation", conversation), ("message", message), ("reader", reader)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

scenario!(envelope_encryption_across_kms_s3_and_dynamodb, [Kms, S3, DynamoDb], |run| {
    run.known_peer_bug(
        Target::Moto,
        "moto answers Decrypt naming another key with AccessDeniedException (AWS: IncorrectKeyException)",
    )
    .in_steps(&["Decrypt the data key naming bob's key"]);
    let (kms, s3, ddb) = (run.kms(), run.s3(), run.dynamodb());
    let alice = user_key(run, "alice").await?;
    let bob = user_key(run, "bob").await?;
    let bucket = run.name("attachments");
    run.ok("CreateBucket", s3.create_bucket().bucket(&bucket).send().await, |_| Value::Null)?;
    run.cleanup(Cleanup::Bucket(bucket.clone()));
    let table = crate::dynamodb::table(run, "messages", false, None::<StreamViewType>).await?;

    // Seal for alice.
    let (conv, msg) = ("conv-1", "msg-0001");
    let dk = run.ok(
        "GenerateDataKey for alice",
        kms.generate_data_key()
            .key_id(&alice)
            .number_of_bytes(32)
            .set_encryption_context(Some(context(conv, msg, "alice")))
            .send()
            .await,
        |o| json!({ "KeyId": o.key_id(), "PlaintextLength": o.plaintext().map(|p| p.as_ref().len()) }),
    )?;
    let data_key = dk.plaintext().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let wrapped = dk.ciphertext_blob().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let cipher = Aes256Gcm::new_from_slice(&data_key)?;
    let nonce = [7u8; 12];
    let aad = format!("{conv}/{msg}/alice");
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: b"meet at noon", aad: aad.as_bytes() })
        .map_err(|e| anyhow::anyhow!("seal: {e}"))?;
    let object_key = format!("messages/{conv}/{msg}/alice");
    let mut body = nonce.to_vec();
    body.extend_from_slice(&sealed);
    run.ok(
        "PutObject ciphertext",
        s3.put_object()
            .bucket(&bucket)
            .key(&object_key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body.clone()))
            .send()
            .await,
        |_| Value::Null,
    )?;
    run.ok(
        "PutItem message row",
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("CONV#{conv}")))
            .item("sk", AttributeValue::S(format!("MSG#{msg}#alice")))
            .item("object", AttributeValue::S(object_key.clone()))
            .item("wrappedKey", AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(wrapped.clone())))
            .item("sender", AttributeValue::S("bob".into()))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await,
        |_| Value::Null,
    )?;

    // Read back as alice.
    let rows = run.ok(
        "Query the conversation",
        ddb.query()
            .table_name(&table)
            .key_condition_expression("pk = :c AND begins_with(sk, :m)")
            .expression_attribute_values(":c", AttributeValue::S(format!("CONV#{conv}")))
            .expression_attribute_values(":m", AttributeValue::S("MSG#".into()))
            .send()
            .await,
        |o| json!({ "Count": o.count(), "Rows": o.items().iter().map(|i| json!({ "sk": i.get("sk").and_then(|v| v.as_s().ok()), "object": i.get("object").and_then(|v| v.as_s().ok()), "sender": i.get("sender").and_then(|v| v.as_s().ok()) })).collect::<Vec<_>>() }),
    )?;
    let row = rows.items().first().cloned().unwrap_or_default();
    let stored_key = row.get("wrappedKey").and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let object = run.ok(
        "GetObject ciphertext",
        s3.get_object().bucket(&bucket).key(&object_key).send().await,
        |o| json!({ "ContentLength": o.content_length(), "ContentType": o.content_type() }),
    )?;
    let stored = object.body.collect().await?.to_vec();
    run.note("stored object is the ciphertext", json!(stored == body && !stored.windows(4).any(|w| w == b"meet")));
    let unwrapped = run.ok(
        "Decrypt the data key as alice",
        kms.decrypt()
            .ciphertext_blob(Blob::new(stored_key.clone()))
            .set_encryption_context(Some(context(conv, msg, "alice")))
            .send()
            .await,
        |o| json!({ "KeyId": o.key_id() }),
    )?;
    let key_again = unwrapped.plaintext().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let opened = Aes256Gcm::new_from_slice(&key_again)?
        .decrypt(Nonce::from_slice(&stored[..12]), Payload { msg: &stored[12..], aad: aad.as_bytes() })
        .map(|p| String::from_utf8_lossy(&p).into_owned())
        .unwrap_or_else(|_| "<does not open>".into());
    run.note("message opened", json!(opened));
    let other_aad = Aes256Gcm::new_from_slice(&key_again)?
        .decrypt(
            Nonce::from_slice(&stored[..12]),
            Payload { msg: &stored[12..], aad: format!("{conv}/msg-0002/alice").as_bytes() },
        )
        .is_ok();
    run.note("opens under another message id", json!(other_aad));

    // Bob can neither claim to be the reader nor unwrap with his key.
    run.err(
        "Decrypt the data key with bob as reader",
        kms.decrypt()
            .ciphertext_blob(Blob::new(stored_key.clone()))
            .set_encryption_context(Some(context(conv, msg, "bob")))
            .send()
            .await,
    );
    run.err(
        "Decrypt the data key naming bob's key",
        kms.decrypt()
            .key_id(&bob)
            .ciphertext_blob(Blob::new(stored_key.clone()))
            .set_encryption_context(Some(context(conv, msg, "alice")))
            .send()
            .await,
    );
    run.err(
        "PutItem the same message twice",
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("CONV#{conv}")))
            .item("sk", AttributeValue::S(format!("MSG#{msg}#alice")))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await,
    );
});
