//! Tables: CreateTable, DescribeTable, ListTables, DeleteTable.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

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
    let row =
        sqlx::query("SELECT name, table_id, definition, created_at, ttl_attribute FROM ddb_tables WHERE name = ?")
            .bind(name)
            .fetch_optional(ctx.store().pool())
            .await?
            .ok_or_else(not_found_table)?;
    Ok(Table {
        name: row.get(0),
        table_id: row.get(1),
        definition: serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default(),
        created_at: row.get(3),
        ttl_attribute: row.get(4),
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
    let table_id = ctx.rng().uuid();
    let inserted = sqlx::query(
        "INSERT INTO ddb_tables (name, table_id, definition, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&name)
    .bind(&table_id)
    .bind(input.to_string())
    .bind(ctx.epoch())
    .execute(ctx.store().pool())
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(in_use(format!("Table already exists: {name}")));
    }
    let table = load(ctx, &name).await?;
    Ok(json!({ "TableDescription": describe(ctx, &table, "ACTIVE", 0, 0) }))
}

fn describe(ctx: &Ctx, t: &Table, status: &str, items: i64, bytes: i64) -> Value {
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
        "TableSizeBytes": bytes,
        "ItemCount": items,
        "BillingModeSummary": { "BillingMode": billing },
        "DeletionProtectionEnabled": d["DeletionProtectionEnabled"].as_bool().unwrap_or(false),
    });
    for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(indexes) = d[kind].as_array() {
            let described: Vec<Value> = indexes
                .iter()
                .map(|i| {
                    let mut x = json!({
                        "IndexName": i["IndexName"],
                        "KeySchema": i["KeySchema"],
                        "Projection": i["Projection"],
                        "IndexSizeBytes": 0,
                        "ItemCount": 0,
                        "IndexArn": format!("{arn}/index/{}", i["IndexName"].as_str().unwrap_or_default()),
                    });
                    if kind == "GlobalSecondaryIndexes" {
                        x["IndexStatus"] = "ACTIVE".into();
                        x["ProvisionedThroughput"] = throughput(&i["ProvisionedThroughput"]);
                    }
                    x
                })
                .collect();
            out[kind] = Value::Array(described);
        }
    }
    if d["StreamSpecification"]["StreamEnabled"] == true {
        out["StreamSpecification"] = d["StreamSpecification"].clone();
    }
    out
}

async fn counts(ctx: &Ctx, name: &str) -> Result<(i64, i64)> {
    let row = sqlx::query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ddb_items WHERE table_name = ?")
        .bind(name)
        .fetch_one(ctx.store().pool())
        .await?;
    Ok((row.get(0), row.get(1)))
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
    let (items, bytes) = counts(ctx, &table.name).await?;
    Ok(json!({ "Table": describe(ctx, &table, "ACTIVE", items, bytes) }))
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
    let (items, bytes) = counts(ctx, &table.name).await?;
    sqlx::query("DELETE FROM ddb_tables WHERE name = ?").bind(&table.name).execute(ctx.store().pool()).await?;
    Ok(json!({ "TableDescription": describe(ctx, &table, "DELETING", items, bytes) }))
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
