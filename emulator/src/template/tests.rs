//! End-to-end tests of the template module: a realistic SAM template read, ordered and
//! evaluated against a fake provisioner, and malformed input rejected without panicking.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// A provisioner that has created every resource: `Ref X` is `x-physical`, `GetAtt X.A` is
/// `arn:X:A`.
struct Provisioned;

impl Context for Provisioned {
    fn resource_ref(&self, id: &str) -> Option<Value> {
        Some(json!(format!("{}-physical", id.to_lowercase())))
    }

    fn resource_attr(&self, id: &str, attr: &str) -> Option<Value> {
        Some(json!(format!("arn:{id}:{attr}")))
    }
}

const SAM: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Serverless chat

Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        STAGE: !Ref Stage
        LOG_LEVEL: info
    Tags:
      app: chat

Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
    Description: Deployment stage
  Secret:
    Type: String
    NoEcho: true
    Default: s3cr3t

Conditions:
  IsProd: !Equals [!Ref Stage, prod]

Resources:
  ChatFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bootstrap
      CodeUri: target/lambda/chat/
      MemorySize: !If [IsProd, 1024, 256]
      Layers: [extra-layer]
      Environment:
        Variables:
          TABLE_NAME: !Ref MessagesTable
          TABLE_ARN: !GetAtt MessagesTable.Arn
          LOG_LEVEL: debug
          DEBUG: !If [IsProd, !Ref 'AWS::NoValue', 'true']
      Events:
        Send:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /messages
            Method: POST
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: !Ref Stage
  MessagesTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub '${AWS::StackName}-messages-${Stage}'
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      PointInTimeRecoverySpecification:
        PointInTimeRecoveryEnabled: !If [IsProd, true, false]
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Condition: IsProd
    DependsOn: ChatFunction
    Properties:
      AlarmName: !Join ['-', [!Ref 'AWS::StackName', errors]]

Outputs:
  ApiUrl:
    Description: Chat API endpoint
    Value: !Sub "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    Export:
      Name: !Sub '${AWS::StackName}-ApiUrl'
  AlarmName:
    Condition: IsProd
    Value: !Ref Alarm
"#;

fn ids(template: &Template) -> Vec<&str> {
    template.resources.iter().map(|r| r.logical_id.as_str()).collect()
}

#[test]
fn sam_template_parses_with_globals_merged() {
    let t = parse(SAM).unwrap();
    assert_eq!(t.description.as_deref(), Some("Serverless chat"));
    assert_eq!(t.transform, ["AWS::Serverless-2016-10-31"]);
    assert!(t.is_sam());
    assert_eq!(t.parameters.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Stage", "Secret"]);
    assert_eq!(t.parameters[0].allowed_values, ["dev", "prod"]);
    assert!(t.parameters[1].no_echo);
    assert_eq!(t.conditions["IsProd"], json!({"Fn::Equals": [{"Ref": "Stage"}, "prod"]}));

    let function = t.resource("ChatFunction").unwrap();
    assert_eq!(function.kind, "AWS::Serverless::Function");
    let p = &function.properties;
    assert_eq!(p["Runtime"], json!("provided.al2023"), "from Globals");
    assert_eq!(p["Handler"], json!("bootstrap"));
    assert_eq!(p["Layers"], json!([{"Ref": "SharedLayer"}, "extra-layer"]), "global items first");
    assert_eq!(p["Environment"]["Variables"]["STAGE"], json!({"Ref": "Stage"}), "merged key by key");
    assert_eq!(p["Environment"]["Variables"]["LOG_LEVEL"], json!("debug"), "the resource wins");
    assert_eq!(p["Tags"], json!({"app": "chat"}));
    assert!(t.resource("HttpApi").unwrap().properties.get("Runtime").is_none(), "Function globals only");
    assert!(t.resource("MessagesTable").unwrap().properties.get("Timeout").is_none());

    let alarm = t.resource("Alarm").unwrap();
    assert_eq!(alarm.condition.as_deref(), Some("IsProd"));
    assert_eq!(alarm.depends_on, ["ChatFunction"]);
    assert_eq!(t.outputs.len(), 2);
    assert_eq!(t.outputs[0].description.as_deref(), Some("Chat API endpoint"));
    assert_eq!(t.outputs[0].export_name, Some(json!({"Fn::Sub": "${AWS::StackName}-ApiUrl"})));
    assert_eq!(t.outputs[1].condition.as_deref(), Some("IsProd"));
}

#[test]
fn sam_resources_are_sorted_after_what_they_reference() {
    let t = parse(SAM).unwrap();
    // ChatFunction needs HttpApi, MessagesTable and (through Globals) SharedLayer; the Alarm
    // depends on the function; the rest keep their template order. SAM's implicit role of the
    // function comes first.
    assert_eq!(ids(&t), ["ChatFunctionRole", "HttpApi", "MessagesTable", "SharedLayer", "ChatFunction", "Alarm"]);
}

#[test]
fn sam_template_evaluates() {
    let t = parse(SAM).unwrap();
    let pseudo = Pseudo::new("us-east-1", "000000000000", "chat");
    let dev = Evaluator::new(&t, &BTreeMap::new(), pseudo.clone()).unwrap();
    let function = t.resource("ChatFunction").unwrap();
    let props = dev.eval(&function.properties, &Provisioned).unwrap();
    assert_eq!(props["MemorySize"], json!(256));
    assert_eq!(
        props["Environment"]["Variables"],
        json!({
            "TABLE_NAME": "messagestable-physical",
            "TABLE_ARN": "arn:MessagesTable:Arn",
            "STAGE": "dev",
            "LOG_LEVEL": "debug",
            "DEBUG": "true",
        })
    );
    assert_eq!(props["Layers"], json!(["sharedlayer-physical", "extra-layer"]));
    assert_eq!(props["Events"]["Send"]["Properties"]["ApiId"], json!("httpapi-physical"));

    let table = dev.eval(&t.resource("MessagesTable").unwrap().properties, &Provisioned).unwrap();
    assert_eq!(table["TableName"], json!("chat-messages-dev"));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], json!(false));

    let included: Vec<&str> =
        t.resources.iter().filter(|r| dev.include(r).unwrap()).map(|r| r.logical_id.as_str()).collect();
    assert_eq!(
        included,
        ["ChatFunctionRole", "HttpApi", "MessagesTable", "SharedLayer", "ChatFunction"],
        "no Alarm in dev"
    );

    let url = &t.outputs[0];
    assert!(dev.include_output(url).unwrap());
    assert_eq!(
        dev.eval(&url.value, &Provisioned).unwrap(),
        json!("https://httpapi-physical.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!(dev.eval(url.export_name.as_ref().unwrap(), &Provisioned).unwrap(), json!("chat-ApiUrl"));
    assert!(!dev.include_output(&t.outputs[1]).unwrap());

    let overrides = BTreeMap::from([("Stage".to_string(), "prod".to_string())]);
    let prod = Evaluator::new(&t, &overrides, pseudo).unwrap();
    let props = prod.eval(&function.properties, &Provisioned).unwrap();
    assert_eq!(props["MemorySize"], json!(1024));
    assert!(props["Environment"]["Variables"].get("DEBUG").is_none(), "AWS::NoValue removes the key");
    assert!(prod.include(t.resource("Alarm").unwrap()).unwrap());
    let alarm = prod.eval(&t.resource("Alarm").unwrap().properties, &Provisioned).unwrap();
    assert_eq!(alarm, json!({"AlarmName": "chat-errors"}));
}

#[test]
fn sam_parameter_errors() {
    let t = parse(SAM).unwrap();
    let pseudo = Pseudo::new("us-east-1", "000000000000", "chat");
    let bad = BTreeMap::from([("Stage".to_string(), "qa".to_string())]);
    let err = Evaluator::new(&t, &bad, pseudo.clone()).unwrap_err();
    assert_eq!(err.to_string(), "Parameter 'Stage' must be one of AllowedValues: [dev, prod]");
    let unknown = BTreeMap::from([("Colour".to_string(), "red".to_string())]);
    assert!(Evaluator::new(&t, &unknown, pseudo).is_err());
}

#[test]
fn json_templates_keep_working() {
    let text = r#"{
        "Parameters": {"Name": {"Type": "String", "Default": "n"}},
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Name}-${Topic.TopicName}"}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Name"}}}
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}}
    }"#;
    let t = parse(text).unwrap();
    assert_eq!(ids(&t), ["Topic", "Queue"]);
    let e = Evaluator::new(&t, &BTreeMap::new(), Pseudo::new("us-east-1", "1", "s")).unwrap();
    assert_eq!(
        e.eval(&t.resources[1].properties, &Provisioned).unwrap(),
        json!({"QueueName": "n-arn:Topic:TopicName"})
    );
}

#[test]
fn structural_errors() {
    let cases: &[(&str, &str)] = &[
        ("Resources: {}", "At least one Resources member must be defined."),
        ("Parameters: {}", "At least one Resources member must be defined."),
        ("Resources: {A: {Properties: {}}}", "Every Resources object must contain a Type member."),
        ("Resources: {A: {Type: X, Propertes: {}}}", "Invalid template resource property 'Propertes'"),
        ("Resourses: {A: {Type: X}}", "Invalid template property or properties [Resourses]"),
        ("Resources: {A-1: {Type: X}}", "Resource name A-1 is non alphanumeric."),
        ("Resources: {A: {Type: X, Condition: Nope}}", "Unresolved condition dependencies [Nope]"),
        ("Resources: {A: {Type: X, Properties: {P: !If [Nope, 1, 2]}}}", "Unresolved condition dependencies [Nope]"),
        (
            "Resources: {A: {Type: X, Properties: {P: !Ref B}}}",
            "Unresolved resource dependencies [B] in the Resources block of the template",
        ),
        ("Resources: {A: {Type: X, DependsOn: [B]}}", "Unresolved resource dependencies [B]"),
        ("Resources: {A: {Type: X}}\nOutputs: {O: {Value: !GetAtt B.Arn}}", "in the Outputs block"),
        ("Resources: {A: {Type: X}}\nOutputs: {O: {Description: d}}", "must contain a Value object"),
        ("Resources: {A: {Type: X}}\nConditions: {C: !Equals [!Ref A, x]}", "Cannot reference resources"),
        ("Resources: {A: {Type: X}}\nGlobals: {Lambda: {}}", "'Lambda'"),
        ("Resources: {A: {Type: X, Properties: {P: !Ref A}}}", "Circular dependency between resources: [A]"),
        ("Resources: {A: {Type: X, Properties: {P: !Frob A}}}", "Unknown tag !Frob"),
        ("Resources: {A: {Type: X}\n", "YAML not well-formed"),
        ("Resources: {A: {Type: X}, A: {Type: Y}}", "YAML not well-formed"),
        ("- just\n- a list\n", "must be a mapping"),
        ("Parameters: {A: {Type: String}}\nResources: {A: {Type: X}}", "names must be unique"),
    ];
    for (text, expected) in cases {
        match parse(text) {
            Ok(_) => panic!("{text:?} parsed"),
            Err(err) => assert!(err.to_string().contains(expected), "{text:?}: {err}"),
        }
    }
}

#[test]
fn cycles_name_their_resources() {
    let text = "
Resources:
  A: {Type: X, Properties: {P: !GetAtt B.Arn}}
  B: {Type: X, Properties: {P: !Sub '${C}'}}
  C: {Type: X, DependsOn: A}
";
    assert_eq!(
        parse(text).unwrap_err(),
        TemplateError::Validation("Circular dependency between resources: [A, B, C]".into())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text is accepted or rejected, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    /// Templates whose values are random, mostly well-formed, nests of intrinsic functions:
    /// parse, then evaluate every resource and output, never panicking.
    #[test]
    fn random_intrinsics_never_panic(value in expression()) {
        let text = format!(
            "Parameters: {{P: {{Type: String, Default: x}}, L: {{Type: CommaDelimitedList, Default: 'a,b'}}}}\n\
             Conditions: {{C: !Equals [!Ref P, x], D: {value}}}\n\
             Mappings: {{M: {{K: {{V: 1}}}}}}\n\
             Resources:\n  A: {{Type: X}}\n  B: {{Type: X, Condition: D, Properties: {{W: {value}}}}}\n\
             Outputs: {{O: {{Value: {value}}}}}\n"
        );
        if let Ok(t) = parse(&text)
            && let Ok(e) = Evaluator::new(&t, &BTreeMap::new(), Pseudo::new("us-east-1", "1", "s"))
        {
            for r in &t.resources {
                let _ = e.include(r);
                let _ = e.eval(&r.properties, &Provisioned);
            }
            for o in &t.outputs {
                let _ = e.eval(&o.value, &Provisioned);
            }
        }
    }
}

/// YAML text of an expression: scalars, names, and intrinsic functions applied to expressions.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("''".to_string()),
        Just("0".to_string()),
        Just("3".to_string()),
        Just("true".to_string()),
        Just("'10.0.0.0/16'".to_string()),
        Just("!Ref A".to_string()),
        Just("!Ref P".to_string()),
        Just("!Ref L".to_string()),
        Just("!Ref AWS::NoValue".to_string()),
        Just("!Ref AWS::Region".to_string()),
        Just("!Ref Nope".to_string()),
        Just("!GetAtt A.Arn".to_string()),
        Just("!Sub '${A}-${P}-${A.Arn}-${!x}-${AWS::StackId}'".to_string()),
        Just("!Condition C".to_string()),
        Just("!GetAZs ''".to_string()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        let list = proptest::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", ")));
        prop_oneof![
            list.clone(),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{k: {k}, v: {v}}}")),
            (inner.clone(), list.clone()).prop_map(|(d, l)| format!("!Join [{d}, {l}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("!If [C, {a}, {b}]")),
            (inner.clone(), inner.clone()).prop_map(|(i, l)| format!("!Select [{i}, {l}]")),
            (inner.clone(), inner.clone()).prop_map(|(d, s)| format!("!Split [{d}, {s}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("!Equals [{a}, {b}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("!And [{a}, {b}]")),
            inner.clone().prop_map(|a| format!("!Not [{a}]")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("!FindInMap [M, {a}, {b}, {{DefaultValue: {a}}}]")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("!Cidr [{a}, {b}, {c}]")),
            (inner.clone(), inner.clone()).prop_map(|(t, v)| format!("!Sub [{t}, {{A: {v}}}]")),
            inner.clone().prop_map(|a| format!("{{Fn::Base64: {a}}}")),
            inner.clone().prop_map(|a| format!("{{Fn::Length: {a}}}")),
            inner.clone().prop_map(|a| format!("{{Fn::ToJsonString: {a}}}")),
            inner.clone().prop_map(|a| format!("{{Fn::GetAtt: [A, {a}]}}")),
            inner.prop_map(|a| format!("{{Ref: {a}}}")),
        ]
    })
}
