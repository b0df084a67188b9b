//! What each resource type becomes, one file per service family, and the in-process calls
//! they make.
//!
//! Resources are created through the services' operation handlers (`dynamodb::handle`,
//! `kms::handle`, …) with a request context acting as the account root, exactly as an SDK
//! request would run, so templates get AWS's validation and error messages.
//!
//! | file          | types                                                                 |
//! |---------------|-----------------------------------------------------------------------|
//! | `dynamodb.rs` | `AWS::DynamoDB::Table`, `AWS::Serverless::SimpleTable`                |
//! | `s3.rs`       | `AWS::S3::Bucket`                                                     |
//! | `sns.rs`      | `AWS::SNS::Topic`, `AWS::SNS::Subscription`                           |
//! | `kms.rs`      | `AWS::KMS::Key`, `AWS::KMS::Alias`                                    |
//! | `cognito.rs`  | `AWS::Cognito::UserPool`, `AWS::Cognito::UserPoolClient`, triggers    |
//! | `lambda.rs`   | functions (SAM and plain), their events, event source mappings        |
//! | `build.rs`    | `cargo build` of `rust-cargolambda` functions                         |
//! | `apigw.rs`    | SAM `HttpApi`/`Api` and `AWS::ApiGatewayV2::*` → one API definition each |
//! | `recorded.rs` | IAM, `Lambda::Permission`, `ApiGatewayV2::Deployment`: ids only       |

pub(super) mod apigw;
mod build;
mod cognito;
mod dynamodb;
mod kms;
pub(crate) mod lambda;
mod recorded;
mod s3;
mod sns;

use axum::response::Response;
use serde_json::Value;

use super::provision::{Done, ProvisionError, Provisioner, Step};
use crate::error::AwsError;
use crate::protocol::HttpRequest;
use crate::protocol::aws_query::QueryInput;
use crate::services;
use crate::state::Ctx;

/// Whether resources of this type are provisioned (or at least recorded).
pub(super) fn supported(kind: &str) -> bool {
    matches!(
        kind,
        "AWS::DynamoDB::Table"
            | "AWS::Serverless::SimpleTable"
            | "AWS::S3::Bucket"
            | "AWS::SNS::Topic"
            | "AWS::SNS::Subscription"
            | "AWS::KMS::Key"
            | "AWS::KMS::Alias"
            | "AWS::Cognito::UserPool"
            | "AWS::Cognito::UserPoolClient"
            | "AWS::Serverless::Function"
            | "AWS::Lambda::Function"
            | "AWS::Lambda::EventSourceMapping"
            | "AWS::Serverless::HttpApi"
            | "AWS::Serverless::Api"
            | "AWS::ApiGatewayV2::Api"
            | "AWS::ApiGatewayV2::Integration"
            | "AWS::ApiGatewayV2::Route"
            | "AWS::ApiGatewayV2::RouteResponse"
            | "AWS::ApiGatewayV2::Authorizer"
            | "AWS::ApiGatewayV2::Stage"
    ) || recorded::recorded(kind)
}

/// Provisions one resource of a [`supported`] type.
pub(super) async fn provision(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    match step.kind.as_str() {
        "AWS::DynamoDB::Table" => dynamodb::table(p, step).await,
        "AWS::Serverless::SimpleTable" => dynamodb::simple_table(p, step).await,
        "AWS::S3::Bucket" => s3::bucket(p, step).await,
        "AWS::SNS::Topic" => sns::topic(p, step).await,
        "AWS::SNS::Subscription" => sns::subscription(p, step).await,
        "AWS::KMS::Key" => kms::key(p, step).await,
        "AWS::KMS::Alias" => kms::alias(p, step).await,
        "AWS::Cognito::UserPool" => cognito::pool(p, step).await,
        "AWS::Cognito::UserPoolClient" => cognito::client(p, step).await,
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => lambda::function(p, step).await,
        "AWS::Lambda::EventSourceMapping" => lambda::mapping(p, step).await,
        "AWS::Serverless::HttpApi" => apigw::http_api(p, step).await,
        "AWS::Serverless::Api" => apigw::rest_api(p, step).await,
        "AWS::ApiGatewayV2::Api" => apigw::v2_api(p, step).await,
        "AWS::ApiGatewayV2::Integration" => apigw::v2_integration(p, step),
        "AWS::ApiGatewayV2::Route" => apigw::v2_route(p, step),
        "AWS::ApiGatewayV2::RouteResponse" => apigw::v2_route_response(p, step),
        "AWS::ApiGatewayV2::Authorizer" => apigw::v2_authorizer(p, step),
        "AWS::ApiGatewayV2::Stage" => apigw::v2_stage(p, step),
        _ => Ok(recorded::record(p, step)),
    }
}

/// The JSON-protocol services.
pub(super) use crate::services::JsonService as Json;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

impl Provisioner<'_> {
    /// A request context acting as the account root, as unmapped SDK credentials do.
    pub(super) fn ctx(&self) -> Ctx {
        Ctx::internal(&self.emu)
    }

    /// Calls a JSON-protocol operation; returns its output document.
    pub(super) async fn call(&self, service: Json, op: &str, input: &Value) -> Result<Value, AwsError> {
        services::call_json(&self.ctx(), service, op, input).await
    }

    /// Calls an SNS (query protocol) operation; returns the XML response.
    pub(super) async fn call_sns(&self, op: &str, params: &[(String, String)]) -> Result<String, AwsError> {
        let mut all = vec![("Action".to_string(), op.to_string()), ("Version".into(), services::sns::VERSION.into())];
        all.extend(params.iter().cloned());
        let form = serde_urlencoded::to_string(&all).map_err(|e| AwsError::internal(e.to_string()))?;
        let q = QueryInput::parse(form.as_bytes())?;
        let response = services::sns::handle(&self.ctx(), &q).await?;
        Ok(String::from_utf8_lossy(&body_of(response).await?).into_owned())
    }

    /// Calls S3 with a path-style request.
    pub(super) async fn call_s3(&self, method: http::Method, path: &str, body: Vec<u8>) -> Result<(), AwsError> {
        let uri: http::Uri = path.parse().map_err(|_| AwsError::bad_request("InvalidURI", path.to_string()))?;
        let req = HttpRequest { method, uri, headers: http::HeaderMap::new(), body: body.into() };
        services::s3::handle(&self.ctx(), &req).await.map(|_| ())
    }

    /// The name of a resource whose name property (`member`) may be absent: the property, else
    /// the name an earlier run generated (`previous`), else CloudFormation's
    /// `{stack}-{LogicalId}-{RANDOM}`, shortened to `max` characters.
    pub(super) fn name(&self, step: &Step, member: &str, previous: Option<&str>, max: usize, lower: bool) -> String {
        if let Some(name) = step.props[member].as_str() {
            return name.to_string();
        }
        let generated_before = step.previous.as_ref().is_some_and(|r| r.properties[member].is_null());
        if let Some(name) = previous.filter(|_| generated_before) {
            return name.to_string();
        }
        self.generated_name(&step.id, max, lower)
    }

    /// `{stack}-{LogicalId}-{RANDOM}`, each part shortened so the whole fits in `max`.
    pub(super) fn generated_name(&self, id: &str, max: usize, lower: bool) -> String {
        let suffix =
            if lower { self.emu.rng.string_from(LOWER_ALNUM, 12) } else { self.emu.rng.string_from(UPPER_ALNUM, 12) };
        let room = max.saturating_sub(suffix.len() + 2);
        let stack: String = self.stack().chars().take(room / 2).collect();
        let id: String = id.chars().take(room - stack.len()).collect();
        let name = format!("{stack}-{id}-{suffix}");
        if lower { name.to_ascii_lowercase() } else { name }
    }

    /// Warns about properties given but not emulated.
    pub(super) fn ignored(&mut self, step: &Step, members: &[&str], why: &str) {
        let present: Vec<&str> = members.iter().copied().filter(|m| !step.props[*m].is_null()).collect();
        if !present.is_empty() {
            self.warn(format!("{}: {} not applied: {why}", step.id, present.join(", ")));
        }
    }

    /// Warns about changed properties the service cannot change on an existing resource.
    pub(super) fn not_applied(&mut self, step: &Step, members: &[String]) {
        if !members.is_empty() {
            self.warn(format!(
                "{}: changed {} not applied to the existing {} (reset the emulator's state to create it afresh)",
                step.id,
                members.join(", "),
                step.kind
            ));
        }
    }

    /// Warns about changed properties that would need the resource replaced.
    pub(super) fn needs_replacement(&mut self, step: &Step, members: &[String]) {
        if !members.is_empty() {
            self.warn(format!(
                "{}: changed {} would need a new {}; not applied (reset the emulator's state to create it afresh)",
                step.id,
                members.join(", "),
                step.kind
            ));
        }
    }
}

async fn body_of(response: Response) -> Result<bytes::Bytes, AwsError> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(|e| AwsError::internal(e.to_string()))
}

/// The text of the first `<tag>` element of an XML document.
pub(super) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    let text = &xml[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A property as text: strings as they are, numbers and booleans written out, objects and
/// lists as JSON (policy documents given as YAML mappings).
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A number given as a number or as numeric text (parameters are text).
pub(super) fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean given as a boolean or as `"true"`/`"false"`.
pub(super) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A list of strings given as a list or as one string.
pub(super) fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        Value::Null => Vec::new(),
        other => text(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn xml_text_reads_the_first_element() {
        let xml = "<R><TopicArn>arn:aws:sns:us-east-1:0:t&amp;u</TopicArn><TopicArn>x</TopicArn></R>";
        assert_eq!(xml_text(xml, "TopicArn").as_deref(), Some("arn:aws:sns:us-east-1:0:t&u"));
        assert_eq!(xml_text(xml, "Missing"), None);
    }

    #[test]
    fn property_conversions() {
        assert_eq!(text(&json!(5)).as_deref(), Some("5"));
        assert_eq!(text(&json!({"a": 1})).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(number(&json!("30")), Some(30));
        assert_eq!(boolean(&json!("True")), Some(true));
        assert_eq!(strings(&json!("a")), ["a"]);
        assert_eq!(strings(&json!(["a", 1])), ["a", "1"]);
    }
}
