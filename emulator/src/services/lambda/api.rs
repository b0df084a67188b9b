//! The Invoke API's operations: Invoke, GetFunction, GetFunctionConfiguration, ListFunctions.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::pool::Outcome;
use super::{function_name, functions};
use crate::error::{AwsError, Result};
use crate::protocol::HttpRequest;
use crate::state::Ctx;

/// Lambda's synchronous payload limit (request and response).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's asynchronous payload limit.
const MAX_EVENT_PAYLOAD: usize = 256 * 1024;

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, [(http::header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// The function a reference names, refusing qualifiers other than `$LATEST`.
fn resolve<'a>(ctx: &Ctx, reference: &'a str, qualifier: Option<&str>) -> Result<&'a str> {
    let name = function_name(reference);
    let in_arn = reference.rsplit_once(":function:").and_then(|(_, r)| r.split_once(':')).map(|(_, q)| q);
    match qualifier.or(in_arn) {
        None | Some("$LATEST") => Ok(name),
        Some(q) => Err(AwsError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {}:{q}", functions::arn(&ctx.emu, name)),
        )),
    }
}

fn query_param(req: &HttpRequest, key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.uri.query().unwrap_or("")).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

pub async fn get_function(ctx: &Ctx, reference: &str, req: &HttpRequest) -> Result<Response> {
    let name = resolve(ctx, reference, query_param(req, "Qualifier").as_deref())?;
    let config = functions::describe(&ctx.emu, name).await?;
    Ok(json(
        StatusCode::OK,
        json!({
            "Configuration": config,
            "Code": { "RepositoryType": "S3" },
        }),
    ))
}

pub async fn get_function_configuration(ctx: &Ctx, reference: &str, req: &HttpRequest) -> Result<Response> {
    let name = resolve(ctx, reference, query_param(req, "Qualifier").as_deref())?;
    Ok(json(StatusCode::OK, functions::describe(&ctx.emu, name).await?))
}

pub async fn list_functions(ctx: &Ctx, req: &HttpRequest) -> Result<Response> {
    let max = match query_param(req, "MaxItems") {
        None => 50,
        Some(m) => match m.parse::<i64>() {
            Ok(n) if (1..=10000).contains(&n) => n.min(50),
            _ => {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
                )));
            }
        },
    };
    let marker = query_param(req, "Marker");
    let (list, next) = functions::list(&ctx.emu, marker.as_deref(), max).await?;
    let mut out = json!({ "Functions": list });
    if let Some(n) = next {
        out["NextMarker"] = n.into();
    }
    Ok(json(StatusCode::OK, out))
}

pub async fn invoke(ctx: &Ctx, reference: &str, req: &HttpRequest) -> Result<Response> {
    let name = resolve(ctx, reference, query_param(req, "Qualifier").as_deref())?.to_string();
    let kind = req.header("x-amz-invocation-type").unwrap_or("RequestResponse");
    let tail = match req.header("x-amz-log-type").unwrap_or("None") {
        "None" => false,
        "Tail" => true,
        other => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
            )));
        }
    };
    let limit = if kind == "Event" { MAX_EVENT_PAYLOAD } else { MAX_PAYLOAD };
    if req.body.len() > limit {
        return Err(AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    let payload = if req.body.is_empty() { bytes::Bytes::from_static(b"{}") } else { req.body.clone() };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&payload) {
        return Err(AwsError::bad_request(
            "InvalidRequestContentException",
            format!("Could not parse request body into json: Could not parse payload into json: {e}"),
        ));
    }
    // Existence is checked before anything runs, for every invocation type.
    functions::describe(&ctx.emu, &name).await?;
    match kind {
        "DryRun" => Ok(StatusCode::NO_CONTENT.into_response()),
        "Event" => {
            ctx.emu.functions.invoke_async(&ctx.emu, &name, payload);
            let mut resp = StatusCode::ACCEPTED.into_response();
            resp.headers_mut().insert(
                "x-amzn-requestid",
                HeaderValue::from_str(&ctx.request_id).unwrap_or(HeaderValue::from_static("")),
            );
            Ok(resp)
        }
        "RequestResponse" => {
            let pool = ctx.emu.functions.pool(&ctx.emu, &name).await?;
            let request_id = super::pool::invocation_id();
            let outcome = pool.invoke_with_id(request_id.clone(), payload).await;
            let (body, error) = match outcome {
                Outcome::Ok(body) if body.len() > MAX_PAYLOAD => (
                    bytes::Bytes::from(
                        json!({
                            "errorMessage": format!("Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).", body.len()),
                            "errorType": "Function.ResponseSizeTooLarge",
                        })
                        .to_string(),
                    ),
                    true,
                ),
                Outcome::Ok(body) => (body, false),
                Outcome::Error { body } => (body, true),
            };
            let mut resp = (StatusCode::OK, [(http::header::CONTENT_TYPE, "application/json")], body).into_response();
            let h = resp.headers_mut();
            h.insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
            if error {
                h.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            }
            if tail {
                let log = base64::engine::general_purpose::STANDARD.encode(ctx.emu.functions.logs.tail(&request_id));
                if let Ok(v) = HeaderValue::from_str(&log) {
                    h.insert("x-amz-log-result", v);
                }
            }
            Ok(resp)
        }
        other => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ))),
    }
}

/// Create/Get/Update/Delete/ListEventSourceMappings.
pub async fn mapping_operation(ctx: &Ctx, req: &HttpRequest, uuid: &str) -> Result<Response> {
    use super::mappings;
    let (status, doc) = match (&req.method, uuid) {
        (&http::Method::POST, "") => (StatusCode::ACCEPTED, mappings::create(ctx, &req.body).await?),
        (&http::Method::GET, "") => {
            let max = match query_param(req, "MaxItems").map(|m| m.parse::<i64>()) {
                None => 100,
                Some(Ok(n)) if (1..=10000).contains(&n) => n.min(100),
                Some(_) => {
                    return Err(AwsError::validation(
                        "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000",
                    ));
                }
            };
            let source = query_param(req, "EventSourceArn");
            let function = query_param(req, "FunctionName");
            let marker = query_param(req, "Marker");
            let out = mappings::list(ctx, source.as_deref(), function.as_deref(), marker.as_deref(), max).await?;
            (StatusCode::OK, out)
        }
        (&http::Method::GET, id) => (StatusCode::OK, mappings::get(ctx, id).await?),
        (&http::Method::PUT, id) => (StatusCode::ACCEPTED, mappings::update(ctx, id, &req.body).await?),
        (&http::Method::DELETE, id) => (StatusCode::ACCEPTED, mappings::delete(ctx, id).await?),
        _ => return Err(AwsError::new(StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation")),
    };
    Ok(json(status, doc))
}
