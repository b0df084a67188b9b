//! Users per Cognito user pool, read with `ListUserPools` and `ListUsers` in process: status,
//! enabled, attributes (including `sub`) and dates — never password hashes or SRP verifiers,
//! which `ListUsers` does not return either.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Page, Shared, encode_cursor, from_aws};
use crate::error::Result;
use crate::services::{JsonService, call_json};
use crate::state::{Ctx, Emu};

/// Users shown per pool in the overview (a pool with more says it was cut short).
const OVERVIEW_USERS: usize = 200;

/// `ListUsers` pages hold at most 60 users.
const PAGE_MAX: i64 = 60;

/// A `UserType` as the page shows it.
fn user(u: &Value) -> Value {
    let attributes: Map<String, Value> = u["Attributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|kv| Some((kv["Name"].as_str()?.to_string(), kv["Value"].clone())))
                .collect::<Map<String, Value>>()
        })
        .unwrap_or_default();
    json!({
        "username": u["Username"],
        "sub": attributes.get("sub").cloned().unwrap_or(Value::Null),
        "status": u["UserStatus"],
        "enabled": u["Enabled"],
        "attributes": attributes,
        "created": epoch_to_rfc3339(&u["UserCreateDate"]),
        "modified": epoch_to_rfc3339(&u["UserLastModifiedDate"]),
    })
}

fn epoch_to_rfc3339(v: &Value) -> Value {
    v.as_f64()
        .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into())
        .unwrap_or(Value::Null)
}

/// One `ListUsers` page: the users and the token of the next page.
async fn page(ctx: &Ctx, pool: &str, limit: i64, token: Option<&str>) -> Result<(Vec<Value>, Option<String>)> {
    let mut input = json!({ "UserPoolId": pool, "Limit": limit });
    if let Some(t) = token {
        input["PaginationToken"] = t.into();
    }
    let out = call_json(ctx, JsonService::Cognito, "ListUsers", &input).await?;
    let users = out["Users"].as_array().map(|u| u.iter().map(user).collect()).unwrap_or_default();
    Ok((users, out["PaginationToken"].as_str().map(str::to_string)))
}

async fn all_pools(emu: &Arc<Emu>) -> Result<Vec<Value>> {
    let ctx = Ctx::internal(emu);
    let mut pools = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "MaxResults": 60 });
        if let Some(t) = &token {
            input["NextToken"] = t.clone().into();
        }
        let out = call_json(&ctx, JsonService::Cognito, "ListUserPools", &input).await?;
        for p in out["UserPools"].as_array().into_iter().flatten() {
            let id = p["Id"].as_str().unwrap_or_default().to_string();
            let mut users = Vec::new();
            let mut next: Option<String> = None;
            let truncated = loop {
                let (mut got, more) = page(&ctx, &id, PAGE_MAX, next.as_deref()).await?;
                users.append(&mut got);
                match more {
                    Some(_) if users.len() >= OVERVIEW_USERS => break true,
                    Some(m) => next = Some(m),
                    None => break false,
                }
            };
            pools.push(json!({
                "id": id,
                "name": p["Name"],
                "created": epoch_to_rfc3339(&p["CreationDate"]),
                "users": users,
                "truncated": truncated,
            }));
        }
        match out["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Ok(pools)
}

/// `GET /console/pools`: every pool with (up to 200 of) its users.
pub(super) async fn pools(State(emu): Shared) -> Response {
    match all_pools(&emu).await {
        Ok(pools) => axum::Json(json!({ "pools": pools })).into_response(),
        Err(e) => from_aws(e),
    }
}

/// `GET /console/pools/{pool}/users?limit=&cursor=`: one page of a pool's users.
pub(super) async fn users(State(emu): Shared, Path(pool): Path<String>, Query(q): Query<Page>) -> Response {
    let limit = match q.limit(PAGE_MAX, PAGE_MAX) {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    let token = match q.cursor() {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    match page(&Ctx::internal(&emu), &pool, limit, token.as_deref()).await {
        Ok((users, next)) => {
            axum::Json(json!({ "pool": pool, "users": users, "cursor": next.as_deref().map(encode_cursor) }))
                .into_response()
        }
        Err(e) => from_aws(e),
    }
}
