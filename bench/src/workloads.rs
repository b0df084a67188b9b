//! The operations measured, each a set-up and a call, identical for every target.
//!
//! Set-up creates what the call needs (a bucket, a table with 100 items in one partition, a
//! key, a pool with a user, a topic) under names unique to the run; the call is then repeated
//! by the load generator. A call checks what it gets back (a body's length, a query's count),
//! so a target that answers quickly but wrongly shows up as errors, not as speed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context, ensure};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_types::retry::RetryConfig;

pub type CallFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// One request of an operation; the argument is the request's sequence number.
pub type Call = Arc<dyn Fn(u64) -> CallFuture + Send + Sync>;

/// An operation the bench measures.
pub struct Op {
    pub name: &'static str,
    pub service: &'static str,
}

pub const OPS: &[Op] = &[
    Op { name: "S3 PutObject 1 KiB", service: "s3" },
    Op { name: "S3 GetObject 1 KiB", service: "s3" },
    Op { name: "S3 PutObject 1 MiB", service: "s3" },
    Op { name: "S3 GetObject 1 MiB", service: "s3" },
    Op { name: "DynamoDB PutItem", service: "dynamodb" },
    Op { name: "DynamoDB GetItem", service: "dynamodb" },
    Op { name: "DynamoDB Query 100 items", service: "dynamodb" },
    Op { name: "KMS GenerateDataKey", service: "kms" },
    Op { name: "KMS Decrypt", service: "kms" },
    Op { name: "Cognito InitiateAuth (password)", service: "cognito" },
    Op { name: "Cognito GetUser", service: "cognito" },
    Op { name: "SNS Publish", service: "sns" },
];

/// SDK clients for one endpoint: plain HTTP, keep-alive, and no retries, so that a throttled
/// or failed request counts as an error instead of hiding inside a slower success.
#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
    pub idp: aws_sdk_cognitoidentityprovider::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn new(url: &str) -> Clients {
        let config = testkit::sdk_config(url).into_builder().retry_config(RetryConfig::disabled()).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            idp: aws_sdk_cognitoidentityprovider::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
        }
    }
}

/// Creates what `op` needs on the target behind `c` and returns its call.
pub async fn prepare(op: &Op, c: &Clients, run: &str) -> anyhow::Result<Call> {
    match op.name {
        "S3 PutObject 1 KiB" => s3_put(c, run, 1024).await,
        "S3 PutObject 1 MiB" => s3_put(c, run, 1 << 20).await,
        "S3 GetObject 1 KiB" => s3_get(c, run, 1024).await,
        "S3 GetObject 1 MiB" => s3_get(c, run, 1 << 20).await,
        "DynamoDB PutItem" => ddb_put(c, run).await,
        "DynamoDB GetItem" => ddb_get(c, run).await,
        "DynamoDB Query 100 items" => ddb_query(c, run).await,
        "KMS GenerateDataKey" => kms_generate(c, run).await,
        "KMS Decrypt" => kms_decrypt(c, run).await,
        "Cognito InitiateAuth (password)" => cognito(c, run, false).await,
        "Cognito GetUser" => cognito(c, run, true).await,
        "SNS Publish" => sns_publish(c, run).await,
        other => anyhow::bail!("no workload named {other:?}"),
    }
}

fn call<F, Fut>(f: F) -> Call
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

async fn bucket(c: &Clients, run: &str, suffix: &str) -> anyhow::Result<String> {
    let name = format!("{run}-{suffix}");
    c.s3.create_bucket().bucket(&name).send().await.context("CreateBucket")?;
    Ok(name)
}

/// Puts cycle over 64 keys, so the store holds a bounded amount whatever the throughput.
async fn s3_put(c: &Clients, run: &str, size: usize) -> anyhow::Result<Call> {
    let bucket = bucket(c, run, &format!("put{size}")).await?;
    let body = bytes::Bytes::from(vec![b'x'; size]);
    let s3 = c.s3.clone();
    Ok(call(move |i| {
        let (s3, bucket, body) = (s3.clone(), bucket.clone(), body.clone());
        async move {
            s3.put_object().bucket(bucket).key(format!("k{}", i % 64)).body(body.into()).send().await?;
            Ok(())
        }
    }))
}

async fn s3_get(c: &Clients, run: &str, size: usize) -> anyhow::Result<Call> {
    let bucket = bucket(c, run, &format!("get{size}")).await?;
    c.s3.put_object().bucket(&bucket).key("object").body(vec![b'y'; size].into()).send().await.context("PutObject")?;
    let s3 = c.s3.clone();
    Ok(call(move |_| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        async move {
            let out = s3.get_object().bucket(bucket).key("object").send().await?;
            let body = out.body.collect().await?.into_bytes();
            ensure!(body.len() == size, "GetObject returned {} bytes, not {size}", body.len());
            Ok(())
        }
    }))
}

async fn table(c: &Clients, run: &str, suffix: &str) -> anyhow::Result<String> {
    let name = format!("{run}-{suffix}");
    c.dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::N).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build()?)
        .send()
        .await
        .context("CreateTable")?;
    Ok(name)
}

fn item(pk: String, sk: u64) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::N(sk.to_string())),
        ("body".to_string(), AttributeValue::S("m".repeat(200))),
        ("unread".to_string(), AttributeValue::Bool(true)),
    ]
    .into()
}

async fn ddb_put(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let table = table(c, run, "put").await?;
    let ddb = c.dynamodb.clone();
    Ok(call(move |i| {
        let (ddb, table) = (ddb.clone(), table.clone());
        async move {
            ddb.put_item().table_name(table).set_item(Some(item(format!("p{}", i % 1000), i))).send().await?;
            Ok(())
        }
    }))
}

async fn ddb_get(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let table = table(c, run, "get").await?;
    for n in 0..100 {
        c.dynamodb.put_item().table_name(&table).set_item(Some(item(format!("p{n}"), 0))).send().await?;
    }
    let ddb = c.dynamodb.clone();
    Ok(call(move |i| {
        let (ddb, table) = (ddb.clone(), table.clone());
        async move {
            let out = ddb
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("p{}", i % 100)))
                .key("sk", AttributeValue::N("0".into()))
                .send()
                .await?;
            ensure!(out.item.is_some(), "GetItem found nothing");
            Ok(())
        }
    }))
}

async fn ddb_query(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let table = table(c, run, "query").await?;
    for n in 0..100 {
        c.dynamodb.put_item().table_name(&table).set_item(Some(item("room".into(), n))).send().await?;
    }
    let ddb = c.dynamodb.clone();
    Ok(call(move |_| {
        let (ddb, table) = (ddb.clone(), table.clone());
        async move {
            let out = ddb
                .query()
                .table_name(table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", AttributeValue::S("room".into()))
                .send()
                .await?;
            ensure!(out.count == 100, "Query returned {} items, not 100", out.count);
            Ok(())
        }
    }))
}

async fn kms_key(c: &Clients, run: &str) -> anyhow::Result<String> {
    let key = c.kms.create_key().description(format!("{run} bench")).send().await.context("CreateKey")?;
    Ok(key.key_metadata.context("no key metadata")?.key_id)
}

async fn kms_generate(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let key = kms_key(c, run).await?;
    let kms = c.kms.clone();
    Ok(call(move |_| {
        let (kms, key) = (kms.clone(), key.clone());
        async move {
            let out = kms.generate_data_key().key_id(key).key_spec(DataKeySpec::Aes256).send().await?;
            ensure!(out.plaintext.map(|p| p.as_ref().len()) == Some(32), "no 32-byte data key");
            Ok(())
        }
    }))
}

async fn kms_decrypt(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let key = kms_key(c, run).await?;
    let dk = c.kms.generate_data_key().key_id(&key).key_spec(DataKeySpec::Aes256).send().await?;
    let blob = dk.ciphertext_blob.context("no ciphertext")?;
    let plain = dk.plaintext.context("no plaintext")?;
    let kms = c.kms.clone();
    Ok(call(move |_| {
        let (kms, blob, plain) = (kms.clone(), blob.clone(), plain.clone());
        async move {
            let out = kms.decrypt().ciphertext_blob(blob).send().await?;
            ensure!(out.plaintext.as_ref() == Some(&plain), "Decrypt returned another plaintext");
            Ok(())
        }
    }))
}

/// A pool whose client allows password auth, one confirmed user with a permanent password.
async fn cognito(c: &Clients, run: &str, get_user: bool) -> anyhow::Result<Call> {
    let idp = c.idp.clone();
    let pool = idp.create_user_pool().pool_name(format!("{run}-pool")).send().await.context("CreateUserPool")?;
    let pool = pool.user_pool.and_then(|p| p.id).context("no pool id")?;
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("bench")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .context("CreateUserPoolClient")?;
    let client = client.user_pool_client.and_then(|c| c.client_id).context("no client id")?;
    let password = "Bench-Passw0rd!";
    idp.admin_create_user()
        .user_pool_id(&pool)
        .username("ann")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .context("AdminCreateUser")?;
    idp.admin_set_user_password()
        .user_pool_id(&pool)
        .username("ann")
        .password(password)
        .permanent(true)
        .send()
        .await
        .context("AdminSetUserPassword")?;
    let login = {
        let (idp, client) = (idp.clone(), client.clone());
        move || {
            idp.initiate_auth()
                .client_id(client.clone())
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", "ann")
                .auth_parameters("PASSWORD", password)
                .send()
        }
    };
    if get_user {
        let tokens = login().await.context("InitiateAuth")?.authentication_result.context("no tokens")?;
        let access = tokens.access_token.context("no access token")?;
        return Ok(call(move |_| {
            let (idp, access) = (idp.clone(), access.clone());
            async move {
                let out = idp.get_user().access_token(access).send().await?;
                ensure!(out.username == "ann", "GetUser answered for {}", out.username);
                Ok(())
            }
        }));
    }
    Ok(call(move |_| {
        let fut = login();
        async move {
            let out = fut.await?;
            ensure!(out.authentication_result.and_then(|a| a.access_token).is_some(), "no access token");
            Ok(())
        }
    }))
}

async fn sns_publish(c: &Clients, run: &str) -> anyhow::Result<Call> {
    let topic = c.sns.create_topic().name(format!("{run}-topic")).send().await.context("CreateTopic")?;
    let arn = topic.topic_arn.context("no topic arn")?;
    let sns = c.sns.clone();
    Ok(call(move |i| {
        let (sns, arn) = (sns.clone(), arn.clone());
        async move {
            let out = sns.publish().topic_arn(arn).message(format!("message {i}")).send().await?;
            ensure!(out.message_id.is_some(), "no message id");
            Ok(())
        }
    }))
}
