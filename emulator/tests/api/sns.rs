//! SNS through `aws_sdk_sns`: topics, subscriptions and their confirmation, publishing to the
//! mailbox and to a real http subscriber, errors, persistence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry, Tag};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::common;

async fn topic(sns: &aws_sdk_sns::Client, name: &str) -> String {
    sns.create_topic().name(name).send().await.unwrap().topic_arn.unwrap()
}

/// Extracts the confirmation token from a mailed confirmation.
fn token_in(body: &str) -> String {
    body.lines().find_map(|l| l.strip_prefix("Token: ")).expect("token line").trim().to_string()
}

#[tokio::test]
async fn topics_are_idempotent_listed_paginated_and_deleted() {
    let emu = common::start().await;
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "chat-events").await;
    assert_eq!(arn, "arn:aws:sns:us-east-1:000000000000:chat-events");
    assert_eq!(topic(&sns, "chat-events").await, arn, "CreateTopic is idempotent by name");

    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("Chat")
        .send()
        .await
        .unwrap();
    let attrs = sns.get_topic_attributes().topic_arn(&arn).send().await.unwrap().attributes.unwrap();
    assert_eq!(attrs["DisplayName"], "Chat");
    assert_eq!(attrs["TopicArn"], arn);
    assert_eq!(attrs["Owner"], "000000000000");
    assert_eq!(attrs["SubscriptionsConfirmed"], "0");
    assert!(attrs["Policy"].contains("Statement"));
    // Same name, contradicting attributes.
    let e = sns.create_topic().name("chat-events").attributes("DisplayName", "Other").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidParameter", Some(400)));

    for i in 0..104 {
        topic(&sns, &format!("t-{i:03}")).await;
    }
    let first = sns.list_topics().send().await.unwrap();
    assert_eq!(first.topics().len(), 100);
    let token = first.next_token.clone().expect("a second page");
    let second = sns.list_topics().next_token(token).send().await.unwrap();
    assert_eq!(second.topics().len(), 5);
    assert!(second.next_token.is_none());

    sns.delete_topic().topic_arn(&arn).send().await.unwrap();
    let e = sns.get_topic_attributes().topic_arn(&arn).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotFound", Some(404)));
    // Deleting again succeeds, as in AWS.
    sns.delete_topic().topic_arn(&arn).send().await.unwrap();

    let tagged = sns
        .create_topic()
        .name("tagged")
        .tags(Tag::builder().key("team").value("chat").build().unwrap())
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.tag_resource()
        .resource_arn(&tagged)
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    sns.untag_resource().resource_arn(&tagged).tag_keys("team").send().await.unwrap();
    let tags = sns.list_tags_for_resource().resource_arn(&tagged).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), vec![("env", "dev")]);

    let e = sns.create_topic().name("bad name!").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
}

#[tokio::test]
async fn email_subscription_is_confirmed_from_the_mailbox_then_receives_messages() {
    let emu = common::start().await;
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "notices").await;
    let sub = sns.subscribe().topic_arn(&arn).protocol("email").endpoint("alice@example.com").send().await.unwrap();
    assert_eq!(sub.subscription_arn(), Some("pending confirmation"));
    let listed = sns.list_subscriptions_by_topic().topic_arn(&arn).send().await.unwrap();
    assert_eq!(listed.subscriptions()[0].subscription_arn(), Some("PendingConfirmation"));

    // Nothing is delivered while pending.
    sns.publish().topic_arn(&arn).message("too early").send().await.unwrap();
    let mail = common::mailbox(emu.url(), "alice@example.com").await;
    assert_eq!(mail.len(), 1, "only the confirmation: {mail:?}");
    assert_eq!(mail[0]["subject"], "AWS Notification - Subscription Confirmation");
    let body = mail[0]["body"].as_str().unwrap();
    assert!(body.contains("Action=ConfirmSubscription"), "{body}");

    let e = sns.confirm_subscription().topic_arn(&arn).token("wrong").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let confirmed = sns.confirm_subscription().topic_arn(&arn).token(token_in(body)).send().await.unwrap();
    let sub_arn = confirmed.subscription_arn.unwrap();
    assert!(sub_arn.starts_with(&format!("{arn}:")));

    let id = sns
        .publish()
        .topic_arn(&arn)
        .subject("New message")
        .message("You have a new message from bob")
        .send()
        .await
        .unwrap();
    assert!(id.message_id.is_some());
    let mail = common::mailbox(emu.url(), "alice@example.com").await;
    assert_eq!(mail[0]["subject"], "New message");
    assert!(mail[0]["body"].as_str().unwrap().starts_with("You have a new message from bob"));
    assert!(mail[0]["body"].as_str().unwrap().contains("Action=Unsubscribe"));
    let attrs = sns.get_topic_attributes().topic_arn(&arn).send().await.unwrap().attributes.unwrap();
    assert_eq!(attrs["SubscriptionsConfirmed"], "1");

    let sa = sns.get_subscription_attributes().subscription_arn(&sub_arn).send().await.unwrap().attributes.unwrap();
    assert_eq!((sa["Protocol"].as_str(), sa["PendingConfirmation"].as_str()), ("email", "false"));
    sns.unsubscribe().subscription_arn(&sub_arn).send().await.unwrap();
    let e = sns.unsubscribe().subscription_arn(&sub_arn).send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotFound", Some(404)));
    assert!(sns.list_subscriptions().send().await.unwrap().subscriptions().is_empty());
}

#[tokio::test]
async fn the_mailed_link_confirms_with_a_plain_get() {
    let emu = common::start().await;
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "linked").await;
    sns.subscribe().topic_arn(&arn).protocol("email-json").endpoint("json@example.com").send().await.unwrap();
    let mail = common::mailbox(emu.url(), "json@example.com").await;
    let doc: serde_json::Value = serde_json::from_str(mail[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["Type"], "SubscriptionConfirmation");
    let link = doc["SubscribeURL"].as_str().unwrap();
    assert!(link.starts_with(emu.url()));
    let resp = common::http().get(link).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<ConfirmSubscriptionResult>"));

    sns.publish()
        .topic_arn(&arn)
        .message("hi")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder().data_type("String").string_value("dm").build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mail = common::mailbox(emu.url(), "json@example.com").await;
    let note: serde_json::Value = serde_json::from_str(mail[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(note["Type"], "Notification");
    assert_eq!(note["Message"], "hi");
    assert_eq!(note["MessageAttributes"]["kind"]["Value"], "dm");
}

#[tokio::test]
async fn sms_subscriptions_and_direct_sms_and_auto_confirmation() {
    let emu = common::builder().auto_confirm_subscriptions(true).start().await.unwrap();
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "alerts").await;
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("CHAT")
        .send()
        .await
        .unwrap();
    let sub = sns.subscribe().topic_arn(&arn).protocol("sms").endpoint("+15555550100").send().await.unwrap();
    assert!(sub.subscription_arn().unwrap().starts_with(&arn), "auto-confirmed: {sub:?}");
    let mail_sub = sns.subscribe().topic_arn(&arn).protocol("email").endpoint("auto@example.com").send().await.unwrap();
    assert_ne!(mail_sub.subscription_arn(), Some("pending confirmation"));
    sns.publish().topic_arn(&arn).message("server restarted").send().await.unwrap();
    let sms = common::mailbox(emu.url(), "+15555550100").await;
    assert_eq!(sms[0]["channel"], "sms");
    assert_eq!(sms[0]["body"], "CHAT> server restarted");
    assert_eq!(common::mailbox(emu.url(), "auto@example.com").await.len(), 1);

    sns.publish().phone_number("+15555550199").message("your code is 123456").send().await.unwrap();
    assert_eq!(common::mailbox(emu.url(), "+15555550199").await[0]["body"], "your code is 123456");
    let e = sns.publish().phone_number("not-a-number").message("x").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
}

#[tokio::test]
async fn message_structure_json_picks_the_text_per_protocol() {
    let emu = common::builder().auto_confirm_subscriptions(true).start().await.unwrap();
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "structured").await;
    sns.subscribe().topic_arn(&arn).protocol("email").endpoint("e@example.com").send().await.unwrap();
    sns.subscribe().topic_arn(&arn).protocol("sms").endpoint("+15555550101").send().await.unwrap();
    let msg = serde_json::json!({"default": "plain", "sms": "short"}).to_string();
    sns.publish().topic_arn(&arn).message_structure("json").message(msg).send().await.unwrap();
    assert!(common::mailbox(emu.url(), "e@example.com").await[0]["body"].as_str().unwrap().starts_with("plain"));
    assert_eq!(common::mailbox(emu.url(), "+15555550101").await[0]["body"], "short");

    let e = sns.publish().topic_arn(&arn).message_structure("json").message(r#"{"sms":"x"}"#).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.publish().topic_arn(&arn).message_structure("json").message("not json").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
}

#[tokio::test]
async fn filter_policies_and_batches() {
    let emu = common::builder().auto_confirm_subscriptions(true).start().await.unwrap();
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "filtered").await;
    sns.subscribe()
        .topic_arn(&arn)
        .protocol("email")
        .endpoint("rooms@example.com")
        .attributes("FilterPolicy", r#"{"kind": ["room"]}"#)
        .send()
        .await
        .unwrap();
    let kind = |k: &str| MessageAttributeValue::builder().data_type("String").string_value(k).build().unwrap();
    sns.publish().topic_arn(&arn).message("dm").message_attributes("kind", kind("dm")).send().await.unwrap();
    sns.publish().topic_arn(&arn).message("room").message_attributes("kind", kind("room")).send().await.unwrap();
    let mail = common::mailbox(emu.url(), "rooms@example.com").await;
    assert_eq!(mail.len(), 1);
    assert!(mail[0]["body"].as_str().unwrap().starts_with("room"));

    let e = sns
        .subscribe()
        .topic_arn(&arn)
        .protocol("email")
        .endpoint("x@example.com")
        .attributes("FilterPolicy", "{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");

    let entry = |id: &str, text: &str, k: &str| {
        PublishBatchRequestEntry::builder().id(id).message(text).message_attributes("kind", kind(k)).build().unwrap()
    };
    let out = sns
        .publish_batch()
        .topic_arn(&arn)
        .publish_batch_request_entries(entry("1", "room one", "room"))
        .publish_batch_request_entries(entry("2", "", "room"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 1);
    assert_eq!(out.failed().len(), 1);
    assert_eq!(out.failed()[0].id(), "2");
    assert_eq!(common::mailbox(emu.url(), "rooms@example.com").await.len(), 2);
}

/// Requests an http subscriber received: (headers, body).
type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A subscriber on 127.0.0.1 that records every request and refuses the first `fail` of them.
async fn subscriber(fail: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let failures = Arc::new(Mutex::new(fail));
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State((seen, failures)): State<(Seen, Arc<Mutex<usize>>)>, headers: HeaderMap, body: String| async move {
                    seen.lock().unwrap().push((headers, body));
                    let mut left = failures.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state((seen.clone(), failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(HeaderMap, String)> {
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn http_subscriber_gets_confirmation_and_notifications_with_retries() {
    let emu = common::start().await;
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "hooks").await;
    // The endpoint refuses its first two requests: the confirmation still gets through.
    let (url, seen) = subscriber(2).await;
    let sub = sns.subscribe().topic_arn(&arn).protocol("http").endpoint(&url).send().await.unwrap();
    assert_eq!(sub.subscription_arn(), Some("pending confirmation"));
    let got = wait_for(&seen, 3).await;
    assert_eq!(got.len(), 3, "two refused attempts and one accepted");
    let (headers, body) = &got[2];
    assert_eq!(headers["x-amz-sns-message-type"], "SubscriptionConfirmation");
    assert_eq!(headers["x-amz-sns-topic-arn"], arn.as_str());
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["Type"], "SubscriptionConfirmation");
    assert_eq!(doc["TopicArn"], arn);
    // The subscriber confirms by visiting SubscribeURL, as real endpoints do.
    let confirm = common::http().get(doc["SubscribeURL"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(confirm.status(), 200);

    sns.publish()
        .topic_arn(&arn)
        .subject("hello")
        .message("payload")
        .message_attributes(
            "n",
            MessageAttributeValue::builder().data_type("Number").string_value("7").build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = wait_for(&seen, 4).await;
    let (headers, body) = &got[3];
    assert_eq!(headers["x-amz-sns-message-type"], "Notification");
    assert!(headers["x-amz-sns-subscription-arn"].to_str().unwrap().starts_with(&arn));
    let note: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (note["Type"].as_str(), note["Subject"].as_str(), note["Message"].as_str()),
        (Some("Notification"), Some("hello"), Some("payload"))
    );
    assert_eq!(note["MessageAttributes"]["n"], serde_json::json!({"Type": "Number", "Value": "7"}));
    assert_eq!(headers["x-amz-sns-message-id"], note["MessageId"].as_str().unwrap());

    // Raw delivery posts the message itself.
    let sub_arn = sns.list_subscriptions_by_topic().topic_arn(&arn).send().await.unwrap().subscriptions()[0]
        .subscription_arn()
        .unwrap()
        .to_string();
    sns.set_subscription_attributes()
        .subscription_arn(&sub_arn)
        .attribute_name("RawMessageDelivery")
        .attribute_value("true")
        .send()
        .await
        .unwrap();
    sns.publish().topic_arn(&arn).message("raw body").send().await.unwrap();
    let got = wait_for(&seen, 5).await;
    assert_eq!(got[4].1, "raw body");
}

#[tokio::test]
async fn errors_have_aws_codes_and_statuses() {
    let emu = common::start().await;
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "errs").await;
    let missing = "arn:aws:sns:us-east-1:000000000000:missing";

    let e = sns.publish().topic_arn(missing).message("x").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("NotFound", Some(404)));
    let e = sns.subscribe().topic_arn(missing).protocol("email").endpoint("a@b.co").send().await.unwrap_err();
    assert_eq!(common::code(&e), "NotFound");
    let e = sns.subscribe().topic_arn(&arn).protocol("carrier-pigeon").endpoint("x").send().await.unwrap_err();
    assert_eq!((common::code(&e).as_str(), common::status(&e)), ("InvalidParameter", Some(400)));
    let e = sns.subscribe().topic_arn(&arn).protocol("email").endpoint("not-an-address").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.subscribe().topic_arn(&arn).protocol("http").endpoint("ftp://x").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.publish().topic_arn(&arn).message("").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.publish().topic_arn(&arn).subject("s".repeat(101)).message("x").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.publish().topic_arn(&arn).message("x".repeat(256 * 1024 + 1)).send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.publish().message("no target").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns.get_topic_attributes().topic_arn("not-an-arn").send().await.unwrap_err();
    assert_eq!(common::code(&e), "InvalidParameter");
    let e = sns
        .publish()
        .topic_arn(&arn)
        .message("x")
        .message_attributes(
            "bad",
            MessageAttributeValue::builder().data_type("Date").string_value("x").build().unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "ParameterValueInvalid");

    // Missing required parameter and malformed bodies, sent by hand.
    let post = |body: &'static str| {
        common::http().post(emu.url()).header("Content-Type", "application/x-www-form-urlencoded").body(body).send()
    };
    let resp = post("Action=CreateTopic&Version=2010-03-31").await.unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("<Code>ValidationError</Code>") && text.contains("'name'"), "{text}");
    let resp = post("Action=Publish&Version=2010-03-31&TopicArn=%ZZ&Message=%").await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = post(
        "Action=Subscribe&Version=2010-03-31&TopicArn=x&ReturnSubscriptionArn=maybe&Protocol=email&Endpoint=a@b.co",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = post("Action=GetTopicAttributes&Version=2010-03-31&TopicArn=arn:aws:sns:us-east-1:000000000000:missing")
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    insta::assert_snapshot!("sns_not_found", common::redact_ids(&resp.text().await.unwrap()));
}

#[tokio::test]
async fn topics_and_subscriptions_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::builder().state_dir(dir.path()).auto_confirm_subscriptions(true).start().await.unwrap();
    let sns = common::sns(emu.url());
    let arn = topic(&sns, "kept").await;
    sns.subscribe().topic_arn(&arn).protocol("email").endpoint("kept@example.com").send().await.unwrap();
    emu.shutdown().await;

    let emu = common::builder().state_dir(dir.path()).start().await.unwrap();
    let sns = common::sns(emu.url());
    assert_eq!(sns.list_topics().send().await.unwrap().topics()[0].topic_arn(), Some(arn.as_str()));
    sns.publish().topic_arn(&arn).message("after restart").send().await.unwrap();
    let mail = common::mailbox(emu.url(), "kept@example.com").await;
    assert!(mail[0]["body"].as_str().unwrap().starts_with("after restart"));
}
