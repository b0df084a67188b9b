//! DynamoDB tables: `AWS::DynamoDB::Table` and SAM's `AWS::Serverless::SimpleTable`.
//!
//! A table is CreateTable with the template's key schema, attribute definitions, billing mode,
//! indexes and stream, then UpdateTimeToLive for `TimeToLiveSpecification`. `Ref` is the table
//! name; `Fn::GetAtt` gives `Arn` and `StreamArn`. Provisioned again, the table is kept (its
//! items too); TTL, stream, billing and deletion protection follow the template, other changes
//! are reported.

use serde_json::{Map, Value, json};

use super::{Json, boolean, text};
use crate::template::provision::{Done, ProvisionError, Provisioner, Step};

/// Properties CloudFormation accepts that the emulator does not model.
const IGNORED: &[&str] = &[
    "PointInTimeRecoverySpecification",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "ImportSourceSpecification",
    "ResourcePolicy",
    "WarmThroughput",
    "OnDemandThroughput",
];

/// Changes applied to an existing table; any other change would need a new table.
const UPDATABLE: &[&str] = &[
    "TimeToLiveSpecification",
    "StreamSpecification",
    "BillingMode",
    "ProvisionedThroughput",
    "DeletionProtectionEnabled",
    "Tags",
];

pub(super) async fn table(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    p.ignored(step, IGNORED, "not emulated");
    let name = p.name(step, "TableName", step.previous.as_ref().map(|r| r.physical_id.as_str()), 255, false);
    let input = create_input(&step.props, &name);

    if step.previous.as_ref().is_some_and(|r| r.physical_id == name)
        && let Some(description) = describe(p, step, &name).await?
    {
        let changed = step.changed();
        let replace: Vec<String> = changed
            .iter()
            .filter(|m| !UPDATABLE.contains(&m.as_str()) && !IGNORED.contains(&m.as_str()) && *m != "TableName")
            .cloned()
            .collect();
        p.needs_replacement(step, &replace);
        let mut description = description;
        if changed.iter().any(|m| m == "StreamSpecification") {
            update_stream(p, step, &name, &description).await;
        }
        if changed.iter().any(|m| ["BillingMode", "ProvisionedThroughput"].contains(&m.as_str())) {
            let mut update = json!({"TableName": name, "BillingMode": input["BillingMode"]});
            if !input["ProvisionedThroughput"].is_null() {
                update["ProvisionedThroughput"] = input["ProvisionedThroughput"].clone();
            }
            try_update(p, step, update).await;
        }
        if changed.iter().any(|m| m == "DeletionProtectionEnabled") {
            let on = boolean(&step.props["DeletionProtectionEnabled"]).unwrap_or(false);
            try_update(p, step, json!({"TableName": name, "DeletionProtectionEnabled": on})).await;
        }
        if changed.iter().any(|m| ["StreamSpecification", "BillingMode"].contains(&m.as_str())) {
            description = describe(p, step, &name).await?.unwrap_or(description);
        }
        sync_ttl(p, step, &name).await?;
        return Ok(done(&name, &description, true));
    }

    let (description, existing) = match p.call(Json::DynamoDb, "CreateTable", &input).await {
        Ok(out) => (out["TableDescription"].clone(), false),
        Err(e) if e.code == "ResourceInUseException" && step.props["TableName"].is_string() => {
            p.warn(format!("{}: table {name} already existed; it is used as it is", step.id));
            (describe(p, step, &name).await?.unwrap_or_default(), true)
        }
        Err(e) => return Err(step.aws("CreateTable", &e)),
    };
    sync_ttl(p, step, &name).await?;
    Ok(done(&name, &description, existing))
}

/// SAM's simple table: a single `PrimaryKey` (default `id`, a string), on-demand billing
/// unless `ProvisionedThroughput` is given.
pub(super) async fn simple_table(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let mut inner = step.clone();
    inner.props = simple_to_table(&step.props);
    if let Some(previous) = &mut inner.previous {
        previous.properties = simple_to_table(&previous.properties);
    }
    table(p, &inner).await
}

fn simple_to_table(props: &Value) -> Value {
    let key = &props["PrimaryKey"];
    let key_name = key["Name"].as_str().unwrap_or("id");
    let key_type = match key["Type"].as_str().unwrap_or("String") {
        "Number" => "N",
        "Binary" => "B",
        _ => "S",
    };
    let mut table = json!({
        "AttributeDefinitions": [{"AttributeName": key_name, "AttributeType": key_type}],
        "KeySchema": [{"AttributeName": key_name, "KeyType": "HASH"}],
    });
    match &props["ProvisionedThroughput"] {
        Value::Null => table["BillingMode"] = "PAY_PER_REQUEST".into(),
        throughput => table["ProvisionedThroughput"] = throughput.clone(),
    }
    for member in ["TableName", "SSESpecification", "PointInTimeRecoverySpecification"] {
        if !props[member].is_null() {
            table[member] = props[member].clone();
        }
    }
    if let Some(tags) = props["Tags"].as_object() {
        table["Tags"] = tags.iter().map(|(k, v)| json!({"Key": k, "Value": text(v).unwrap_or_default()})).collect();
    }
    table
}

/// CreateTable's input from the template's properties.
fn create_input(props: &Value, name: &str) -> Value {
    let mut input = match props {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for member in IGNORED.iter().chain(&["TimeToLiveSpecification"]) {
        input.remove(*member);
    }
    input.insert("TableName".into(), name.into());
    // CloudFormation names the stream by its view type alone; the API also wants it enabled.
    if let Some(view) = props["StreamSpecification"]["StreamViewType"].as_str() {
        input.insert("StreamSpecification".into(), json!({"StreamEnabled": true, "StreamViewType": view}));
    }
    if let Some(sse) = props["SSESpecification"].as_object() {
        let mut api = Map::new();
        if let Some(on) = sse.get("SSEEnabled").and_then(boolean) {
            api.insert("Enabled".into(), on.into());
        }
        for member in ["SSEType", "KMSMasterKeyId"] {
            if let Some(v) = sse.get(member) {
                api.insert(member.into(), v.clone());
            }
        }
        input.insert("SSESpecification".into(), Value::Object(api));
    }
    for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(Value::Array(indexes)) = input.get_mut(kind) {
            for index in indexes.iter_mut().filter_map(Value::as_object_mut) {
                index.remove("ContributorInsightsSpecification");
            }
        }
    }
    if let Some(on) = input.get("DeletionProtectionEnabled").and_then(boolean) {
        input.insert("DeletionProtectionEnabled".into(), on.into());
    }
    Value::Object(input)
}

/// The table's description, or `None` when it no longer exists.
async fn describe(p: &Provisioner<'_>, step: &Step, name: &str) -> Result<Option<Value>, ProvisionError> {
    match p.call(Json::DynamoDb, "DescribeTable", &json!({"TableName": name})).await {
        Ok(out) => Ok(Some(out["Table"].clone())),
        Err(e) if e.code == "ResourceNotFoundException" => Ok(None),
        Err(e) => Err(step.aws("DescribeTable", &e)),
    }
}

fn done(name: &str, description: &Value, existing: bool) -> Done {
    let mut done = Done::new(name, existing).attr("Arn", description["TableArn"].clone());
    let stream_on = description["StreamSpecification"]["StreamEnabled"].as_bool().unwrap_or(false);
    if let (true, Some(arn)) = (stream_on, description["LatestStreamArn"].as_str()) {
        done = done.attr("StreamArn", arn);
    }
    done
}

/// UpdateTable, where a refusal only leaves the table as it was.
async fn try_update(p: &mut Provisioner<'_>, step: &Step, update: Value) {
    if let Err(e) = p.call(Json::DynamoDb, "UpdateTable", &update).await {
        p.warn(format!("{}: UpdateTable failed, the table is unchanged: {}: {}", step.id, e.code, e.message));
    }
}

/// Turns the stream on, off, or to another view type.
async fn update_stream(p: &mut Provisioner<'_>, step: &Step, name: &str, description: &Value) {
    let current = description["StreamSpecification"]["StreamEnabled"]
        .as_bool()
        .unwrap_or(false)
        .then(|| description["StreamSpecification"]["StreamViewType"].as_str().unwrap_or_default().to_string());
    let wanted = step.props["StreamSpecification"]["StreamViewType"].as_str().map(str::to_string);
    if current == wanted {
        return;
    }
    if current.is_some() {
        try_update(p, step, json!({"TableName": name, "StreamSpecification": {"StreamEnabled": false}})).await;
    }
    if let Some(view) = wanted {
        let spec = json!({"StreamEnabled": true, "StreamViewType": view});
        try_update(p, step, json!({"TableName": name, "StreamSpecification": spec})).await;
    }
}

/// Makes the table's TTL what `TimeToLiveSpecification` says (absent: off).
async fn sync_ttl(p: &Provisioner<'_>, step: &Step, name: &str) -> Result<(), ProvisionError> {
    let spec = &step.props["TimeToLiveSpecification"];
    let wanted = match (boolean(&spec["Enabled"]).unwrap_or(false), spec["AttributeName"].as_str()) {
        (true, Some(attr)) => Some(attr.to_string()),
        _ => None,
    };
    let current = p
        .call(Json::DynamoDb, "DescribeTimeToLive", &json!({"TableName": name}))
        .await
        .map_err(|e| step.aws("DescribeTimeToLive", &e))?;
    let current = match current["TimeToLiveDescription"]["TimeToLiveStatus"].as_str() {
        Some("ENABLED") => current["TimeToLiveDescription"]["AttributeName"].as_str().map(str::to_string),
        _ => None,
    };
    if current == wanted {
        return Ok(());
    }
    let set = |attr: &str, on: bool| json!({"TableName": name, "TimeToLiveSpecification": {"AttributeName": attr, "Enabled": on}});
    if let Some(attr) = &current {
        p.call(Json::DynamoDb, "UpdateTimeToLive", &set(attr, false))
            .await
            .map_err(|e| step.aws("UpdateTimeToLive", &e))?;
    }
    if let Some(attr) = &wanted {
        p.call(Json::DynamoDb, "UpdateTimeToLive", &set(attr, true))
            .await
            .map_err(|e| step.aws("UpdateTimeToLive", &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_input_speaks_the_api() {
        let props = json!({
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": true},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "SSESpecification": {"SSEEnabled": "true"},
            "GlobalSecondaryIndexes": [{"IndexName": "g", "ContributorInsightsSpecification": {"Enabled": true}}],
        });
        let input = create_input(&props, "t");
        assert_eq!(input["TableName"], "t");
        assert_eq!(input["StreamSpecification"], json!({"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}));
        assert_eq!(input["SSESpecification"], json!({"Enabled": true}));
        assert!(input.get("TimeToLiveSpecification").is_none());
        assert!(input.get("PointInTimeRecoverySpecification").is_none());
        assert_eq!(input["GlobalSecondaryIndexes"], json!([{"IndexName": "g"}]));
    }

    #[test]
    fn simple_table_defaults() {
        let t = simple_to_table(&json!({"Tags": {"app": "chat"}}));
        assert_eq!(t["KeySchema"], json!([{"AttributeName": "id", "KeyType": "HASH"}]));
        assert_eq!(t["AttributeDefinitions"], json!([{"AttributeName": "id", "AttributeType": "S"}]));
        assert_eq!(t["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(t["Tags"], json!([{"Key": "app", "Value": "chat"}]));
        let t = simple_to_table(
            &json!({"PrimaryKey": {"Name": "n", "Type": "Number"}, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}),
        );
        assert_eq!(t["AttributeDefinitions"][0]["AttributeType"], "N");
        assert!(t.get("BillingMode").is_none());
    }
}
