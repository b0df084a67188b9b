//! Provisioning a SAM/CloudFormation template (`tests/templates/stack.yaml`) into a running
//! emulator, checked through the official SDKs: every resource exists as the template says,
//! SAM events are wired (stream mapping, SNS subscription, Cognito trigger, API routes), outputs
//! are evaluated, and provisioning the same stack again creates nothing twice. Also `up`: the
//! library function behind `emulator up`, and its banner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::AttributeType;
use aws_sdk_dynamodb::types::{AttributeValue, StreamViewType, TimeToLiveStatus};
use emulator::services::apigw::{ApiProtocol, AuthorizerSpec, spec};
use emulator::template::parse;
use emulator::template::provision::{FunctionBinaries, ProvisionOptions, ResourceStatus, Stack, provision};
use emulator::up::{UpOptions, banner, up};

use crate::common;
use crate::lambda::{function_logs, test_function};

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("templates").join("stack.yaml")
}

/// The test function stands in for `AppFunction`'s executable.
fn functions() -> FunctionBinaries {
    FunctionBinaries::Map(BTreeMap::from([("AppFunction".to_string(), test_function().clone())]))
}

fn options() -> ProvisionOptions {
    let mut options = ProvisionOptions::new("shop");
    options.functions = functions();
    options.base_dir = template_path().parent().unwrap().to_path_buf();
    options
}

fn dynamo(url: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&common::sdk_config(url))
}

fn lambda(url: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&common::sdk_config(url))
}

fn cognito(url: &str) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(&common::sdk_config(url))
}

fn id<'s>(stack: &'s Stack, logical_id: &str) -> &'s str {
    stack.physical_id(logical_id).unwrap_or_else(|| panic!("{logical_id} has no physical id"))
}

#[tokio::test]
async fn template_provisions_every_resource_once() {
    let emu = common::start().await;
    let url = emu.url();
    let template = parse(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let stack = provision(emu.state(), &template, &options()).await.unwrap();

    // What was and was not created, and why.
    let status = |lid: &str| stack.resource(lid).unwrap().status;
    assert_eq!(status("MessagesTable"), ResourceStatus::Created);
    assert_eq!(status("ArchiveTable"), ResourceStatus::Skipped, "its condition is false");
    assert_eq!(status("Dashboard"), ResourceStatus::Unsupported);
    assert_eq!(status("AppFunctionRole"), ResourceStatus::Created, "SAM's implicit role");
    let warned = |needle: &str| stack.warnings.iter().any(|w| w.contains(needle));
    assert!(warned("Dashboard: type AWS::CloudWatch::Dashboard is not supported"), "{:#?}", stack.warnings);
    assert!(warned("event Nightly of type Schedule"), "{:#?}", stack.warnings);
    assert!(warned("UploadsBucket: CorsConfiguration not applied"), "{:#?}", stack.warnings);

    // DynamoDB: the table with its stream and TTL.
    let db = dynamo(url);
    let table_name = "shop-messages-dev";
    assert_eq!(id(&stack, "MessagesTable"), table_name);
    let table = db.describe_table().table_name(table_name).send().await.unwrap().table.unwrap();
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));
    let stream_arn = table.latest_stream_arn().unwrap().to_string();
    assert_eq!(stack.output("StreamArn"), Some(stream_arn.as_str()));
    let ttl = db.describe_time_to_live().table_name(table_name).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert!(db.describe_table().table_name("shop-ArchiveTable").send().await.is_err());

    // S3: a generated lowercase name.
    let bucket = id(&stack, "UploadsBucket");
    assert!(bucket.starts_with("shop-uploadsbucket-"), "{bucket}");
    common::s3(url).head_bucket().bucket(bucket).send().await.unwrap();

    // KMS: the key and its alias.
    let kms = common::kms(url);
    let key_id = id(&stack, "DataKey");
    let key = kms.describe_key().key_id(key_id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(key.description(), Some("dev data key"));
    let aliases = kms.list_aliases().key_id(key_id).send().await.unwrap();
    let names: Vec<&str> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert_eq!(names, ["alias/shop-data"]);
    assert_eq!(stack.output("KeyAlias"), Some("alias/shop-data"));

    // Lambda: the configuration, its environment evaluated.
    let function_name = id(&stack, "AppFunction").to_string();
    assert!(function_name.starts_with("shop-AppFunction-"), "{function_name}");
    let lam = lambda(url);
    let config = lam.get_function().function_name(&function_name).send().await.unwrap().configuration.unwrap();
    assert_eq!((config.timeout(), config.memory_size()), (Some(10), Some(256)), "from Globals");
    assert_eq!(config.description(), Some("Everything at once"));
    let env = config.environment().unwrap().variables().unwrap();
    assert_eq!(env["TABLE"], table_name);
    assert_eq!(env["BUCKET"], bucket);
    assert_eq!(env["KEY_ARN"], key.arn().unwrap());
    assert_eq!(env["STAGE"], "dev");
    assert_eq!(config.role(), stack.output("FunctionRoleArn"));
    let function_arn = config.function_arn().unwrap().to_string();

    // The DynamoDB event: one mapping, with the template's settings.
    let mappings = lam.list_event_source_mappings().function_name(&function_name).send().await.unwrap();
    let mappings = mappings.event_source_mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0].event_source_arn(), Some(stream_arn.as_str()));
    assert_eq!((mappings[0].batch_size(), mappings[0].maximum_retry_attempts()), (Some(10), Some(2)));
    assert_eq!(id(&stack, "AppFunctionStream"), mappings[0].uuid().unwrap());

    // SNS: the inline e-mail subscription (pending) and the function's SNS event.
    let sns = common::sns(url);
    let topic_arn = id(&stack, "AlertsTopic").to_string();
    assert!(topic_arn.starts_with("arn:aws:sns:us-east-1:000000000000:shop-AlertsTopic-"), "{topic_arn}");
    let subscriptions = sns.list_subscriptions_by_topic().topic_arn(&topic_arn).send().await.unwrap();
    let mut endpoints: Vec<(&str, &str)> =
        subscriptions.subscriptions().iter().map(|s| (s.protocol().unwrap(), s.endpoint().unwrap())).collect();
    endpoints.sort();
    assert_eq!(endpoints, [("email", "ops@example.com"), ("lambda", function_arn.as_str())]);
    assert_eq!(common::mailbox(url, "ops@example.com").await.len(), 1, "one confirmation request");

    // Cognito: the pool with the function as its PreSignUp trigger, and the client.
    let idp = cognito(url);
    let pool_id = id(&stack, "UserPool").to_string();
    let pool = idp.describe_user_pool().user_pool_id(&pool_id).send().await.unwrap().user_pool.unwrap();
    assert_eq!(pool.name(), Some("shop-users"));
    assert_eq!(pool.lambda_config().unwrap().pre_sign_up(), Some(function_arn.as_str()));
    let client_id = id(&stack, "UserPoolClient").to_string();
    let client = idp.describe_user_pool_client().user_pool_id(&pool_id).client_id(&client_id).send().await.unwrap();
    let client = client.user_pool_client.unwrap();
    assert_eq!(client.client_name(), Some("web"));
    assert_eq!(client.explicit_auth_flows().len(), 3);
    assert_eq!(stack.output("UserPoolClientId"), Some(client_id.as_str()));

    // API definitions: the HTTP API (routes from the function's events) and the WebSocket API.
    let apis = spec::list(emu.state()).await.unwrap();
    assert_eq!(apis.len(), 2);
    let http = apis.iter().find(|a| a.protocol == ApiProtocol::Http).unwrap();
    assert_eq!(http.id, id(&stack, "HttpApi"));
    let mut routes: Vec<(&str, Option<&str>, Option<&str>)> =
        http.routes.iter().map(|r| (r.key.as_str(), r.function.as_deref(), r.authorizer.as_deref())).collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("ANY /health", Some(function_name.as_str()), None),
            ("GET /messages", Some(function_name.as_str()), Some("CognitoJwt"))
        ]
    );
    match &http.authorizers["CognitoJwt"] {
        AuthorizerSpec::Jwt { issuer, audience, .. } => {
            assert_eq!(issuer, &format!("{url}/{pool_id}"), "the AWS issuer becomes the local one");
            assert_eq!(audience, std::slice::from_ref(&client_id));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(http.cors.as_ref().unwrap().allow_origins, ["*"]);
    assert_eq!(stack.output("HttpApiUrl"), Some(format!("{url}/_aws/execute-api/{}", http.id).as_str()));
    let ws = apis.iter().find(|a| a.protocol == ApiProtocol::Websocket).unwrap();
    assert_eq!((ws.name.as_str(), ws.stage.as_str()), ("shop-ws", "dev"));
    let routes: Vec<(&str, Option<&str>, bool)> =
        ws.routes.iter().map(|r| (r.key.as_str(), r.function.as_deref(), r.route_response)).collect();
    assert_eq!(
        routes,
        [("$connect", Some(function_name.as_str()), false), ("$default", Some(function_name.as_str()), true)]
    );
    let ws_url = url.replacen("http", "ws", 1) + "/_aws/execute-api/" + &ws.id + "/dev";
    assert_eq!(stack.output("WebSocketUrl"), Some(ws_url.as_str()));
    assert_eq!(stack.apis.len(), 2);

    // Outputs: evaluated, the condition-false one left out.
    assert_eq!(stack.output("TableName"), Some(table_name));
    assert!(stack.output("DeployRoleArn").unwrap().starts_with("arn:aws:iam::000000000000:role/shop-DeployRole-"));
    assert!(stack.output("ArchiveTableName").is_none());

    // The wiring works: the trigger confirms sign-ups, the stream reaches the function.
    let signed_up = idp
        .sign_up()
        .client_id(&client_id)
        .username("ann@example.com")
        .password("Correct-Horse-9")
        .user_attributes(AttributeType::builder().name("email").value("ann@example.com").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(signed_up.user_confirmed(), "PreSignUp ran the function, which auto-confirms");
    db.put_item()
        .table_name(table_name)
        .item("pk", AttributeValue::S("room".into()))
        .item("sk", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = function_logs(url, &function_name).await;
        if logs.iter().any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("RECORD "))) {
            break;
        }
        assert!(Instant::now() < deadline, "the stream record never reached the function: {logs:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Provisioned again: the same resources, nothing twice.
    let again = provision(emu.state(), &template, &options()).await.unwrap();
    for resource in &stack.resources {
        let second = again.resource(&resource.logical_id).unwrap();
        assert_eq!(second.physical_id, resource.physical_id, "{}", resource.logical_id);
        if resource.status == ResourceStatus::Created {
            assert_eq!(second.status, ResourceStatus::Existing, "{}", resource.logical_id);
        }
    }
    assert_eq!(again.outputs, stack.outputs);
    assert!(
        !again.warnings.iter().any(|w| w.contains("not applied") && w.contains("changed")),
        "{:#?}",
        again.warnings
    );
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 1);
    assert_eq!(lam.list_event_source_mappings().send().await.unwrap().event_source_mappings().len(), 1);
    let subscriptions = sns.list_subscriptions_by_topic().topic_arn(&topic_arn).send().await.unwrap();
    assert_eq!(subscriptions.subscriptions().len(), 2);
    assert_eq!(common::mailbox(url, "ops@example.com").await.len(), 1, "no second confirmation request");
    assert_eq!(idp.list_user_pools().max_results(10).send().await.unwrap().user_pools().len(), 1);
    assert_eq!(db.list_tables().send().await.unwrap().table_names().len(), 1);
    assert_eq!(common::s3(url).list_buckets().send().await.unwrap().buckets().len(), 1);
    assert_eq!(spec::list(emu.state()).await.unwrap().len(), 2);
    let pool = idp.describe_user_pool().user_pool_id(&pool_id).send().await.unwrap().user_pool.unwrap();
    assert_eq!(pool.lambda_config().unwrap().pre_sign_up(), Some(function_arn.as_str()));
    emu.shutdown().await;
}

#[tokio::test]
async fn up_starts_provisions_and_reports() {
    let mut options = UpOptions::new(template_path());
    options.stack_name = Some("shop".into());
    options.parameters = BTreeMap::from([("Stage".to_string(), "prod".to_string())]);
    options.functions = functions();
    let started = up(common::builder(), &options).await.unwrap();
    let url = started.handle.url().to_string();
    let stack = &started.stack;
    assert_eq!(stack.resource("ArchiveTable").unwrap().status, ResourceStatus::Created, "IsProd holds");
    assert_eq!(stack.output("TableName"), Some("shop-messages-prod"));
    assert!(stack.output("ArchiveTableName").unwrap().starts_with("shop-ArchiveTable-"));

    let text = banner(&started);
    let http = stack.physical_id("HttpApi").unwrap();
    let ws = stack.physical_id("WebSocketApi").unwrap();
    let pool = stack.physical_id("UserPool").unwrap();
    let client = stack.physical_id("UserPoolClient").unwrap();
    let function = stack.physical_id("AppFunction").unwrap();
    for expected in [
        format!("emulator listening on {url}"),
        format!("HTTP API HttpApi: {url}/_aws/execute-api/{http}\n"),
        format!("GET /messages  → {function}  [authorizer CognitoJwt]"),
        format!("ANY /health    → {function}\n"),
        format!("WebSocket API WebSocketApi: {}/_aws/execute-api/{ws}/prod", url.replacen("http", "ws", 1)),
        format!("$connect  → {function}"),
        format!("JWKS: {url}/{pool}/.well-known/jwks.json"),
        format!("client UserPoolClient: {client}"),
        format!("mailbox: {url}/_emulator/mailbox"),
        format!("console:  {url}/_emulator/ui"),
        format!("SDK/CLI:  export AWS_ENDPOINT_URL={url} AWS_REGION=us-east-1"),
        "TableName = shop-messages-prod".to_string(),
        "- Dashboard: type AWS::CloudWatch::Dashboard is not supported".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
    // The JWKS URL the banner shows serves the pool's keys.
    let jwks: serde_json::Value =
        common::http().get(format!("{url}/{pool}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    started.handle.shutdown().await;
}

#[tokio::test]
async fn errors_name_the_resource_and_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(
        &path,
        r#"
Resources:
  Good:
    Type: AWS::SNS::Topic
  Broken:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: broken
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: other, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
  Later:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !GetAtt Chart.Arn
  Chart:
    Type: AWS::CloudWatch::Dashboard
"#,
    )
    .unwrap();
    let e = up(common::builder(), &UpOptions::new(&path)).await.err().unwrap().to_string();
    assert!(e.contains("Broken (AWS::DynamoDB::Table): CreateTable failed: ValidationException"), "{e}");
    assert!(e.contains(&format!("stack {} (", emulator::up::default_stack_name(&path))), "{e}");

    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("other", "pk")).unwrap();
    let e = up(common::builder(), &UpOptions::new(&path)).await.err().unwrap().to_string();
    assert!(
        e.contains("Later (AWS::SNS::Topic): evaluating its properties failed: it refers to Chart, which was not created: its type AWS::CloudWatch::Dashboard is not supported"),
        "{e}"
    );

    let e = up(common::builder(), &UpOptions::new(dir.path().join("missing.yaml"))).await.err().unwrap().to_string();
    assert!(e.contains("no template at"), "{e}");
}

#[tokio::test]
async fn a_changed_template_updates_what_it_can_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let path = dir.path().join("template.yaml");
    let original = std::fs::read_to_string(template_path()).unwrap();
    std::fs::write(&path, &original).unwrap();
    let mut options = UpOptions::new(&path);
    options.stack_name = Some("shop".into());
    options.functions = functions();

    let first = up(common::builder().state_dir(&state), &options).await.unwrap();
    let before = first.stack.clone();
    first.handle.shutdown().await;

    let changed = original
        .replace("Timeout: 10", "Timeout: 20")
        .replace("AttributeName: expiresAt", "AttributeName: ttl")
        .replace("BatchSize: 10", "BatchSize: 5")
        .replace("DisplayName: Alerts", "DisplayName: Alarms")
        .replace("{AttributeName: sk, AttributeType: S}", "{AttributeName: sk, AttributeType: N}");
    assert_ne!(changed, original);
    std::fs::write(&path, changed).unwrap();
    let second = up(common::builder().state_dir(&state), &options).await.unwrap();
    let url = second.handle.url().to_string();
    let stack = &second.stack;
    for resource in &before.resources {
        assert_eq!(stack.physical_id(&resource.logical_id), resource.physical_id.as_deref(), "{}", resource.logical_id);
    }
    let warned = |needle: &str| stack.warnings.iter().any(|w| w.contains(needle));
    assert!(
        warned("MessagesTable: changed AttributeDefinitions would need a new AWS::DynamoDB::Table"),
        "{:#?}",
        stack.warnings
    );

    let function = stack.physical_id("AppFunction").unwrap();
    let config = lambda(&url).get_function().function_name(function).send().await.unwrap().configuration.unwrap();
    assert_eq!(config.timeout(), Some(20));
    let table = stack.physical_id("MessagesTable").unwrap();
    let ttl = dynamo(&url).describe_time_to_live().table_name(table).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().unwrap().attribute_name(), Some("ttl"));
    let mapping = lambda(&url).get_event_source_mapping().uuid(stack.physical_id("AppFunctionStream").unwrap());
    assert_eq!(mapping.send().await.unwrap().batch_size(), Some(5));
    let topic = stack.physical_id("AlertsTopic").unwrap();
    let attributes = common::sns(&url).get_topic_attributes().topic_arn(topic).send().await.unwrap();
    assert_eq!(attributes.attributes().unwrap()["DisplayName"], "Alarms");
    // The pool's issuer follows the instance's new port.
    let pool = stack.physical_id("UserPool").unwrap();
    let http = second.stack.apis.iter().find(|a| a.protocol == ApiProtocol::Http).unwrap();
    match &http.authorizers["CognitoJwt"] {
        AuthorizerSpec::Jwt { issuer, .. } => assert_eq!(issuer, &format!("{url}/{pool}")),
        other => panic!("{other:?}"),
    }
    assert_eq!(common::kms(&url).list_keys().send().await.unwrap().keys().len(), 1);
    second.handle.shutdown().await;
}

/// SAM REST and implicit APIs, and a WebSocket API with a Lambda REQUEST authorizer.
const APIS: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Cors: "'http://localhost:3000'"
      Auth:
        DefaultAuthorizer: Users
        Authorizers:
          Users:
            UserPoolArn: !GetAtt Pool.Arn
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bootstrap
      Events:
        Profile: {Type: Api, Properties: {RestApiId: !Ref RestApi, Path: /profile, Method: get}}
        Login: {Type: Api, Properties: {RestApiId: !Ref RestApi, Path: /login, Method: post, Auth: {Authorizer: NONE}}}
        Ping: {Type: HttpApi, Properties: {Path: /ping, Method: get, PayloadFormatVersion: "1.0"}}
        Fallback: {Type: HttpApi}
  Socket:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: socket, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.type}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Handler.Arn}
  Authorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Socket
      Name: TokenCheck
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Handler.Arn}/invocations"
      IdentitySource: [route.request.querystring.token]
  Connect:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Socket
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Authorizer
      Target: !Join ["/", [integrations, !Ref Integration]]
  Send:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: send, Target: !Sub "integrations/${Integration}"}
  SendResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Socket, RouteId: !Ref Send, RouteResponseKey: $default}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Socket, StageName: live}
Outputs:
  Implicit:
    Value: !Ref ServerlessHttpApi
"#;

#[tokio::test]
async fn apis_come_from_sam_events_and_v2_parts() {
    let emu = common::start().await;
    let template = parse(APIS).unwrap();
    let mut options = ProvisionOptions::new("apis");
    options.functions = FunctionBinaries::Map(BTreeMap::from([("Handler".to_string(), test_function().clone())]));
    let stack = provision(emu.state(), &template, &options).await.unwrap();
    assert!(stack.warnings.is_empty(), "{:#?}", stack.warnings);
    let function = stack.physical_id("Handler").unwrap();
    let pool_arn = stack.resource("Pool").unwrap().attributes["Arn"].as_str().unwrap().to_string();
    let apis = spec::list(emu.state()).await.unwrap();
    assert_eq!(apis.len(), 3);
    let summary = |spec: &emulator::services::apigw::ApiSpec| {
        let mut routes: Vec<(String, Option<String>, Option<String>, bool)> = spec
            .routes
            .iter()
            .map(|r| (r.key.clone(), r.authorizer.clone(), r.payload_version.clone(), r.route_response))
            .collect();
        routes.sort();
        assert!(spec.routes.iter().all(|r| r.function.as_deref() == Some(function)), "{spec:?}");
        routes
    };
    let s = |v: &str| Some(v.to_string());

    let rest = apis.iter().find(|a| a.protocol == ApiProtocol::Rest).unwrap();
    assert_eq!((rest.id.as_str(), rest.stage.as_str()), (stack.physical_id("RestApi").unwrap(), "v1"));
    assert_eq!(
        summary(rest),
        [("GET /profile".into(), s("Users"), None, false), ("POST /login".into(), None, None, false)]
    );
    match &rest.authorizers["Users"] {
        AuthorizerSpec::CognitoUserPools { provider_arns, identity_source } => {
            assert_eq!(provider_arns, std::slice::from_ref(&pool_arn));
            assert_eq!(identity_source, "$request.header.Authorization");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rest.cors.as_ref().unwrap().allow_origins, ["http://localhost:3000"]);

    let implicit = apis.iter().find(|a| a.protocol == ApiProtocol::Http).unwrap();
    assert_eq!(implicit.id, stack.physical_id("ServerlessHttpApi").unwrap());
    assert_eq!(stack.output("Implicit"), Some(implicit.id.as_str()));
    assert_eq!(
        summary(implicit),
        [("$default".into(), None, None, false), ("GET /ping".into(), None, s("1.0"), false)]
    );

    let socket = apis.iter().find(|a| a.protocol == ApiProtocol::Websocket).unwrap();
    assert_eq!((socket.name.as_str(), socket.stage.as_str()), ("socket", "live"));
    assert_eq!(socket.route_selection_expression, "$request.body.type");
    assert_eq!(summary(socket), [("$connect".into(), s("TokenCheck"), None, false), ("send".into(), None, None, true)]);
    match &socket.authorizers["TokenCheck"] {
        AuthorizerSpec::Request { function: f, identity_source, .. } => {
            assert_eq!(f, function);
            assert_eq!(identity_source, &["route.request.querystring.token".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn progress_is_reported_for_every_resource_in_order() {
    use emulator::template::provision::{Progress, ProgressEvent};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut options = UpOptions::new(template_path());
    options.functions = functions();
    let sink = seen.clone();
    options.progress = Progress::new(move |event| {
        if let ProgressEvent::Resource { index, total, id, .. } = event {
            sink.lock().unwrap().push((index, total, id.to_string()));
        }
    });
    let started = up(common::builder(), &options).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let template = emulator::template::parse(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let total = template.resources.len();
    assert_eq!(seen.len(), total, "one event per resource of the template");
    for (i, (index, of, _)) in seen.iter().enumerate() {
        assert_eq!((*index, *of), (i + 1, total));
    }
    let order: Vec<&str> = template.resources.iter().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(seen.iter().map(|(_, _, id)| id.as_str()).collect::<Vec<_>>(), order, "in provisioning order");
    started.handle.shutdown().await;
}

#[tokio::test]
async fn up_serves_a_web_client_configured_with_the_local_outputs() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>app</title><script src=app.js></script>")
        .unwrap();
    std::fs::write(web.path().join("app.js"), "export const x = 1;\n").unwrap();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret.txt"), "not served").unwrap();
    let mut options = UpOptions::new(template_path());
    options.stack_name = Some("shop".into());
    options.functions = functions();
    options.web = Some(web.path().to_path_buf());
    let started = up(common::builder(), &options).await.unwrap();
    let url = started.handle.url().to_string();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // `/_app` sends the browser to `/_app/`, where the page's relative URLs resolve.
    let moved = http.get(format!("{url}/_app")).send().await.unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], "/_app/");
    let page = http.get(format!("{url}/_app/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers()["cache-control"], "no-cache", "edits show on reload");
    assert!(page.text().await.unwrap().contains("<title>app</title>"));
    let script = http.get(format!("{url}/_app/app.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(http.get(format!("{url}/_app/missing.js")).send().await.unwrap().status(), 404);
    let escape = format!("{url}/_app/%2e%2e/{}/secret.txt", secret.path().file_name().unwrap().to_string_lossy());
    assert_ne!(http.get(escape).send().await.unwrap().status(), 200, "nothing outside the directory is served");

    // config.json: the outputs, with execute-api URLs that answer here.
    let config: serde_json::Value =
        http.get(format!("{url}/_app/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["region"], "us-east-1");
    assert_eq!(config["cognitoEndpoint"], url.as_str());
    let outputs = &config["outputs"];
    assert_eq!(outputs["UserPoolId"], started.stack.physical_id("UserPool").unwrap());
    assert_eq!(outputs["TableName"], started.stack.output("TableName").unwrap());
    let api = outputs["HttpApiUrl"].as_str().unwrap();
    let answer: serde_json::Value = http.get(format!("{api}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["rawPath"], "/health", "the output URL reaches the function");
    assert!(outputs["WebSocketUrl"].as_str().unwrap().starts_with("ws://127.0.0.1:"));
    assert!(banner(&started).contains(&format!("app:      {url}/_app/")));
    started.handle.shutdown().await;

    // Without a web client the path says so.
    let plain = up(common::builder(), &{
        let mut o = UpOptions::new(template_path());
        o.functions = functions();
        o
    })
    .await
    .unwrap();
    let none = http.get(format!("{}/_app/", plain.handle.url())).send().await.unwrap();
    assert_eq!(none.status(), 404);
    assert!(!banner(&plain).contains("/_app/"));
    plain.handle.shutdown().await;
}
