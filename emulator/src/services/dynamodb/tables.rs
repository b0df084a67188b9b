//! Tables: CreateTable, DescribeTable, ListTables, DeleteTable.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::streams::{self, Stream};
use super::{in_use, not_found_table};
use crate::error::{AwsError, Result};
use crate::state::Ctx;

/// A table's definition as accepted by CreateTable.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub table_id: String,
    pub definition: Value,
    pub created_at: f64,
    /// The TimeToLive attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
    /// The latest stream, open or closed; `None` if streams were never enabled.
    pub stream: Option<Stream>,
}

/// A key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttr {
    pub name: String,
    pub kind: String,
}

/// A key schema: partition key and optional sort key.
#[derive(Debug, Clone)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

/// A secondary index (global or local) as defined on its table.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub global: bool,
    pub keys: KeySchema,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    pub non_key: Vec<String>,
}

impl Table {
    fn attr(&self, schema: &Value, key_type: &str) -> Option<KeyAttr> {
        let name = schema.as_array()?.iter().find(|k| k["KeyType"] == key_type)?["AttributeName"].as_str()?.to_string();
        let kind = self.definition["AttributeDefinitions"]
            .as_array()?
            .iter()
            .find(|a| a["AttributeName"] == name.as_str())?["AttributeType"]
            .as_str()?
            .to_string();
        Some(KeyAttr { name, kind })
    }

    fn key(&self, key_type: &str) -> Option<KeyAttr> {
        self.attr(&self.definition["KeySchema"], key_type)
    }

    pub fn schema(&self) -> KeySchema {
        KeySchema { hash: self.hash_key(), range: self.range_key() }
    }

    /// Every secondary index of the table.
    pub fn indexes(&self) -> Vec<Index> {
        let mut out = Vec::new();
        for (member, global) in [("GlobalSecondaryIndexes", true), ("LocalSecondaryIndexes", false)] {
            for i in self.definition[member].as_array().into_iter().flatten() {
                let (Some(name), Some(hash)) = (i["IndexName"].as_str(), self.attr(&i["KeySchema"], "HASH")) else {
                    continue;
                };
                out.push(Index {
                    name: name.to_string(),
                    global,
                    keys: KeySchema { hash, range: self.attr(&i["KeySchema"], "RANGE") },
                    projection: i["Projection"]["ProjectionType"].as_str().unwrap_or("ALL").to_string(),
                    non_key: i["Projection"]["NonKeyAttributes"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default(),
                });
            }
        }
        out
    }

    pub fn index(&self, name: &str) -> Result<Index> {
        self.indexes()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| AwsError::validation(format!("The table does not have the specified index: {name}")))
    }

    pub fn hash_key(&self) -> KeyAttr {
        self.key("HASH").expect("validated at creation")
    }

    pub fn range_key(&self) -> Option<KeyAttr> {
        self.key("RANGE")
    }

    pub fn arn(&self, ctx: &Ctx) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}", ctx.config().region, ctx.account(), self.name)
    }
}

pub async fn load(ctx: &Ctx, name: &str) -> Result<Table> {
    let mut conn = ctx.store().pool().acquire().await?;
    load_in(&mut conn, name).await
}

/// [`load`] on a given connection (inside a write transaction).
pub async fn load_in(conn: &mut sqlx::SqliteConnection, name: &str) -> Result<Table> {
    let row = sqlx::query(
        "SELECT t.name, t.table_id, t.definition, t.created_at, t.ttl_attribute,
                s.stream_arn, s.label, s.view_type, s.closed_at IS NULL
         FROM ddb_tables t LEFT JOIN ddb_streams s ON s.stream_arn = t.stream_arn WHERE t.name = ?",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found_table)?;
    let stream = row.get::<Option<String>, _>(5).map(|arn| Stream {
        arn,
        label: row.get(6),
        view_type: row.get(7),
        enabled: row.get(8),
    });
    Ok(Table {
        name: row.get(0),
        table_id: row.get(1),
        definition: serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default(),
        created_at: row.get(3),
        ttl_attribute: row.get(4),
        stream,
    })
}

fn check_table_name(name: &str) -> Result<()> {
    if !(3..=255).contains(&name.len()) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

fn invalid(why: &str) -> AwsError {
    AwsError::validation(format!("One or more parameter values were invalid: {why}"))
}

/// Attribute names a key schema uses.
fn key_names(schema: &Value) -> Vec<String> {
    schema.as_array().into_iter().flatten().filter_map(|k| k["AttributeName"].as_str().map(str::to_string)).collect()
}

fn check_key_schema(schema: &Value, what: &str) -> Result<()> {
    let keys = schema.as_array().ok_or_else(|| AwsError::member_null("KeySchema"))?;
    let types: Vec<&str> = keys.iter().map(|k| k["KeyType"].as_str().unwrap_or("")).collect();
    match types.as_slice() {
        ["HASH"] | ["HASH", "RANGE"] => Ok(()),
        _ => Err(invalid(&format!(
            "Invalid KeySchema: {what} key schema must have a HASH key first and at most one RANGE key"
        ))),
    }
}

pub async fn create_table(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?.to_string();
    check_table_name(&name)?;
    check_key_schema(&input["KeySchema"], "table")?;
    let defs = input["AttributeDefinitions"].as_array().ok_or_else(|| AwsError::member_null("AttributeDefinitions"))?;
    let defined: Vec<String> = defs.iter().filter_map(|d| d["AttributeName"].as_str().map(str::to_string)).collect();
    for d in defs {
        if !matches!(d["AttributeType"].as_str(), Some("S" | "N" | "B")) {
            return Err(invalid("Invalid AttributeDefinitions: attribute types must be S, N or B"));
        }
    }
    let mut used = key_names(&input["KeySchema"]);
    for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        for index in input[kind].as_array().into_iter().flatten() {
            check_key_schema(&index["KeySchema"], "index")?;
            check_projection(&index["Projection"])?;
            used.extend(key_names(&index["KeySchema"]));
        }
    }
    if let Some(missing) = used.iter().find(|u| !defined.contains(u)) {
        return Err(invalid(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{missing}], AttributeDefinitions: [{}]",
            defined.join(", ")
        )));
    }
    used.sort();
    used.dedup();
    if used.len() != defined.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let billing = input["BillingMode"].as_str().unwrap_or("PROVISIONED");
    let throughput = &input["ProvisionedThroughput"];
    match billing {
        "PROVISIONED" if throughput.is_null() => {
            return Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        "PAY_PER_REQUEST" if !throughput.is_null() => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        "PROVISIONED" | "PAY_PER_REQUEST" => {}
        other => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )));
        }
    }
    let stream = stream_spec(&input["StreamSpecification"], true)?.flatten();
    let table_id = ctx.rng().uuid();
    let mut tx = ctx.store().begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO ddb_tables (name, table_id, definition, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&name)
    .bind(&table_id)
    .bind(input.to_string())
    .bind(ctx.epoch())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(in_use(format!("Table already exists: {name}")));
    }
    if let Some(view_type) = stream {
        streams::open(&mut tx, ctx, &name, &input["KeySchema"], &view_type).await?;
    }
    let table = load_in(&mut tx, &name).await?;
    tx.commit().await?;
    Ok(json!({ "TableDescription": describe(ctx, &table, "ACTIVE", &Counts::default()) }))
}

/// A StreamSpecification: `None` when absent, `Some(Some(view type))` to enable,
/// `Some(None)` to disable. `creating` picks CreateTable's wording of the errors.
fn stream_spec(spec: &Value, creating: bool) -> Result<Option<Option<String>>> {
    if spec.is_null() {
        return Ok(None);
    }
    let enabled = spec["StreamEnabled"].as_bool().ok_or_else(|| AwsError::member_null("StreamEnabled"))?;
    let view_type = spec["StreamViewType"].as_str();
    if let Some(vt) = view_type
        && !streams::VIEW_TYPES.contains(&vt)
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{vt}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
        )));
    }
    match (enabled, view_type, creating) {
        (true, Some(vt), _) => Ok(Some(Some(vt.to_string()))),
        (false, None, _) => Ok(Some(None)),
        (true, None, true) => Err(invalid("Table is being created with a stream enabled, UpdateViewType is required")),
        (false, Some(_), true) => {
            Err(invalid("Table is being created with a stream disabled, UpdateViewType should not be specified"))
        }
        (true, None, false) => Err(invalid("If stream is being enabled then UpdateViewType is required")),
        (false, Some(_), false) => {
            Err(invalid("If stream is being disabled, then UpdateViewType must not be specified"))
        }
    }
}

/// Item counts and sizes of a table and of each of its indexes.
#[derive(Default)]
struct Counts {
    items: i64,
    bytes: i64,
    indexes: std::collections::HashMap<String, (i64, i64)>,
}

fn describe(ctx: &Ctx, t: &Table, status: &str, counts: &Counts) -> Value {
    let d = &t.definition;
    let billing = d["BillingMode"].as_str().unwrap_or("PROVISIONED");
    let throughput = |p: &Value| {
        json!({
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": p["ReadCapacityUnits"].as_i64().unwrap_or(0),
            "WriteCapacityUnits": p["WriteCapacityUnits"].as_i64().unwrap_or(0),
        })
    };
    let arn = t.arn(ctx);
    let mut out = json!({
        "TableName": t.name,
        "TableId": t.table_id,
        "TableArn": arn,
        "TableStatus": status,
        "CreationDateTime": t.created_at,
        "KeySchema": d["KeySchema"],
        "AttributeDefinitions": d["AttributeDefinitions"],
        "ProvisionedThroughput": throughput(&d["ProvisionedThroughput"]),
        "TableSizeBytes": counts.bytes,
        "ItemCount": counts.items,
        "BillingModeSummary": { "BillingMode": billing },
        "DeletionProtectionEnabled": d["DeletionProtectionEnabled"].as_bool().unwrap_or(false),
    });
    for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(indexes) = d[kind].as_array().filter(|a| !a.is_empty()) {
            let described: Vec<Value> = indexes
                .iter()
                .map(|i| {
                    let name = i["IndexName"].as_str().unwrap_or_default();
                    let (items, bytes) = counts.indexes.get(name).copied().unwrap_or_default();
                    let mut x = json!({
                        "IndexName": name,
                        "KeySchema": i["KeySchema"],
                        "Projection": i["Projection"],
                        "IndexSizeBytes": bytes,
                        "ItemCount": items,
                        "IndexArn": format!("{arn}/index/{name}"),
                    });
                    if kind == "GlobalSecondaryIndexes" {
                        x["IndexStatus"] = i["IndexStatus"].as_str().unwrap_or("ACTIVE").into();
                        x["ProvisionedThroughput"] = throughput(&i["ProvisionedThroughput"]);
                    }
                    x
                })
                .collect();
            out[kind] = Value::Array(described);
        }
    }
    if let Some(stream) = &t.stream {
        if stream.enabled {
            out["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": stream.view_type });
        }
        out["LatestStreamArn"] = stream.arn.clone().into();
        out["LatestStreamLabel"] = stream.label.clone().into();
    }
    out
}

async fn counts(ctx: &Ctx, name: &str) -> Result<Counts> {
    let pool = ctx.store().pool();
    let row = sqlx::query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ddb_items WHERE table_name = ?")
        .bind(name)
        .fetch_one(pool)
        .await?;
    let indexes = sqlx::query(
        "SELECT index_name, COUNT(*), COALESCE(SUM(size), 0) FROM ddb_index_items WHERE table_name = ? GROUP BY index_name",
    )
    .bind(name)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2))))
    .collect();
    Ok(Counts { items: row.get(0), bytes: row.get(1), indexes })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    table_name: String,
}

pub async fn describe_table(ctx: &Ctx, input: TableNameInput) -> Result<Value> {
    let table = load(ctx, &input.table_name).await.map_err(|_| {
        AwsError::bad_request(
            "ResourceNotFoundException",
            format!("Requested resource not found: Table: {} not found", input.table_name),
        )
    })?;
    let counts = counts(ctx, &table.name).await?;
    Ok(json!({ "Table": describe(ctx, &table, "ACTIVE", &counts) }))
}

pub async fn delete_table(ctx: &Ctx, input: TableNameInput) -> Result<Value> {
    let table = load(ctx, &input.table_name).await.map_err(|_| {
        AwsError::bad_request(
            "ResourceNotFoundException",
            format!("Requested resource not found: Table: {} not found", input.table_name),
        )
    })?;
    if table.definition["DeletionProtectionEnabled"] == true {
        return Err(AwsError::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    let counts = counts(ctx, &table.name).await?;
    let mut tx = ctx.store().begin_write().await?;
    if let Some(stream) = &table.stream {
        streams::close(&mut tx, ctx, &stream.arn).await?;
    }
    sqlx::query("DELETE FROM ddb_tables WHERE name = ?").bind(&table.name).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(json!({ "TableDescription": describe(ctx, &table, "DELETING", &counts) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

pub async fn list_tables(ctx: &Ctx, input: ListTablesInput) -> Result<Value> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {}",
            if limit < 1 { "greater than or equal to 1" } else { "less than or equal to 100" }
        )));
    }
    let rows = sqlx::query("SELECT name FROM ddb_tables WHERE name > ? ORDER BY name LIMIT ?")
        .bind(input.exclusive_start_table_name.unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(ctx.store().pool())
        .await?;
    let mut names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let more = names.len() as i64 > limit;
    names.truncate(limit as usize);
    let mut out = json!({ "TableNames": names });
    if more && let Some(last) = names.last() {
        out["LastEvaluatedTableName"] = last.clone().into();
    }
    Ok(out)
}

/// The members UpdateTable needs at least one of, in AWS's message.
const UPDATABLE: &str = "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required";

fn index_not_found(table: &str, index: &str) -> AwsError {
    AwsError::bad_request(
        "ResourceNotFoundException",
        format!("Requested resource not found: Index {index} for table {table}"),
    )
}

/// One GlobalSecondaryIndexUpdates entry.
enum IndexChange<'a> {
    Create(&'a Value),
    Delete(&'a str),
    Update(&'a str, &'a Value),
}

fn index_changes(list: &Value) -> Result<Vec<IndexChange<'_>>> {
    let Some(list) = list.as_array() else { return Ok(Vec::new()) };
    if list.is_empty() {
        return Err(invalid("List of GlobalSecondaryIndexUpdates is empty"));
    }
    let mut out = Vec::new();
    let mut names = Vec::new();
    for u in list {
        let given: Vec<&str> = ["Create", "Delete", "Update"].into_iter().filter(|k| !u[*k].is_null()).collect();
        let change = match given.as_slice() {
            ["Create"] => IndexChange::Create(&u["Create"]),
            ["Delete"] => IndexChange::Delete(u["Delete"]["IndexName"].as_str().unwrap_or_default()),
            ["Update"] => IndexChange::Update(u["Update"]["IndexName"].as_str().unwrap_or_default(), &u["Update"]),
            [] => {
                return Err(invalid(
                    "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                ));
            }
            _ => {
                return Err(invalid(
                    "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
                ));
            }
        };
        let name = match &change {
            IndexChange::Create(c) => c["IndexName"].as_str().unwrap_or_default(),
            IndexChange::Delete(n) | IndexChange::Update(n, _) => n,
        };
        if name.is_empty() {
            return Err(AwsError::member_null("IndexName"));
        }
        if names.contains(&name) {
            return Err(invalid(&format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
        names.push(name);
        out.push(change);
    }
    Ok(out)
}

/// UpdateTable: billing mode and throughput, GSIs created (and backfilled from the table's items
/// in the same transaction) or deleted, the stream enabled or disabled, deletion protection.
/// The reply shows the table `UPDATING` (a created index `CREATING`) as AWS's does; the work is
/// done by the time it is sent, so the next DescribeTable shows `ACTIVE`.
pub async fn update_table(ctx: &Ctx, input: Value) -> Result<Value> {
    let name = input["TableName"].as_str().ok_or_else(|| AwsError::member_null("TableName"))?;
    let table = load(ctx, name).await.map_err(|_| {
        AwsError::bad_request(
            "ResourceNotFoundException",
            format!("Requested resource not found: Table: {name} not found"),
        )
    })?;
    let present = |k: &str| !input[k].is_null();
    let throughput_change = present("ProvisionedThroughput") || present("BillingMode");
    let stream_change = stream_spec(&input["StreamSpecification"], false)?;
    let changes = index_changes(&input["GlobalSecondaryIndexUpdates"])?;
    let protection = input["DeletionProtectionEnabled"].as_bool();
    if !throughput_change && stream_change.is_none() && changes.is_empty() && protection.is_none() {
        return Err(AwsError::validation(UPDATABLE));
    }
    let structural = changes.iter().any(|c| !matches!(c, IndexChange::Update(..)));
    if protection.is_some() && (throughput_change || stream_change.is_some() || !changes.is_empty()) {
        return Err(invalid("DeletionProtection modification must be the only operation in the request"));
    }
    if stream_change.is_some() && present("ProvisionedThroughput") {
        return Err(invalid("You cannot modify stream status while updating table IOPS"));
    }
    if structural && present("ProvisionedThroughput") {
        return Err(invalid("You cannot create or delete index while updating table IOPS"));
    }
    if structural && stream_change.is_some() {
        return Err(invalid("You cannot create or delete index while changing stream status"));
    }
    if changes.iter().filter(|c| !matches!(c, IndexChange::Update(..))).count() > 1 {
        return Err(AwsError::bad_request(
            "LimitExceededException",
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }

    let mut def = table.definition.clone();
    let old_billing = def["BillingMode"].as_str().unwrap_or("PROVISIONED").to_string();
    let billing = input["BillingMode"].as_str().unwrap_or(&old_billing).to_string();
    if !matches!(billing.as_str(), "PROVISIONED" | "PAY_PER_REQUEST") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{billing}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        )));
    }
    let throughput = &input["ProvisionedThroughput"];
    if billing == "PAY_PER_REQUEST" && !throughput.is_null() {
        return Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ));
    }
    if billing == "PROVISIONED" && old_billing == "PAY_PER_REQUEST" && throughput.is_null() {
        return Err(invalid("ProvisionedThroughput must be specified when BillingMode is PROVISIONED"));
    }
    if !throughput.is_null() {
        let current = &def["ProvisionedThroughput"];
        let (cr, cw) = (current["ReadCapacityUnits"].as_i64(), current["WriteCapacityUnits"].as_i64());
        let (r, w) = (throughput["ReadCapacityUnits"].as_i64(), throughput["WriteCapacityUnits"].as_i64());
        if old_billing == "PROVISIONED" && (cr, cw) == (r, w) {
            let n = |v: Option<i64>| v.unwrap_or(0);
            return Err(AwsError::validation(format!(
                "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                n(cr),
                n(r),
                n(cw),
                n(w)
            )));
        }
        def["ProvisionedThroughput"] = throughput.clone();
    }
    def["BillingMode"] = billing.clone().into();
    if billing == "PAY_PER_REQUEST" {
        def.as_object_mut().map(|o| o.remove("ProvisionedThroughput"));
    }
    if let Some(p) = protection {
        def["DeletionProtectionEnabled"] = p.into();
    }
    match (&stream_change, table.stream.as_ref().filter(|s| s.enabled)) {
        (Some(Some(_)), Some(_)) => {
            return Err(AwsError::validation(format!("Table already has an enabled stream: TableName: {name}")));
        }
        (Some(None), None) => {
            return Err(AwsError::validation(format!("Table has no stream to disable: TableName: {name}")));
        }
        _ => {}
    }

    // Index changes, checked against the table as it stands so a rejected request changes nothing.
    let mut created = None;
    let mut deleted = None;
    if let Some(defs) = input["AttributeDefinitions"].as_array() {
        let known = def["AttributeDefinitions"].as_array().cloned().unwrap_or_default();
        let mut merged = known.clone();
        for d in defs {
            match known.iter().find(|k| k["AttributeName"] == d["AttributeName"]) {
                Some(k) if k["AttributeType"] != d["AttributeType"] => {
                    return Err(invalid(&format!(
                        "Cannot change the type of attribute {} used by the table or an index",
                        d["AttributeName"].as_str().unwrap_or_default()
                    )));
                }
                Some(_) => {}
                None => merged.push(d.clone()),
            }
        }
        def["AttributeDefinitions"] = Value::Array(merged);
    }
    let existing: Vec<String> = table.indexes().into_iter().map(|i| i.name).collect();
    for change in &changes {
        match change {
            IndexChange::Create(spec) => {
                let ix = spec["IndexName"].as_str().unwrap_or_default();
                if existing.iter().any(|e| e == ix) {
                    return Err(AwsError::validation("Attempting to create an index which already exists"));
                }
                check_key_schema(&spec["KeySchema"], "index")?;
                if input["AttributeDefinitions"].is_null() {
                    return Err(invalid(&format!("AttributeDefinitions is not specified for index: {ix}")));
                }
                let defined: Vec<&str> = def["AttributeDefinitions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["AttributeName"].as_str())
                    .collect();
                if let Some(missing) = key_names(&spec["KeySchema"]).iter().find(|k| !defined.contains(&k.as_str())) {
                    return Err(invalid(&format!(
                        "Some index key attributes are not defined in AttributeDefinitions. Keys: [{missing}], AttributeDefinitions: [{}]",
                        defined.join(", ")
                    )));
                }
                check_projection(&spec["Projection"])?;
                match (billing.as_str(), spec["ProvisionedThroughput"].is_null()) {
                    ("PROVISIONED", true) => {
                        return Err(invalid(&format!("ProvisionedThroughput must be specified for index: {ix}")));
                    }
                    ("PAY_PER_REQUEST", false) => {
                        return Err(invalid(&format!(
                            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: {ix} when BillingMode is PAY_PER_REQUEST"
                        )));
                    }
                    _ => {}
                }
                let globals = def["GlobalSecondaryIndexes"].as_array().map_or(0, Vec::len);
                if globals >= 20 {
                    return Err(AwsError::bad_request(
                        "LimitExceededException",
                        "Subscriber limit exceeded: The number of global secondary indexes for this table exceeds the limit of 20",
                    ));
                }
                let mut entry = (*spec).clone();
                entry["IndexStatus"] = "CREATING".into();
                match def["GlobalSecondaryIndexes"].as_array_mut() {
                    Some(list) => list.push(entry),
                    None => def["GlobalSecondaryIndexes"] = json!([entry]),
                }
                created = Some(ix.to_string());
            }
            IndexChange::Delete(ix) | IndexChange::Update(ix, _) => {
                let globals = def["GlobalSecondaryIndexes"].as_array_mut();
                let pos = globals.as_ref().and_then(|g| g.iter().position(|i| i["IndexName"] == *ix));
                let verb = if matches!(change, IndexChange::Delete(_)) { "delete" } else { "update" };
                let (Some(list), Some(pos)) = (globals, pos) else {
                    if existing.iter().any(|e| e == ix) {
                        return Err(AwsError::validation(format!(
                            "Cannot {verb} an index that is not a GlobalSecondaryIndex: {ix}"
                        )));
                    }
                    return Err(index_not_found(name, ix));
                };
                match change {
                    IndexChange::Update(_, u) => {
                        if billing == "PAY_PER_REQUEST" {
                            return Err(invalid(&format!(
                                "The only Updates for index: {ix} when TableThroughputMode is PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput"
                            )));
                        }
                        list[pos]["ProvisionedThroughput"] = u["ProvisionedThroughput"].clone();
                    }
                    _ => {
                        list.remove(pos);
                        deleted = Some(ix.to_string());
                    }
                }
            }
        }
    }
    if billing == "PAY_PER_REQUEST" {
        for i in def["GlobalSecondaryIndexes"].as_array_mut().into_iter().flatten() {
            i.as_object_mut().map(|o| o.remove("ProvisionedThroughput"));
        }
    }

    let mut reply_def = def.clone();
    for i in def["GlobalSecondaryIndexes"].as_array_mut().into_iter().flatten() {
        i.as_object_mut().map(|o| o.remove("IndexStatus"));
    }
    let mut tx = ctx.store().begin_write().await?;
    sqlx::query("UPDATE ddb_tables SET definition = ? WHERE name = ?")
        .bind(def.to_string())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if let Some(ix) = &deleted {
        sqlx::query("DELETE FROM ddb_index_items WHERE table_name = ? AND index_name = ?")
            .bind(name)
            .bind(ix)
            .execute(&mut *tx)
            .await?;
        if let Some(list) = reply_def["GlobalSecondaryIndexes"].as_array_mut() {
            let mut gone = table.definition["GlobalSecondaryIndexes"]
                .as_array()
                .and_then(|g| g.iter().find(|i| i["IndexName"] == ix.as_str()).cloned())
                .unwrap_or_default();
            gone["IndexStatus"] = "DELETING".into();
            list.push(gone);
        }
    }
    match &stream_change {
        Some(Some(view_type)) => {
            streams::open(&mut tx, ctx, name, &def["KeySchema"], view_type).await?;
        }
        Some(None) => {
            if let Some(s) = &table.stream {
                streams::close(&mut tx, ctx, &s.arn).await?;
            }
        }
        None => {}
    }
    let mut updated = load_in(&mut tx, name).await?;
    if let Some(ix) = &created {
        super::items::backfill_index(&mut tx, &updated, &updated.index(ix)?).await?;
    }
    tx.commit().await?;
    let counts = counts(ctx, name).await?;
    updated.definition = reply_def;
    Ok(json!({ "TableDescription": describe(ctx, &updated, "UPDATING", &counts) }))
}

/// A Projection's shape rules, shared by CreateTable's and UpdateTable's index definitions.
fn check_projection(p: &Value) -> Result<()> {
    let kind = p["ProjectionType"].as_str();
    let non_key = p["NonKeyAttributes"].as_array();
    match (kind, non_key) {
        (Some("INCLUDE"), None) => Err(invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")),
        (Some(k @ ("ALL" | "KEYS_ONLY")), Some(_)) => {
            Err(invalid(&format!("ProjectionType is {k}, but NonKeyAttributes is specified")))
        }
        (None, _) => Err(invalid("Unknown ProjectionType: null")),
        _ => Ok(()),
    }
}
