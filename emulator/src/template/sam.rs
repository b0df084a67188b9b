//! The resources the SAM transform adds without the template declaring them.
//!
//! SAM turns an `AWS::Serverless::Function` without a `Role` into a function plus an IAM role
//! named `{Function}Role`, and gathers `HttpApi` / `Api` events that name no API into one
//! implicit API per kind, `ServerlessHttpApi` and `ServerlessRestApi`. Templates refer to these
//! (`!GetAtt ChatFunctionRole.Arn` in a key policy, `!Ref ServerlessHttpApi` in an output), so
//! they are added to [`Template::resources`](super::Template::resources) before references are
//! checked and resources sorted. They come first in template order: they depend on nothing the
//! template declares (unless `Globals` give the implicit API properties that do).

use serde_json::{Map, Value, json};

use super::Resource;

/// The implicit API of `HttpApi` events without `ApiId`.
pub const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";
/// The implicit API of `Api` events without `RestApiId`.
pub const IMPLICIT_REST_API: &str = "ServerlessRestApi";

/// The logical id of a SAM function's implicit role.
pub fn implicit_role(function: &str) -> String {
    format!("{function}Role")
}

/// Adds SAM's implicit resources that the template does not declare itself, at the front;
/// returns how many were added.
pub(crate) fn add_implicit(resources: &mut Vec<Resource>) -> usize {
    let declared = |resources: &[Resource], id: &str| resources.iter().any(|r| r.logical_id == id);
    let mut implicit = Vec::new();
    let mut http_api = false;
    let mut rest_api = false;
    for function in resources.iter().filter(|r| r.kind == "AWS::Serverless::Function") {
        let role = implicit_role(&function.logical_id);
        if function.properties.get("Role").is_none() && !declared(resources, &role) {
            implicit.push(Resource {
                logical_id: role,
                kind: "AWS::IAM::Role".into(),
                properties: json!({}),
                condition: function.condition.clone(),
                depends_on: Vec::new(),
                metadata: json!({"SamResourceId": function.logical_id}),
            });
        }
        for event in function.properties["Events"].as_object().into_iter().flat_map(Map::values) {
            let properties = &event["Properties"];
            match event["Type"].as_str() {
                Some("HttpApi") if properties.get("ApiId").is_none() => http_api = true,
                Some("Api") if properties.get("RestApiId").is_none() => rest_api = true,
                _ => {}
            }
        }
    }
    if http_api && !declared(resources, IMPLICIT_HTTP_API) {
        implicit.push(implicit_api(IMPLICIT_HTTP_API, "AWS::Serverless::HttpApi", json!({})));
    }
    if rest_api && !declared(resources, IMPLICIT_REST_API) {
        implicit.push(implicit_api(IMPLICIT_REST_API, "AWS::Serverless::Api", json!({"StageName": "Prod"})));
    }
    let added = implicit.len();
    resources.splice(0..0, implicit);
    added
}

fn implicit_api(logical_id: &str, kind: &str, properties: Value) -> Resource {
    Resource {
        logical_id: logical_id.into(),
        kind: kind.into(),
        properties,
        condition: None,
        depends_on: Vec::new(),
        metadata: json!({"SamResourceId": logical_id}),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::template::parse;

    const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Principal: {AWS: !GetAtt SendFunctionRole.Arn}
  SendFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Send: {Type: HttpApi, Properties: {Path: /send, Method: post}}
        Old: {Type: Api, Properties: {Path: /old, Method: get}}
  OwnRoleFunction:
    Type: AWS::Serverless::Function
    Properties:
      Role: arn:aws:iam::000000000000:role/mine
      Events:
        Other: {Type: HttpApi, Properties: {ApiId: !Ref ServerlessHttpApi, Path: /x, Method: get}}
Outputs:
  Url: {Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com"}
  Rest: {Value: !Ref ServerlessRestApi}
"#;

    #[test]
    fn implicit_roles_and_apis_exist_and_come_first() {
        let t = parse(TEMPLATE).unwrap();
        let ids: Vec<&str> = t.resources.iter().map(|r| r.logical_id.as_str()).collect();
        assert_eq!(
            ids,
            ["SendFunctionRole", "ServerlessHttpApi", "ServerlessRestApi", "Key", "SendFunction", "OwnRoleFunction"]
        );
        assert_eq!(t.resource("SendFunctionRole").unwrap().kind, "AWS::IAM::Role");
        assert!(t.resource("OwnRoleFunctionRole").is_none(), "a function with a Role has no implicit one");
        let api = t.resource("ServerlessHttpApi").unwrap();
        assert_eq!(api.kind, "AWS::Serverless::HttpApi");
        assert_eq!(api.properties["CorsConfiguration"], json!(true), "HttpApi globals apply");
        assert_eq!(t.resource("ServerlessRestApi").unwrap().properties["StageName"], json!("Prod"));
    }
}
