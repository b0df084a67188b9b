//! Lambda event adapters: each turns one event type into a call of the plain functions in
//! [`api`], [`realtime`] and [`onboard`], and the result back into the response shape Lambda's
//! caller expects. The binaries in `src/bin/` are `main` around these.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::api;
use crate::auth::Verifier;
use crate::aws;
use crate::chat::{self, Caller, Deps};
use crate::kms::{Kms, SdkKms};
use crate::onboard::Onboarding;
use crate::realtime::{self, Realtime};
use crate::store::Store;

/// Logs to stderr without ANSI colours (CloudWatch and the emulator's log view show it raw).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws_config=warn".into()),
        )
        .with_ansi(false)
        .without_time()
        .init();
}

/// The chat's dependencies from the environment (`TABLE_NAME`, `BUCKET_NAME`, optionally
/// `MAX_ROOM_MEMBERS`).
pub async fn deps() -> Result<Deps<SdkKms>, Error> {
    let max_room_members = chat::room_cap(std::env::var("MAX_ROOM_MEMBERS").ok().as_deref())?;
    let config = aws::sdk_config().await;
    Ok(Deps {
        store: Store::new(aws_sdk_dynamodb::Client::new(&config), aws::env("TABLE_NAME")?),
        s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build()),
        bucket: aws::env("BUCKET_NAME")?,
        kms: SdkKms(aws_sdk_kms::Client::new(&config)),
        max_room_members,
    })
}

fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    let raw = raw.unwrap_or("");
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// The HTTP API function.
pub async fn http<K: Kms>(
    deps: &Deps<K>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let e = event.payload;
    let claims = e
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|j| j.claims.clone())
        .unwrap_or_default();
    let body = match (e.body, e.is_base64_encoded) {
        (Some(b), true) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        (b, _) => b,
    };
    let req = api::Request {
        method: e.request_context.http.method.as_str().to_string(),
        path: e.raw_path.unwrap_or_default(),
        query: query_map(e.raw_query_string.as_deref()),
        body,
        claims,
    };
    let resp = api::handle(deps, &req).await;
    let (text, b64) = resp.body_for_proxy();
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = resp.content_type.parse() {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = resp.status as i64;
    out.headers = headers;
    out.body = Some(Body::Text(text));
    out.is_base64_encoded = b64;
    Ok(out)
}

fn ws_status(status: u16, body: &str) -> Value {
    json!({ "statusCode": status, "body": body })
}

/// The WebSocket `$connect` function.
pub async fn ws_connect(
    store: &Store,
    verifier: &Verifier,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<Value, Error> {
    let e = event.payload;
    let connection = e.request_context.connection_id.unwrap_or_default();
    let token = e.query_string_parameters.first("token").map(str::to_string);
    Ok(match realtime::connect(store, verifier, &connection, token.as_deref()).await {
        Ok(_) => ws_status(200, "connected"),
        Err(status) => ws_status(status, "refused"),
    })
}

/// The WebSocket `$disconnect` function.
pub async fn ws_disconnect(store: &Store, event: LambdaEvent<ApiGatewayWebsocketProxyRequest>) -> Result<Value, Error> {
    let connection = event.payload.request_context.connection_id.unwrap_or_default();
    realtime::disconnect(store, &connection).await?;
    Ok(ws_status(200, "disconnected"))
}

/// The WebSocket message function: `sendMessage` (`{"to"|"conversationId", "text"}`) and
/// `typing` (`{"conversationId"}`); answers go back on the same connection.
pub async fn ws_message<K: Kms>(
    deps: &Deps<K>,
    rt: &Realtime,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<Value, Error> {
    let e = event.payload;
    let connection = e.request_context.connection_id.unwrap_or_default();
    let Some(sub) = deps.store.connection_owner(&connection).await? else {
        return Ok(ws_status(403, "unknown connection"));
    };
    let profile = deps.store.profile(&sub).await?;
    let caller = Caller { sub: sub.clone(), username: profile.map(|p| p.username).unwrap_or(sub) };
    let body: Value = serde_json::from_str(e.body.as_deref().unwrap_or("")).unwrap_or(Value::Null);
    let reply = match body["action"].as_str() {
        Some("sendMessage") => {
            let text = body["text"].as_str().unwrap_or("");
            let sent = match (body["to"].as_str(), body["conversationId"].as_str()) {
                (Some(to), _) => chat::send_to_user(deps, &caller, to, text).await,
                (None, Some(conv)) => chat::send_to_conversation(deps, &caller, conv, text).await,
                _ => Err(chat::ChatError::BadRequest("`to` or `conversationId` is required".into())),
            };
            match sent {
                Ok(s) => {
                    json!({ "type": "sent", "conversationId": s.conversation_id, "messageId": s.message_id, "sentAt": s.sent_at, "ref": body["ref"] })
                }
                Err(e) => {
                    json!({ "type": "error", "status": e.status(), "message": e.to_string(), "ref": body["ref"] })
                }
            }
        }
        Some("typing") => match rt.typing(&caller, body["conversationId"].as_str().unwrap_or("")).await {
            Ok(_) => return Ok(ws_status(200, "")),
            Err(m) => json!({ "type": "error", "status": 404, "message": m }),
        },
        _ => json!({ "type": "error", "status": 400, "message": "unknown action" }),
    };
    let mut ignored = realtime::Fanout::default();
    let _ = rt.push_to_connection(&connection, &reply, &mut ignored).await;
    Ok(ws_status(200, ""))
}

/// The stream processor: fans new messages out and sends the e-mail notices.
pub async fn stream(rt: &Realtime, sns: &aws_sdk_sns::Client, event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Every message of the batch reaches the sockets before any e-mail notice is sent: the
    // notices (a profile read and a Publish per reader) would otherwise hold up the next push.
    let messages = realtime::new_messages(&event.payload);
    for meta in &messages {
        let out = rt.deliver(meta).await?;
        tracing::info!(message = %meta.message_id, pushed = out.pushed, gone = out.gone, "delivered");
    }
    // The next batch waits for this invocation to end (one batch at a time per shard), so the
    // notices of the batch's messages go out together rather than one message after another.
    use futures_util::StreamExt;
    futures_util::stream::iter(&messages)
        .for_each_concurrent(realtime::PUSH_CONCURRENCY, |meta| async move {
            if let Err(e) = realtime::notify_readers(&rt.store, sns, meta).await {
                tracing::warn!(message = %meta.message_id, error = %e, "notice not sent");
            }
        })
        .await;
    Ok(json!({ "batchItemFailures": [] }))
}

/// The Cognito triggers that onboard a user: PostConfirmation (self sign-up) and
/// PreTokenGeneration (every sign-in; the only trigger an administrator-created user passes
/// through, since Cognito does not run PostConfirmation for them). Onboarding is idempotent,
/// so a sign-in of an onboarded user costs one read. The event goes back unchanged.
pub async fn onboard(onboarding: &Onboarding, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let e = event.payload;
    let attrs = &e["request"]["userAttributes"];
    let sub = attrs["sub"].as_str().unwrap_or_default().to_string();
    if sub.is_empty() {
        return Err("the trigger event has no sub".into());
    }
    let email = attrs["email"].as_str().unwrap_or_default();
    let username = e["userName"].as_str().unwrap_or(&sub).to_string();
    let caller = Caller { sub, username };
    onboarding.onboard(&caller, email, crate::ids::now_millis() as i64).await?;
    Ok(e)
}

/// The account id of the running function, from its ARN.
pub fn account_of(function_arn: &str) -> String {
    function_arn.split(':').nth(4).unwrap_or_default().to_string()
}
