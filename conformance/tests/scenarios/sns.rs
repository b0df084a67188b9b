//! SNS: topics and their attributes, subscriptions, errors, and delivery to an HTTP endpoint
//! (SubscriptionConfirmation, ConfirmSubscription, Notification).

use std::time::Duration;

use conformance::http_sink::{HttpSink, Received};
use conformance::{Cleanup, Target, scenario};
use serde_json::{Value, json};

scenario!(topics_and_subscriptions, [Sns], |run| {
    run.known_peer_bug(
        Target::LocalStack,
        "LocalStack confirms e-mail subscriptions at once (AWS: pending confirmation)",
    )
    .in_steps(&["Subscribe email", "ListSubscriptionsByTopic"]);
    run.known_peer_bug(Target::Moto, "moto confirms e-mail subscriptions at once (AWS: pending confirmation) and accepts an unknown protocol and an empty message (AWS: InvalidParameter)")
        .in_steps(&["Subscribe email", "ListSubscriptionsByTopic", "Subscribe with an unknown protocol", "Publish an empty message"]);
    let sns = run.sns();
    let name = run.name("news");
    let topic =
        run.ok("CreateTopic", sns.create_topic().name(&name).send().await, |o| json!({ "TopicArn": o.topic_arn() }))?;
    let arn = topic.topic_arn().unwrap_or_default().to_string();
    run.cleanup(Cleanup::Topic(arn.clone()));
    run.ok(
        "CreateTopic again (idempotent)",
        sns.create_topic().name(&name).send().await,
        |o| json!({ "TopicArn": o.topic_arn() }),
    )?;
    run.ok(
        "SetTopicAttributes DisplayName",
        sns.set_topic_attributes().topic_arn(&arn).attribute_name("DisplayName").attribute_value("News").send().await,
        |_| Value::Null,
    )?;
    run.ok("GetTopicAttributes", sns.get_topic_attributes().topic_arn(&arn).send().await, |o| {
        let a = o.attributes().cloned().unwrap_or_default();
        json!({
            "TopicArn": a.get("TopicArn"),
            "DisplayName": a.get("DisplayName"),
            "Owner": a.get("Owner"),
            "SubscriptionsConfirmed": a.get("SubscriptionsConfirmed"),
            "SubscriptionsPending": a.get("SubscriptionsPending"),
        })
    })?;
    run.ok(
        "Subscribe email",
        sns.subscribe().topic_arn(&arn).protocol("email").endpoint("reader@example.com").send().await,
        |o| json!({ "SubscriptionArn": o.subscription_arn() }),
    )?;
    run.ok("ListSubscriptionsByTopic", sns.list_subscriptions_by_topic().topic_arn(&arn).send().await, |o| {
        json!(
            o.subscriptions()
                .iter()
                .map(|s| json!({ "Protocol": s.protocol(), "Endpoint": s.endpoint(), "SubscriptionArn": s.subscription_arn(), "TopicArn": s.topic_arn() }))
                .collect::<Vec<_>>()
        )
    })?;
    run.ok(
        "Publish",
        sns.publish().topic_arn(&arn).subject("Hi").message("hello").send().await,
        |o| json!({ "MessageId": o.message_id() }),
    )?;
    let missing = arn.replace(&name, &run.name("missing"));
    run.err("GetTopicAttributes unknown topic", sns.get_topic_attributes().topic_arn(&missing).send().await);
    run.err("Publish to an unknown topic", sns.publish().topic_arn(&missing).message("x").send().await);
    run.err(
        "Subscribe with an unknown protocol",
        sns.subscribe().topic_arn(&arn).protocol("carrier-pigeon").endpoint("x").send().await,
    );
    run.err("Publish an empty message", sns.publish().topic_arn(&arn).message("").send().await);
    run.err("CreateTopic with an invalid name", sns.create_topic().name("no spaces allowed").send().await);
    run.ok("DeleteTopic", sns.delete_topic().topic_arn(&arn).send().await, |_| Value::Null)?;
    run.err("GetTopicAttributes deleted topic", sns.get_topic_attributes().topic_arn(&arn).send().await);
});

fn delivery(r: &Received) -> Value {
    let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    json!({
        "method": r.method,
        "x-amz-sns-message-type": r.header("x-amz-sns-message-type"),
        "x-amz-sns-topic-arn": r.header("x-amz-sns-topic-arn"),
        "x-amz-sns-subscription-arn": r.header("x-amz-sns-subscription-arn"),
        "body": {
            "Type": body["Type"],
            "TopicArn": body["TopicArn"],
            "Subject": body["Subject"],
            "Message": if body["Type"] == "SubscriptionConfirmation" { json!("<confirmation text>") } else { body["Message"].clone() },
            "MessageId": body["MessageId"],
            "Timestamp": body["Timestamp"],
            "SignatureVersion": body["SignatureVersion"],
            "HasSignature": body["Signature"].is_string(),
            "HasToken": body["Token"].is_string(),
            "HasSubscribeURL": body["SubscribeURL"].is_string(),
            "HasUnsubscribeURL": body["UnsubscribeURL"].is_string(),
        },
    })
}

scenario!(publish_to_http, [Sns, SnsHttpDelivery], |run| {
    run.known_peer_bug(Target::Moto, "moto confirms http subscriptions itself (no SubscriptionConfirmation), sends SignatureVersion 2 and no x-amz-sns-* headers")
        .in_steps(&["Subscribe http", "SubscriptionConfirmation delivered", "ConfirmSubscription", "ConfirmSubscription with a wrong token", "Publish", "Notification delivered"]);
    let sns = run.sns();
    let sink = HttpSink::start().await?;
    let topic = run.ok("CreateTopic", sns.create_topic().name(run.name("deliveries")).send().await, |_| Value::Null)?;
    let arn = topic.topic_arn().unwrap_or_default().to_string();
    run.cleanup(Cleanup::Topic(arn.clone()));
    run.ok(
        "Subscribe http",
        sns.subscribe().topic_arn(&arn).protocol("http").endpoint(&sink.url).return_subscription_arn(true).send().await,
        |o| json!({ "SubscriptionArn": o.subscription_arn() }),
    )?;
    let confirmation =
        sink.wait_for(Duration::from_secs(10), |r| r.body.contains("\"SubscriptionConfirmation\"")).await;
    run.note(
        "SubscriptionConfirmation delivered",
        confirmation.as_ref().map(delivery).unwrap_or(json!("nothing within 10 s")),
    );
    if let Some(c) = confirmation {
        let token = serde_json::from_str::<Value>(&c.body)?["Token"].as_str().unwrap_or_default().to_string();
        run.ok(
            "ConfirmSubscription",
            sns.confirm_subscription().topic_arn(&arn).token(token).send().await,
            |o| json!({ "SubscriptionArn": o.subscription_arn() }),
        )?;
    }
    run.err(
        "ConfirmSubscription with a wrong token",
        sns.confirm_subscription().topic_arn(&arn).token("0000").send().await,
    );
    let published = run.ok(
        "Publish",
        sns.publish().topic_arn(&arn).subject("Greeting").message("hello over http").send().await,
        |o| json!({ "MessageId": o.message_id() }),
    )?;
    let id = published.message_id().unwrap_or_default().to_string();
    let note = sink.wait_for(Duration::from_secs(10), |r| r.body.contains(&id)).await;
    run.note("Notification delivered", note.as_ref().map(delivery).unwrap_or(json!("nothing within 10 s")));
});
