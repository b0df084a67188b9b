//! API Gateway: every API of a template becomes one [`ApiSpec`].
//!
//! - `AWS::Serverless::HttpApi` / `AWS::Serverless::Api` (and SAM's implicit
//!   `ServerlessHttpApi` / `ServerlessRestApi`): stage, authorizers, default authorizer and
//!   CORS from the API; routes from the `HttpApi` / `Api` events of the functions.
//! - `AWS::ApiGatewayV2::Api` with its `Integration`s (Lambda proxy), `Route`s,
//!   `RouteResponse`s, `Authorizer`s and `Stage`: assembled into the API they name.
//!
//! An API is saved as soon as it is met (that gives it its id, which its `Ref` and
//! `ApiEndpoint` need), and saved again with all its routes once every resource is provisioned:
//! routes come from resources that are created after the API. A recorded API keeps its id.
//! `ApiEndpoint` is the API's URL on this instance, without the stage.
//!
//! JWT authorizers whose issuer is a Cognito pool's AWS URL
//! (`https://cognito-idp.{region}.amazonaws.com/{poolId}`) are given the issuer the pool's tokens
//! carry on this instance instead, so templates written for AWS authorize local tokens.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{boolean, number, strings, text};
use crate::services::apigw::{ApiProtocol, ApiSpec, AuthorizerSpec, Cors, RouteSpec, spec};
use crate::services::cognito;
use crate::services::lambda::function_name;
use crate::state::Emu;
use crate::template::provision::{Done, ProvisionError, Provisioner, Step};
use crate::template::sam::{IMPLICIT_HTTP_API, IMPLICIT_REST_API};

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Which authorizer a route of a SAM event uses.
#[derive(Debug, Clone)]
enum RouteAuth {
    /// The API's `DefaultAuthorizer` (known once the API itself is provisioned).
    Default,
    /// `Authorizer: NONE`, or no authorization type.
    Open,
    Named(String),
}

/// An API being assembled.
#[derive(Debug)]
struct Draft {
    spec: ApiSpec,
    routes: Vec<(RouteSpec, RouteAuth)>,
    default_authorizer: Option<String>,
    /// Declared by the template (implicit APIs without routes are not saved).
    declared: bool,
}

impl Draft {
    fn new(protocol: ApiProtocol) -> Self {
        Draft {
            spec: ApiSpec {
                id: String::new(),
                name: String::new(),
                protocol,
                stage: "$default".into(),
                routes: Vec::new(),
                authorizers: BTreeMap::new(),
                cors: None,
                route_selection_expression: "$request.body.action".into(),
                stage_variables: BTreeMap::new(),
            },
            routes: Vec::new(),
            default_authorizer: None,
            declared: false,
        }
    }

    /// The definition with every route's authorizer settled.
    fn complete(&self) -> ApiSpec {
        let mut spec = self.spec.clone();
        spec.routes = self
            .routes
            .iter()
            .map(|(route, auth)| {
                let mut route = route.clone();
                route.authorizer = match auth {
                    RouteAuth::Default => self.default_authorizer.clone().filter(|a| a != "NONE"),
                    RouteAuth::Open => None,
                    RouteAuth::Named(name) => Some(name.clone()),
                };
                route
            })
            .collect();
        spec
    }
}

/// A Lambda proxy integration of a V2 API.
#[derive(Debug, Clone)]
struct Integration {
    function: Option<String>,
    payload_version: Option<String>,
}

/// The APIs of one provisioning run.
#[derive(Debug, Default)]
pub(in crate::template) struct Apis {
    /// By the API's logical id.
    drafts: BTreeMap<String, Draft>,
    /// V2 integrations by id.
    integrations: HashMap<String, Integration>,
    /// V2 routes by id: the API's logical id and the route's index in its draft.
    routes: HashMap<String, (String, usize)>,
    /// V2 authorizers by id: the API's logical id and the authorizer's name.
    authorizers: HashMap<String, (String, String)>,
    /// The definitions saved at the end, for the stack's report.
    pub(in crate::template) saved: Vec<ApiSpec>,
}

impl Apis {
    /// The logical id of the API with this physical id.
    fn by_id(&self, id: &str) -> Option<String> {
        self.drafts.iter().find(|(_, d)| d.spec.id == id).map(|(lid, _)| lid.clone())
    }
}

/// `ApiEndpoint`: the API's URL on this instance, without a stage.
fn endpoint(emu: &Emu, spec: &ApiSpec) -> String {
    let mut root = spec.clone();
    root.stage = "$default".into();
    spec::invoke_url(emu, &root)
}

/// Settles an API's id: the recorded one, else one `spec::save` gives (by name, so an API of
/// the same name and protocol keeps its id).
async fn register(p: &mut Provisioner<'_>, step: &Step, mut draft_spec: ApiSpec) -> Result<ApiSpec, ProvisionError> {
    if let Some(previous) = &step.previous {
        draft_spec.id = previous.physical_id.clone();
    }
    draft_spec.routes.clear();
    spec::save(&p.emu, draft_spec).await.map_err(|e| step.aws("saving the API", &e))
}

/// Merges an API's own settings into its draft (which may already hold routes from events).
async fn declare(p: &mut Provisioner<'_>, step: &Step, settings: Draft) -> Result<Done, ProvisionError> {
    let saved = register(p, step, settings.spec.clone()).await?;
    let draft = p.apis.drafts.entry(step.id.clone()).or_insert_with(|| Draft::new(settings.spec.protocol));
    let routes = std::mem::take(&mut draft.routes);
    *draft = settings;
    draft.routes = routes;
    draft.spec.id = saved.id.clone();
    draft.declared = true;
    let existing = step.previous.is_some();
    Ok(Done::new(&saved.id, existing).attr("ApiId", saved.id.as_str()).attr("ApiEndpoint", endpoint(&p.emu, &saved)))
}

fn api_name(p: &Provisioner<'_>, step: &Step) -> String {
    text(&step.props["Name"]).unwrap_or_else(|| format!("{}-{}", p.stack(), step.id))
}

/// `AWS::Serverless::HttpApi`.
pub(super) async fn http_api(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let mut draft = Draft::new(ApiProtocol::Http);
    draft.spec.name = api_name(p, step);
    draft.spec.stage = text(&props["StageName"]).unwrap_or_else(|| "$default".into());
    draft.spec.stage_variables = string_map(&props["StageVariables"]);
    let auth = &props["Auth"];
    for (name, a) in auth["Authorizers"].as_object().into_iter().flatten() {
        let authorizer = if a["JwtConfiguration"].is_object() {
            let jwt = &a["JwtConfiguration"];
            AuthorizerSpec::Jwt {
                issuer: local_issuer(&p.emu, &text(first(jwt, &["issuer", "Issuer"])).unwrap_or_default()),
                audience: strings(first(jwt, &["audience", "Audience"])),
                identity_source: strings(&a["IdentitySource"])
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "$request.header.Authorization".into()),
            }
        } else if let Some(function) = text(&a["FunctionArn"]) {
            let identity = &a["Identity"];
            let mut sources: Vec<String> =
                strings(&identity["Headers"]).iter().map(|h| format!("$request.header.{h}")).collect();
            sources.extend(strings(&identity["QueryStrings"]).iter().map(|q| format!("$request.querystring.{q}")));
            AuthorizerSpec::Request {
                function: function_name(&function).to_string(),
                identity_source: sources,
                simple_responses: boolean(&a["EnableSimpleResponses"]).unwrap_or(false),
            }
        } else {
            return Err(step.error("reading Auth.Authorizers", format!("authorizer {name} is neither JWT nor Lambda")));
        };
        draft.spec.authorizers.insert(name.clone(), authorizer);
    }
    draft.default_authorizer = text(&auth["DefaultAuthorizer"]);
    draft.spec.cors = match &props["CorsConfiguration"] {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::Bool(true) | Value::String(_) => Some(open_cors()),
        object => Some(cors(object, false)),
    };
    declare(p, step, draft).await
}

/// `AWS::Serverless::Api` (a REST API).
pub(super) async fn rest_api(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let mut draft = Draft::new(ApiProtocol::Rest);
    draft.spec.name = api_name(p, step);
    draft.spec.stage = text(&props["StageName"]).unwrap_or_else(|| "Prod".into());
    draft.spec.stage_variables = string_map(&props["Variables"]);
    let auth = &props["Auth"];
    for (name, a) in auth["Authorizers"].as_object().into_iter().flatten() {
        let header = text(&a["Identity"]["Header"]).unwrap_or_else(|| "Authorization".into());
        let authorizer = if !a["UserPoolArn"].is_null() {
            AuthorizerSpec::CognitoUserPools {
                provider_arns: strings(&a["UserPoolArn"]),
                identity_source: format!("$request.header.{header}"),
            }
        } else if let Some(function) = text(&a["FunctionArn"]) {
            let identity = &a["Identity"];
            let mut sources = vec![format!("$request.header.{header}")];
            if a["FunctionPayloadType"].as_str() == Some("REQUEST") {
                sources = strings(&identity["Headers"]).iter().map(|h| format!("$request.header.{h}")).collect();
                sources.extend(strings(&identity["QueryStrings"]).iter().map(|q| format!("$request.querystring.{q}")));
            }
            AuthorizerSpec::Request {
                function: function_name(&function).to_string(),
                identity_source: sources,
                simple_responses: false,
            }
        } else {
            return Err(step.error(
                "reading Auth.Authorizers",
                format!("authorizer {name} is neither a Cognito user pool nor a Lambda authorizer"),
            ));
        };
        draft.spec.authorizers.insert(name.clone(), authorizer);
    }
    draft.default_authorizer = text(&auth["DefaultAuthorizer"]);
    draft.spec.cors = match &props["Cors"] {
        Value::Null => None,
        Value::String(origin) => Some(Cors { allow_origins: vec![unquote(origin)], ..open_cors() }),
        object => Some(cors(object, true)),
    };
    declare(p, step, draft).await
}

/// A route of a SAM function's `HttpApi` or `Api` event.
pub(super) fn sam_route(
    p: &mut Provisioner<'_>,
    function: &Step,
    event: &str,
    properties: &Value,
    protocol: ApiProtocol,
    function_name: &str,
) -> Result<(), ProvisionError> {
    let (member, implicit) =
        if protocol == ApiProtocol::Http { ("ApiId", IMPLICIT_HTTP_API) } else { ("RestApiId", IMPLICIT_REST_API) };
    let operation = format!("event {event}");
    let api = match text(&properties[member]) {
        Some(id) => p
            .apis
            .by_id(&id)
            .ok_or_else(|| function.error(&operation, format!("{member} {id} is not an API of this stack")))?,
        None => implicit.to_string(),
    };
    let method = match text(&properties["Method"]) {
        Some(m) if m.eq_ignore_ascii_case("any") => "ANY".to_string(),
        Some(m) => m.to_ascii_uppercase(),
        None => String::new(),
    };
    let path = text(&properties["Path"]);
    let key = match (method.as_str(), path) {
        ("", None) if protocol == ApiProtocol::Http => "$default".to_string(),
        ("", _) | (_, None) => return Err(function.error(&operation, "an API event needs Path and Method")),
        (method, Some(path)) => format!("{method} {path}"),
    };
    let auth = match text(&properties["Auth"]["Authorizer"]) {
        Some(name) if name == "NONE" => RouteAuth::Open,
        Some(name) => RouteAuth::Named(name),
        None => RouteAuth::Default,
    };
    let payload_version = text(&properties["PayloadFormatVersion"]).map(|v| match v.as_str() {
        "1" => "1.0".to_string(),
        "2" => "2.0".to_string(),
        _ => v,
    });
    let route = RouteSpec {
        key,
        function: Some(function_name.to_string()),
        authorizer: None,
        scopes: strings(&properties["Auth"]["AuthorizationScopes"]),
        payload_version,
        route_response: false,
    };
    p.apis.drafts.entry(api).or_insert_with(|| Draft::new(protocol)).routes.push((route, auth));
    Ok(())
}

/// `AWS::ApiGatewayV2::Api`: an HTTP or WebSocket API (quick-create `Target` included).
pub(super) async fn v2_api(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let protocol = match text(&props["ProtocolType"]).as_deref() {
        Some("WEBSOCKET") => ApiProtocol::Websocket,
        Some("HTTP") | None => ApiProtocol::Http,
        Some(other) => return Err(step.error("reading ProtocolType", format!("unknown protocol type {other}"))),
    };
    if !props["Body"].is_null() || !props["BodyS3Location"].is_null() {
        p.warn(format!("{}: OpenAPI bodies are not imported; only routes declared as resources exist", step.id));
    }
    let mut draft = Draft::new(protocol);
    draft.spec.name = api_name(p, step);
    if let Some(expression) = text(&props["RouteSelectionExpression"]) {
        draft.spec.route_selection_expression = expression;
    }
    if !props["CorsConfiguration"].is_null() {
        draft.spec.cors = Some(cors(&props["CorsConfiguration"], false));
    }
    let target = text(&props["Target"]);
    let done = declare(p, step, draft).await?;
    if let Some(target) = target {
        // Quick create: one route (default `$default`) to the target function.
        let route = RouteSpec {
            key: text(&props["RouteKey"]).unwrap_or_else(|| "$default".into()),
            function: lambda_of(&target),
            authorizer: None,
            scopes: Vec::new(),
            payload_version: None,
            route_response: false,
        };
        if let Some(draft) = p.apis.drafts.get_mut(&step.id) {
            draft.routes.push((route, RouteAuth::Open));
        }
    }
    Ok(done)
}

/// The draft of the V2 API a sub-resource names in `ApiId`.
fn v2_parent(p: &Provisioner<'_>, step: &Step) -> Result<String, ProvisionError> {
    let id = text(&step.props["ApiId"]).unwrap_or_default();
    p.apis.by_id(&id).ok_or_else(|| step.error("finding its API", format!("ApiId {id} is not an API of this stack")))
}

/// An id for a V2 sub-resource: the recorded one, else a new one like AWS's.
fn sub_id(p: &Provisioner<'_>, step: &Step) -> (String, bool) {
    match &step.previous {
        Some(r) => (r.physical_id.clone(), true),
        None => (p.emu.rng.string_from(ID_ALPHABET, 7), false),
    }
}

/// `AWS::ApiGatewayV2::Integration`: a Lambda proxy integration.
pub(super) fn v2_integration(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    v2_parent(p, step)?;
    let props = &step.props;
    let kind = text(&props["IntegrationType"]).unwrap_or_default();
    let function = text(&props["IntegrationUri"]).as_deref().and_then(lambda_of);
    if kind != "AWS_PROXY" || function.is_none() {
        p.warn(format!(
            "{}: only Lambda proxy integrations (AWS_PROXY to a function) are emulated; routes to it have no integration",
            step.id
        ));
    }
    let (id, existing) = sub_id(p, step);
    let integration = Integration { function, payload_version: text(&props["PayloadFormatVersion"]) };
    p.apis.integrations.insert(id.clone(), integration);
    Ok(Done::new(&id, existing).attr("IntegrationId", id.as_str()))
}

/// `AWS::ApiGatewayV2::Authorizer`: REQUEST (a Lambda function) or JWT.
pub(super) fn v2_authorizer(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let api = v2_parent(p, step)?;
    let props = &step.props;
    let name = text(&props["Name"]).unwrap_or_else(|| step.id.clone());
    let sources = strings(&props["IdentitySource"]);
    let authorizer = match text(&props["AuthorizerType"]).as_deref() {
        Some("REQUEST") => {
            let uri = text(&props["AuthorizerUri"]).unwrap_or_default();
            let function = lambda_of(&uri)
                .ok_or_else(|| step.error("reading AuthorizerUri", format!("{uri} does not name a Lambda function")))?;
            let simple = boolean(&props["EnableSimpleResponses"]).unwrap_or(false);
            AuthorizerSpec::Request { function, identity_source: sources, simple_responses: simple }
        }
        Some("JWT") => {
            let jwt = &props["JwtConfiguration"];
            AuthorizerSpec::Jwt {
                issuer: local_issuer(&p.emu, &text(&jwt["Issuer"]).unwrap_or_default()),
                audience: strings(&jwt["Audience"]),
                identity_source: sources.into_iter().next().unwrap_or_else(|| "$request.header.Authorization".into()),
            }
        }
        other => {
            return Err(step.error(
                "reading AuthorizerType",
                format!("authorizer type {} is not emulated (REQUEST and JWT are)", other.unwrap_or("(none)")),
            ));
        }
    };
    if let Some(draft) = p.apis.drafts.get_mut(&api) {
        draft.spec.authorizers.insert(name.clone(), authorizer);
    }
    let (id, existing) = sub_id(p, step);
    p.apis.authorizers.insert(id.clone(), (api, name));
    Ok(Done::new(&id, existing).attr("AuthorizerId", id.as_str()))
}

/// `AWS::ApiGatewayV2::Route`.
pub(super) fn v2_route(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let api = v2_parent(p, step)?;
    let props = &step.props;
    let key = text(&props["RouteKey"]).unwrap_or_default();
    let integration =
        match text(&props["Target"]) {
            Some(target) => {
                let id = target.strip_prefix("integrations/").unwrap_or(&target);
                let found = p.apis.integrations.get(id).cloned();
                Some(found.ok_or_else(|| {
                    step.error("reading Target", format!("{target} is not an integration of this stack"))
                })?)
            }
            None => None,
        };
    let auth = match text(&props["AuthorizationType"]).as_deref() {
        None | Some("NONE") => RouteAuth::Open,
        Some("JWT" | "CUSTOM") => {
            let id = text(&props["AuthorizerId"]).unwrap_or_default();
            let (_, name) = p.apis.authorizers.get(&id).cloned().ok_or_else(|| {
                step.error("reading AuthorizerId", format!("{id} is not an authorizer of this stack"))
            })?;
            RouteAuth::Named(name)
        }
        Some(other) => {
            p.warn(format!("{}: authorization type {other} is not emulated; the route is open", step.id));
            RouteAuth::Open
        }
    };
    let route = RouteSpec {
        key,
        function: integration.as_ref().and_then(|i| i.function.clone()),
        authorizer: None,
        scopes: strings(&props["AuthorizationScopes"]),
        payload_version: integration.and_then(|i| i.payload_version),
        route_response: !props["RouteResponseSelectionExpression"].is_null(),
    };
    let (id, existing) = sub_id(p, step);
    if let Some(draft) = p.apis.drafts.get_mut(&api) {
        draft.routes.push((route, auth));
        p.apis.routes.insert(id.clone(), (api, draft.routes.len() - 1));
    }
    Ok(Done::new(&id, existing).attr("RouteId", id.as_str()))
}

/// `AWS::ApiGatewayV2::RouteResponse`: the route's integration response goes back to the client.
pub(super) fn v2_route_response(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let route = text(&step.props["RouteId"]).unwrap_or_default();
    let (api, index) = p
        .apis
        .routes
        .get(&route)
        .cloned()
        .ok_or_else(|| step.error("finding its route", format!("RouteId {route} is not a route of this stack")))?;
    if let Some((route, _)) = p.apis.drafts.get_mut(&api).and_then(|d| d.routes.get_mut(index)) {
        route.route_response = true;
    }
    let (id, existing) = sub_id(p, step);
    Ok(Done::new(&id, existing).attr("RouteResponseId", id.as_str()))
}

/// `AWS::ApiGatewayV2::Stage`: the stage the API is served under.
pub(super) fn v2_stage(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let api = v2_parent(p, step)?;
    let name = text(&step.props["StageName"]).unwrap_or_else(|| "$default".into());
    let variables = string_map(&step.props["StageVariables"]);
    let mut warning = None;
    if let Some(draft) = p.apis.drafts.get_mut(&api) {
        if draft.spec.stage != "$default" && draft.spec.stage != name {
            warning = Some(format!(
                "{}: the API already has stage {}; the emulator serves one stage per API, now {name}",
                step.id, draft.spec.stage
            ));
        }
        draft.spec.stage = name.clone();
        draft.spec.stage_variables = variables;
    }
    if let Some(w) = warning {
        p.warn(w);
    }
    Ok(Done::new(&name, step.previous.is_some()))
}

/// Saves every API with its routes, once all resources are provisioned.
pub(in crate::template) async fn finish(p: &mut Provisioner<'_>) -> Result<(), ProvisionError> {
    let drafts = std::mem::take(&mut p.apis.drafts);
    for (lid, draft) in &drafts {
        if !draft.declared && draft.routes.is_empty() {
            continue;
        }
        let spec = draft.complete();
        let saved = spec::save(&p.emu, spec).await.map_err(|e| ProvisionError::Resource {
            logical_id: lid.clone(),
            kind: "API".into(),
            operation: "saving the API with its routes".into(),
            message: format!("{}: {}", e.code, e.message),
        })?;
        p.apis.saved.push(saved);
    }
    p.apis.drafts = drafts;
    Ok(())
}

/// The function of a Lambda ARN, or of an API Gateway integration URI
/// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`).
fn lambda_of(uri: &str) -> Option<String> {
    let arn = match uri.split_once("/functions/") {
        Some((_, rest)) => rest.strip_suffix("/invocations").unwrap_or(rest),
        None => uri,
    };
    arn.contains(":function:").then(|| function_name(arn).to_string())
}

/// A Cognito pool's AWS issuer becomes the issuer its tokens carry on this instance.
fn local_issuer(emu: &Emu, issuer: &str) -> String {
    let trimmed = issuer.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("https://cognito-idp.")
        && let Some((host, pool)) = rest.split_once('/')
        && host.ends_with(".amazonaws.com")
        && pool.contains('_')
        && !pool.contains('/')
    {
        return cognito::tokens::issuer(emu, pool);
    }
    issuer.to_string()
}

fn first<'v>(object: &'v Value, names: &[&str]) -> &'v Value {
    names.iter().map(|n| &object[*n]).find(|v| !v.is_null()).unwrap_or(&Value::Null)
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value.as_object().into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), text(v)?))).collect()
}

fn open_cors() -> Cors {
    Cors {
        allow_origins: vec!["*".into()],
        allow_methods: vec!["*".into()],
        allow_headers: vec!["*".into()],
        ..Cors::default()
    }
}

/// SAM's REST `Cors` quotes its values (`"'*'"`) and joins lists with commas.
fn unquote(s: &str) -> String {
    s.trim().trim_matches('\'').to_string()
}

/// A CORS configuration: HTTP API style (lists) or, `quoted`, SAM REST style (quoted strings).
fn cors(value: &Value, quoted: bool) -> Cors {
    let list = |names: &[&str]| -> Vec<String> {
        let v = first(value, names);
        if quoted {
            text(v).map(|s| unquote(&s).split(',').map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect())
        } else {
            Some(strings(v))
        }
        .unwrap_or_default()
    };
    Cors {
        allow_origins: list(&["AllowOrigins", "AllowOrigin"]),
        allow_methods: list(&["AllowMethods"]),
        allow_headers: list(&["AllowHeaders"]),
        expose_headers: list(&["ExposeHeaders"]),
        max_age: number(first(value, &["MaxAge"]))
            .or_else(|| text(&value["MaxAge"]).and_then(|s| unquote(&s).parse().ok())),
        allow_credentials: boolean(&value["AllowCredentials"]).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lambda_of_reads_arns_and_integration_uris() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:chat-Send-1";
        assert_eq!(lambda_of(arn).as_deref(), Some("chat-Send-1"));
        let uri = format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations");
        assert_eq!(lambda_of(&uri).as_deref(), Some("chat-Send-1"));
        assert_eq!(lambda_of("https://example.com"), None);
    }

    #[test]
    fn cors_in_both_styles() {
        let http =
            cors(&json!({"AllowOrigins": ["http://localhost:3000"], "AllowMethods": ["GET"], "MaxAge": 600}), false);
        assert_eq!(http.allow_origins, ["http://localhost:3000"]);
        assert_eq!(http.max_age, Some(600));
        let rest = cors(&json!({"AllowOrigin": "'*'", "AllowMethods": "'GET,POST'", "MaxAge": "'60'"}), true);
        assert_eq!(rest.allow_origins, ["*"]);
        assert_eq!(rest.allow_methods, ["GET", "POST"]);
        assert_eq!(rest.max_age, Some(60));
    }

    #[test]
    fn default_authorizers_settle_when_the_api_is_complete() {
        let mut draft = Draft::new(ApiProtocol::Http);
        let route = |key: &str| RouteSpec {
            key: key.into(),
            function: Some("f".into()),
            authorizer: None,
            scopes: Vec::new(),
            payload_version: None,
            route_response: false,
        };
        draft.routes.push((route("GET /a"), RouteAuth::Default));
        draft.routes.push((route("GET /b"), RouteAuth::Open));
        draft.routes.push((route("GET /c"), RouteAuth::Named("Other".into())));
        draft.default_authorizer = Some("Jwt".into());
        let spec = draft.complete();
        let auth: Vec<Option<&str>> = spec.routes.iter().map(|r| r.authorizer.as_deref()).collect();
        assert_eq!(auth, [Some("Jwt"), None, Some("Other")]);
    }
}
