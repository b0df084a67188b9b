//! HTTP APIs (payload format 2.0, or 1.0 per route) and REST APIs (Lambda proxy, payload 1.0):
//! route matching, authorizers, the Lambda event, and the mapping of the function's answer
//! back to HTTP, with each API type's own error bodies.
//!
//! Route precedence follows API Gateway: a route without a greedy `{proxy+}` beats one with it,
//! more literal segments beat fewer, a method beats `ANY`; `$default` catches the rest.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Incoming;
use super::authorizers::{self, Denied};
use super::spec::{ApiProtocol, ApiSpec, AuthorizerSpec, Cors, RouteSpec};
use crate::services::lambda::Outcome;
use crate::state::Emu;

/// A route chosen for a request, with its path parameters.
pub struct Matched<'a> {
    pub route: &'a RouteSpec,
    /// The route's path pattern (`/users/{id}`), REST's `resource`.
    pub resource: String,
    pub params: BTreeMap<String, String>,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// How specific a pattern match is: no greedy segment, literal segments, segments.
type Specificity = (bool, usize, usize);

/// Matches `path` against a route pattern; returns the parameters and a precedence score.
fn match_pattern(pattern: &str, path: &str) -> Option<(BTreeMap<String, String>, Specificity)> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut params = BTreeMap::new();
    let mut literals = 0;
    for (i, p) in pat.iter().enumerate() {
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            if i != pat.len() - 1 || segs.len() <= i {
                return None;
            }
            params.insert(name.to_string(), decode(&segs[i..].join("/")));
            return Some((params, (false, literals, pat.len())));
        }
        let seg = segs.get(i)?;
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            params.insert(name.to_string(), decode(seg));
        } else if p != seg {
            return None;
        } else {
            literals += 1;
        }
    }
    (pat.len() == segs.len()).then_some((params, (true, literals, pat.len())))
}

/// The route for a method and path (stage already removed).
pub fn match_route<'a>(routes: &'a [RouteSpec], method: &str, path: &str) -> Option<Matched<'a>> {
    let mut best: Option<(Matched<'a>, (bool, usize, usize, bool))> = None;
    for r in routes {
        let Some((m, pattern)) = r.key.split_once(' ') else { continue };
        let exact = m.eq_ignore_ascii_case(method);
        if !exact && !m.eq_ignore_ascii_case("ANY") {
            continue;
        }
        let Some((params, (no_greedy, literals, len))) = match_pattern(pattern, path) else { continue };
        let score = (no_greedy, literals, len, exact);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((Matched { route: r, resource: pattern.to_string(), params }, score));
        }
    }
    best.map(|(m, _)| m).or_else(|| {
        routes.iter().find(|r| r.key == "$default").map(|r| Matched {
            route: r,
            resource: "$default".into(),
            params: BTreeMap::new(),
        })
    })
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The error bodies API Gateway answers with before or instead of an integration.
fn refuse(spec: &ApiSpec, status: StatusCode, text: &str) -> Response {
    let mut resp = json_response(status, json!({ "message": text }));
    if spec.protocol == ApiProtocol::Http {
        resp.headers_mut().insert("apigw-requestid", HeaderValue::from_static("local"));
    }
    resp
}

fn denied(spec: &ApiSpec, d: Denied) -> Response {
    match d {
        Denied::Unauthorized(why) => {
            let mut resp = refuse(spec, StatusCode::UNAUTHORIZED, "Unauthorized");
            if spec.protocol == ApiProtocol::Http
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{}\"",
                    why.replace('"', "'")
                ))
            {
                resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
            }
            resp
        }
        Denied::Forbidden => refuse(spec, StatusCode::FORBIDDEN, "Forbidden"),
        Denied::Error => refuse(spec, StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

fn is_text(headers: &HeaderMap) -> bool {
    let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml"].iter().any(|t| ct.contains(t))
}

/// The body as the event carries it: text as is, anything else base64.
fn event_body(req: &Incoming) -> (Value, bool) {
    if req.body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(&req.body) {
        Ok(s) if is_text(&req.headers) => (Value::String(s.to_string()), false),
        _ => (Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body)), true),
    }
}

/// Headers as 2.0 gives them: lowercase names, repeated values comma-joined.
fn joined_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for (k, v) in headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        match out.get_mut(k.as_str()) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&v);
            }
            _ => {
                out.insert(k.as_str().to_string(), Value::String(v));
            }
        }
    }
    out
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw).unwrap_or_default()
}

fn nonempty(m: Map<String, Value>) -> Value {
    if m.is_empty() { Value::Null } else { Value::Object(m) }
}

/// The identity source's value: `$request.header.X`, `$request.querystring.x` (HTTP APIs) or
/// `method.request.header.X` / `route.request.querystring.x` (REST, WebSocket).
pub fn identity_value(source: &str, req: &Incoming) -> Option<String> {
    let s = source.trim();
    let (kind, name) = if let Some(n) = s.strip_prefix("$request.header.") {
        ("header", n)
    } else if let Some(n) = s.strip_prefix("$request.querystring.") {
        ("query", n)
    } else if let Some(n) = s.strip_prefix("method.request.header.").or(s.strip_prefix("route.request.header.")) {
        ("header", n)
    } else if let Some(n) =
        s.strip_prefix("method.request.querystring.").or(s.strip_prefix("route.request.querystring."))
    {
        ("query", n)
    } else {
        return None;
    };
    match kind {
        "header" => req.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string),
        _ => query_pairs(req.uri.query().unwrap_or("")).into_iter().find(|(k, _)| k == name).map(|(_, v)| v),
    }
    .filter(|v| !v.is_empty())
}

/// The 1.0 (REST-style) view of a request, shared with WebSocket events and REQUEST authorizers.
pub fn v1_parts(req: &Incoming) -> Map<String, Value> {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in &req.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let name = canonical_header(k.as_str());
        headers.insert(name.clone(), Value::String(v.clone()));
        match multi.get_mut(&name) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            _ => {
                multi.insert(name, json!([v]));
            }
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req.uri.query().unwrap_or("")) {
        query.insert(k.clone(), Value::String(v.clone()));
        match multi_query.get_mut(&k) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            _ => {
                multi_query.insert(k, json!([v]));
            }
        }
    }
    let mut out = Map::new();
    out.insert("headers".into(), Value::Object(headers));
    out.insert("multiValueHeaders".into(), Value::Object(multi));
    out.insert("queryStringParameters".into(), nonempty(query));
    out.insert("multiValueQueryStringParameters".into(), nonempty(multi_query));
    out
}

/// `content-type` → `Content-Type`: how REST events show header names clients sent in
/// lowercase (HTTP/1.1 clients mostly send them capitalised; hyper lowercases them).
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// `12/Mar/2020:19:03:58 +0000`, API Gateway's request time format.
pub fn request_time(emu: &Emu) -> (String, i64) {
    let now = emu.clock.now();
    (now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(), now.timestamp_millis())
}

fn stage_variables(spec: &ApiSpec) -> Value {
    if spec.stage_variables.is_empty() { Value::Null } else { json!(spec.stage_variables) }
}

/// Serves one request to an HTTP or REST API; `path` is without the stage.
pub async fn handle(emu: &Arc<Emu>, spec: &ApiSpec, path: &str, req: Incoming) -> Response {
    let origin = req.headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let (Some(cors), Some(origin)) = (&spec.cors, origin.as_deref())
        && req.method == Method::OPTIONS
        && req.headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(cors, origin);
    }
    let mut resp = route(emu, spec, path, req).await;
    if let (Some(cors), Some(origin)) = (&spec.cors, origin.as_deref()) {
        apply_cors(cors, origin, resp.headers_mut());
    }
    resp
}

async fn route(emu: &Arc<Emu>, spec: &ApiSpec, path: &str, req: Incoming) -> Response {
    let Some(matched) = match_route(&spec.routes, req.method.as_str(), path) else {
        return match spec.protocol {
            ApiProtocol::Rest => refuse(spec, StatusCode::FORBIDDEN, "Missing Authentication Token"),
            _ => refuse(spec, StatusCode::NOT_FOUND, "Not Found"),
        };
    };
    let route_key = super::MatchedRoute(matched.route.key.clone());
    // A fault on a route answers as API Gateway's own errors do: `{"message"}`, the code in
    // `x-amzn-ErrorType`, before the authorizer or the function runs.
    if let Some(injected) = emu.faults.check("execute-api", Some(&matched.route.key))
        && let Some(e) = injected.apply().await
    {
        let mut resp = super::message(e.status, &e.message);
        if let Ok(v) = HeaderValue::from_str(&e.code) {
            resp.headers_mut().insert("x-amzn-errortype", v);
        }
        resp.extensions_mut().insert(route_key);
        return resp;
    }
    let mut resp = matched_route(emu, spec, matched, req).await;
    resp.extensions_mut().insert(route_key);
    resp
}

async fn matched_route(emu: &Arc<Emu>, spec: &ApiSpec, matched: Matched<'_>, req: Incoming) -> Response {
    let request_id = emu.rng.uuid();
    let authorizer = match authorize(emu, spec, &matched, &req, &request_id).await {
        Ok(a) => a,
        Err(d) => return denied(spec, d),
    };
    let Some(function) = matched.route.function.clone() else {
        return refuse(spec, StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let v2 = match matched.route.payload_version.as_deref() {
        Some("1.0") => false,
        Some(_) => true,
        None => spec.protocol == ApiProtocol::Http,
    };
    let event = if v2 {
        event_v2(emu, spec, &matched, &req, authorizer, &request_id)
    } else {
        event_v1(emu, spec, &matched, &req, authorizer, &request_id)
    };
    let name = crate::services::lambda::function_name(&function).to_string();
    let outcome = emu.functions.invoke(emu, &name, event.to_string().into()).await;
    let mut resp = match outcome {
        Ok(Outcome::Ok(body)) => {
            let mapped = if v2 { response_v2(&body) } else { response_v1(&body) };
            mapped.unwrap_or_else(|| bad_gateway(spec))
        }
        Ok(Outcome::Error { .. }) | Err(_) => bad_gateway(spec),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(if spec.protocol == ApiProtocol::Rest { "x-amzn-requestid" } else { "apigw-requestid" }, v);
    }
    resp
}

/// The answer when the function failed or answered something unusable.
fn bad_gateway(spec: &ApiSpec) -> Response {
    match spec.protocol {
        ApiProtocol::Rest => refuse(spec, StatusCode::BAD_GATEWAY, "Internal server error"),
        _ => refuse(spec, StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// Runs the route's authorizer; the value for `requestContext.authorizer` (None: open route).
async fn authorize(
    emu: &Arc<Emu>,
    spec: &ApiSpec,
    matched: &Matched<'_>,
    req: &Incoming,
    request_id: &str,
) -> Result<Option<Value>, Denied> {
    let Some(name) = &matched.route.authorizer else { return Ok(None) };
    let Some(auth) = spec.authorizers.get(name) else { return Err(Denied::Error) };
    match auth {
        AuthorizerSpec::Jwt { issuer, audience, identity_source } => {
            let raw = identity_value(identity_source, req).ok_or_else(|| Denied::Unauthorized("no token".into()))?;
            let v = authorizers::verify_jwt(emu, authorizers::bearer(&raw), issuer, audience, &matched.route.scopes)
                .await?;
            Ok(Some(json!({ "jwt": { "claims": v.claims, "scopes": v.scopes } })))
        }
        AuthorizerSpec::CognitoUserPools { provider_arns, identity_source } => {
            let raw = identity_value(identity_source, req).ok_or_else(|| Denied::Unauthorized("no token".into()))?;
            let v = authorizers::verify_cognito(emu, authorizers::bearer(&raw), provider_arns).await?;
            Ok(Some(json!({ "claims": v.claims })))
        }
        AuthorizerSpec::Request { function, identity_source, simple_responses } => {
            let mut values = Vec::new();
            for s in identity_source {
                values.push(identity_value(s, req).ok_or_else(|| Denied::Unauthorized("no identity".into()))?);
            }
            let (time, epoch) = request_time(emu);
            let method_arn = format!(
                "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
                emu.config.region,
                emu.config.account,
                spec.id,
                spec.stage,
                req.method,
                matched.resource.trim_start_matches('/')
            );
            let mut event = v1_parts(req);
            event.insert("type".into(), "REQUEST".into());
            event.insert("methodArn".into(), method_arn.clone().into());
            event.insert("routeArn".into(), method_arn.into());
            event.insert("identitySource".into(), json!(values));
            event.insert("routeKey".into(), matched.route.key.clone().into());
            event.insert("resource".into(), matched.resource.clone().into());
            event.insert("path".into(), req.uri.path().into());
            event.insert("httpMethod".into(), req.method.as_str().into());
            event.insert("pathParameters".into(), json!(matched.params));
            event.insert("stageVariables".into(), stage_variables(spec));
            event.insert(
                "requestContext".into(),
                json!({
                    "accountId": emu.config.account, "apiId": spec.id, "stage": spec.stage,
                    "requestId": request_id, "requestTime": time, "requestTimeEpoch": epoch,
                    "httpMethod": req.method.as_str(), "resourcePath": matched.resource,
                    "identity": { "sourceIp": req.source_ip, "userAgent": req.user_agent() },
                }),
            );
            let simple = *simple_responses && spec.protocol == ApiProtocol::Http;
            authorizers::run_lambda(emu, function, Value::Object(event), simple).await.map(Some)
        }
    }
}

fn event_v2(
    emu: &Emu,
    spec: &ApiSpec,
    matched: &Matched<'_>,
    req: &Incoming,
    authorizer: Option<Value>,
    request_id: &str,
) -> Value {
    let (time, epoch) = request_time(emu);
    let mut headers = joined_headers(&req.headers);
    let cookies: Vec<Value> = headers
        .remove("cookie")
        .and_then(|c| c.as_str().map(|c| c.split([';', ',']).map(|p| Value::String(p.trim().to_string())).collect()))
        .unwrap_or_default();
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req.uri.query().unwrap_or("")) {
        match query.get_mut(&k) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let (body, b64) = event_body(req);
    let mut ctx = json!({
        "accountId": emu.config.account,
        "apiId": spec.id,
        "domainName": req.host,
        "domainPrefix": spec.id,
        "http": {
            "method": req.method.as_str(),
            "path": req.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": req.source_ip,
            "userAgent": req.user_agent(),
        },
        "requestId": request_id,
        "routeKey": matched.route.key,
        "stage": spec.stage,
        "time": time,
        "timeEpoch": epoch,
    });
    if let Some(a) = authorizer {
        ctx["authorizer"] = a;
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": matched.route.key,
        "rawPath": req.raw_path,
        "rawQueryString": req.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": ctx,
        "isBase64Encoded": b64,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !matched.params.is_empty() {
        event["pathParameters"] = json!(matched.params);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    if !spec.stage_variables.is_empty() {
        event["stageVariables"] = json!(spec.stage_variables);
    }
    event
}

fn event_v1(
    emu: &Emu,
    spec: &ApiSpec,
    matched: &Matched<'_>,
    req: &Incoming,
    authorizer: Option<Value>,
    request_id: &str,
) -> Value {
    let (time, epoch) = request_time(emu);
    let (body, b64) = event_body(req);
    let mut event = v1_parts(req);
    let path = req.path.clone();
    let mut ctx = json!({
        "accountId": emu.config.account,
        "apiId": spec.id,
        "domainName": req.host,
        "domainPrefix": spec.id,
        "extendedRequestId": request_id,
        "httpMethod": req.method.as_str(),
        "identity": {
            "accessKey": null, "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
            "principalOrgId": null, "sourceIp": req.source_ip, "user": null, "userAgent": req.user_agent(),
            "userArn": null,
        },
        "path": req.raw_path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": time,
        "requestTimeEpoch": epoch,
        "resourceId": spec.id,
        "resourcePath": matched.resource,
        "stage": spec.stage,
    });
    if let Some(a) = authorizer {
        ctx["authorizer"] = a;
    }
    if spec.protocol == ApiProtocol::Http {
        event.insert("version".into(), "1.0".into());
        event.insert("routeKey".into(), matched.route.key.clone().into());
    }
    event.insert("resource".into(), matched.resource.clone().into());
    event.insert("path".into(), path.into());
    event.insert("httpMethod".into(), req.method.as_str().into());
    event.insert("pathParameters".into(), if matched.params.is_empty() { Value::Null } else { json!(matched.params) });
    event.insert("stageVariables".into(), stage_variables(spec));
    event.insert("requestContext".into(), ctx);
    event.insert("body".into(), body);
    event.insert("isBase64Encoded".into(), b64.into());
    Value::Object(event)
}

fn header_pairs(v: &Value, out: &mut Vec<(String, String)>) {
    if let Some(h) = v.as_object() {
        for (k, v) in h {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            out.push((k.clone(), text));
        }
    }
}

fn build(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Option<Response> {
    let mut resp = Response::builder().status(StatusCode::from_u16(status).ok()?);
    for (k, v) in headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) else {
            continue;
        };
        resp = resp.header(name, value);
    }
    resp.body(axum::body::Body::from(body)).ok()
}

fn body_bytes(v: &Value) -> Option<Vec<u8>> {
    let b64 = v["isBase64Encoded"].as_bool().unwrap_or(false);
    match &v["body"] {
        Value::Null => Some(Vec::new()),
        Value::String(s) if b64 => base64::engine::general_purpose::STANDARD.decode(s).ok(),
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

/// 2.0: a `statusCode` object is a response; any other JSON is a 200 `application/json` body.
fn response_v2(body: &[u8]) -> Option<Response> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let Some(status) = v.get("statusCode").filter(|_| v.is_object()) else {
        let text = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return build(200, vec![("content-type".into(), "application/json".into())], text.into_bytes());
    };
    let status = status.as_u64().or_else(|| status.as_str().and_then(|s| s.parse().ok()))? as u16;
    let mut headers = Vec::new();
    header_pairs(&v["headers"], &mut headers);
    if let Some(m) = v["multiValueHeaders"].as_object() {
        for (k, vals) in m {
            for val in vals.as_array().into_iter().flatten().filter_map(Value::as_str) {
                headers.push((k.clone(), val.to_string()));
            }
        }
    }
    for c in v["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        headers.push(("set-cookie".into(), c.to_string()));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        headers.push(("content-type".into(), "application/json".into()));
    }
    build(status, headers, body_bytes(&v)?)
}

/// 1.0 (REST proxy): `statusCode` is required; anything else is a malformed proxy response.
fn response_v1(body: &[u8]) -> Option<Response> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let status = v.get("statusCode")?;
    let status = status.as_u64().or_else(|| status.as_str().and_then(|s| s.parse().ok()))? as u16;
    let mut headers = Vec::new();
    header_pairs(&v["headers"], &mut headers);
    if let Some(m) = v["multiValueHeaders"].as_object() {
        for (k, vals) in m {
            for val in vals.as_array().into_iter().flatten().filter_map(Value::as_str) {
                headers.push((k.clone(), val.to_string()));
            }
        }
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        headers.push(("content-type".into(), "application/json".into()));
    }
    build(status, headers, body_bytes(&v)?)
}

fn origin_allowed(cors: &Cors, origin: &str) -> Option<String> {
    if cors.allow_origins.iter().any(|o| o == origin) {
        Some(origin.to_string())
    } else if cors.allow_origins.iter().any(|o| o == "*") {
        Some(if cors.allow_credentials { origin.to_string() } else { "*".to_string() })
    } else {
        None
    }
}

/// API Gateway answers CORS preflights itself when the API has a CORS configuration.
fn preflight(cors: &Cors, origin: &str) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let Some(allowed) = origin_allowed(cors, origin) else { return resp };
    let h = resp.headers_mut();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set("access-control-allow-origin", allowed);
    if !cors.allow_methods.is_empty() {
        set("access-control-allow-methods", cors.allow_methods.join(","));
    }
    if !cors.allow_headers.is_empty() {
        set("access-control-allow-headers", cors.allow_headers.join(","));
    }
    if let Some(age) = cors.max_age {
        set("access-control-max-age", age.to_string());
    }
    if cors.allow_credentials {
        set("access-control-allow-credentials", "true".into());
    }
    resp
}

/// CORS headers on actual responses replace whatever the integration sent.
fn apply_cors(cors: &Cors, origin: &str, h: &mut HeaderMap) {
    for k in ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"] {
        h.remove(k);
    }
    let Some(allowed) = origin_allowed(cors, origin) else { return };
    if let Ok(v) = HeaderValue::from_str(&allowed) {
        h.insert("access-control-allow-origin", v);
    }
    if cors.allow_credentials {
        h.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    if !cors.expose_headers.is_empty()
        && let Ok(v) = HeaderValue::from_str(&cors.expose_headers.join(","))
    {
        h.insert("access-control-expose-headers", v);
    }
    h.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// Used by WebSocket route responses too.
pub fn response_body(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("statusCode").is_some() { body_bytes(&v) } else { Some(body.to_vec()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(key: &str) -> RouteSpec {
        RouteSpec {
            key: key.into(),
            function: Some("f".into()),
            authorizer: None,
            scopes: vec![],
            payload_version: None,
            route_response: false,
        }
    }

    #[test]
    fn routes_follow_api_gateway_precedence() {
        let routes = vec![
            route("ANY /{proxy+}"),
            route("GET /users/{id}"),
            route("GET /users/me"),
            route("ANY /users/{id}"),
            route("$default"),
        ];
        let key = |m: &str, p: &str| match_route(&routes, m, p).map(|x| x.route.key.clone());
        assert_eq!(key("GET", "/users/me").as_deref(), Some("GET /users/me"));
        assert_eq!(key("GET", "/users/42").as_deref(), Some("GET /users/{id}"));
        assert_eq!(key("DELETE", "/users/42").as_deref(), Some("ANY /users/{id}"));
        assert_eq!(key("POST", "/a/b/c").as_deref(), Some("ANY /{proxy+}"));
        let m = match_route(&routes, "GET", "/users/a%20b").unwrap();
        assert_eq!(m.params["id"], "a b");
        let m = match_route(&routes, "PUT", "/x/y").unwrap();
        assert_eq!(m.params["proxy"], "x/y");
        let only_default = vec![route("GET /a"), route("$default")];
        assert_eq!(match_route(&only_default, "GET", "/b").unwrap().route.key, "$default");
        assert!(match_route(&[route("GET /a")], "GET", "/b").is_none());
    }

    #[test]
    fn v2_responses_without_status_code_are_json_200() {
        let r = response_v2(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let r = response_v2(br#"{"statusCode":201,"headers":{"x-a":"1"},"body":"made","cookies":["a=1"]}"#).unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["set-cookie"], "a=1");
        assert!(response_v1(br#"{"body":"no status"}"#).is_none(), "REST proxy needs statusCode");
    }

    #[test]
    fn header_names_are_capitalised_for_rest_events() {
        assert_eq!(canonical_header("content-type"), "Content-Type");
        assert_eq!(canonical_header("x-amz-date"), "X-Amz-Date");
    }
}
