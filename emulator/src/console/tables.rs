//! DynamoDB tables and their items, read with `ListTables`, `DescribeTable`,
//! `DescribeTimeToLive` and `Scan` in process.
//!
//! Items are paged with Scan's own `Limit` and `ExclusiveStartKey`: the cursor is the
//! `LastEvaluatedKey` document, base64-encoded, so paging is exactly DynamoDB's (no item twice,
//! none skipped, even while items are written between pages). Items are shown in a simplified
//! JSON form — the type descriptors dropped — where binary values (`B`, `BS`) become
//! `"<binary N bytes: hex…>"`: they are usually ciphertext, and rendering them as text would
//! only produce noise.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{Page, Shared, encode_cursor, fail, from_aws};
use crate::error::Result;
use crate::services::{JsonService, call_json};
use crate::state::Ctx;

/// Bytes of a binary value shown as hex.
const BINARY_PREFIX: usize = 16;

async fn describe(ctx: &Ctx, name: &str) -> Result<Value> {
    let d = call_json(ctx, JsonService::DynamoDb, "DescribeTable", &json!({ "TableName": name })).await?;
    let t = &d["Table"];
    let ttl = call_json(ctx, JsonService::DynamoDb, "DescribeTimeToLive", &json!({ "TableName": name })).await?;
    let key = |schema: &Value, kind: &str| {
        schema.as_array().and_then(|s| s.iter().find(|k| k["KeyType"] == kind)).map(|k| k["AttributeName"].clone())
    };
    let indexes = |kind: &str| -> Vec<Value> {
        t[kind]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        json!({
                            "name": i["IndexName"],
                            "partitionKey": key(&i["KeySchema"], "HASH"),
                            "sortKey": key(&i["KeySchema"], "RANGE"),
                            "projection": i["Projection"]["ProjectionType"],
                            "itemCount": i["ItemCount"],
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let ttl = &ttl["TimeToLiveDescription"];
    Ok(json!({
        "name": t["TableName"],
        "arn": t["TableArn"],
        "status": t["TableStatus"],
        "itemCount": t["ItemCount"],
        "sizeBytes": t["TableSizeBytes"],
        "partitionKey": key(&t["KeySchema"], "HASH"),
        "sortKey": key(&t["KeySchema"], "RANGE"),
        "attributeDefinitions": t["AttributeDefinitions"],
        "globalSecondaryIndexes": indexes("GlobalSecondaryIndexes"),
        "localSecondaryIndexes": indexes("LocalSecondaryIndexes"),
        "stream": {
            "enabled": t["StreamSpecification"]["StreamEnabled"].as_bool().unwrap_or(false),
            "viewType": t["StreamSpecification"]["StreamViewType"],
            "arn": t["LatestStreamArn"],
        },
        "ttl": { "status": ttl["TimeToLiveStatus"], "attribute": ttl["AttributeName"] },
        "billingMode": t["BillingModeSummary"]["BillingMode"],
    }))
}

async fn all_tables(ctx: &Ctx) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut input = json!({ "Limit": 100 });
        if let Some(s) = &start {
            input["ExclusiveStartTableName"] = s.clone().into();
        }
        let listed = call_json(ctx, JsonService::DynamoDb, "ListTables", &input).await?;
        for name in listed["TableNames"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            out.push(describe(ctx, name).await?);
        }
        match listed["LastEvaluatedTableName"].as_str() {
            Some(s) => start = Some(s.to_string()),
            None => return Ok(out),
        }
    }
}

/// `GET /console/tables`.
pub(super) async fn tables(State(emu): Shared) -> Response {
    match all_tables(&Ctx::internal(&emu)).await {
        Ok(tables) => axum::Json(json!({ "tables": tables })).into_response(),
        Err(e) => from_aws(e),
    }
}

/// `GET /console/tables/{table}/items?limit=&cursor=`: one Scan page.
pub(super) async fn items(State(emu): Shared, Path(table): Path<String>, Query(q): Query<Page>) -> Response {
    let limit = match q.limit(25, 1000) {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    let start: Option<Value> = match q.cursor() {
        Ok(None) => None,
        Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => return fail(http::StatusCode::BAD_REQUEST, "invalid cursor"),
        },
        Err(r) => return r.into_response(),
    };
    let ctx = Ctx::internal(&emu);
    let table_info = match describe(&ctx, &table).await {
        Ok(t) => t,
        Err(e) => return from_aws(e),
    };
    let mut input = json!({ "TableName": table, "Limit": limit });
    if let Some(s) = start {
        input["ExclusiveStartKey"] = s;
    }
    match call_json(&ctx, JsonService::DynamoDb, "Scan", &input).await {
        Ok(out) => {
            let items: Vec<Value> =
                out["Items"].as_array().map(|a| a.iter().map(simplify_item).collect()).unwrap_or_default();
            let cursor = out.get("LastEvaluatedKey").map(|k| encode_cursor(&k.to_string()));
            axum::Json(json!({
                "table": table_info,
                "items": items,
                "count": items.len(),
                "cursor": cursor,
            }))
            .into_response()
        }
        Err(e) => from_aws(e),
    }
}

/// An item in DynamoDB JSON (`{"a": {"S": "x"}}`) as plain JSON (`{"a": "x"}`).
pub(crate) fn simplify_item(item: &Value) -> Value {
    match item.as_object() {
        Some(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), simplify(v))).collect::<Map<_, _>>()),
        None => Value::Null,
    }
}

/// One attribute value without its type descriptor. Numbers stay exact: a JSON number when
/// it reads back unchanged, the decimal string otherwise.
fn simplify(v: &Value) -> Value {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else { return Value::Null };
    match kind.as_str() {
        "S" | "BOOL" => inner.clone(),
        "NULL" => Value::Null,
        "N" => number(inner),
        "B" => binary(inner),
        "SS" => inner.clone(),
        "NS" => Value::Array(inner.as_array().map(|a| a.iter().map(number).collect()).unwrap_or_default()),
        "BS" => Value::Array(inner.as_array().map(|a| a.iter().map(binary).collect()).unwrap_or_default()),
        "L" => Value::Array(inner.as_array().map(|a| a.iter().map(simplify).collect()).unwrap_or_default()),
        "M" => simplify_item(inner),
        _ => v.clone(),
    }
}

fn number(v: &Value) -> Value {
    let text = v.as_str().unwrap_or_default();
    match serde_json::from_str::<serde_json::Number>(text) {
        Ok(n) if n.to_string() == text => Value::Number(n),
        _ => Value::String(text.to_string()),
    }
}

/// `"<binary N bytes: 0a1b…>"` for a base64 `B` value.
fn binary(v: &Value) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap_or_default();
    let shown = hex::encode(&bytes[..bytes.len().min(BINARY_PREFIX)]);
    let more = if bytes.len() > BINARY_PREFIX { "…" } else { "" };
    format!("<binary {} bytes: {shown}{more}>", bytes.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_lose_type_descriptors_and_binary_is_summarised() {
        let item = json!({
            "pk": { "S": "user#1" },
            "n": { "N": "42" },
            "big": { "N": "12345678901234567890123" },
            "frac": { "N": "1.50" },
            "blob": { "B": base64::engine::general_purpose::STANDARD.encode([0xde, 0xad, 0xbe, 0xef]) },
            "tags": { "SS": ["a", "b"] },
            "nested": { "M": { "ok": { "BOOL": true }, "none": { "NULL": true }, "l": { "L": [{ "N": "1" }] } } },
        });
        assert_eq!(
            simplify_item(&item),
            json!({
                "pk": "user#1",
                "n": 42,
                "big": "12345678901234567890123",
                "frac": "1.50",
                "blob": "<binary 4 bytes: deadbeef>",
                "tags": ["a", "b"],
                "nested": { "ok": true, "none": null, "l": [1] },
            })
        );
        let long = json!({ "B": base64::engine::general_purpose::STANDARD.encode([7u8; 40]) });
        assert_eq!(binary(&long["B"]), json!(format!("<binary 40 bytes: {}…>", "07".repeat(16))));
    }
}
