//! DynamoDB (awsJson1_0, `X-Amz-Target: DynamoDB_20120810.<Op>`).
//!
//! | file        | what                                                                |
//! |-------------|---------------------------------------------------------------------|
//! | `mod.rs`    | operation table, shared errors                                       |
//! | `value.rs`  | attribute values, exact 38-digit numbers, ordered key encoding       |
//! | `expr.rs`   | the expression language: one parser for all five expression kinds    |
//! | `eval.rs`   | evaluating conditions and applying updates to items                  |
//! | `reserved.rs` | AWS's reserved words                                               |
//! | `tables.rs` | Create/Describe/List/Update/DeleteTable                              |
//! | `items.rs`  | PutItem, GetItem, DeleteItem, UpdateItem (conditions, projections)   |
//! | `query.rs`  | Query and Scan: key ranges, filters, pagination, segments            |
//! | `batch.rs`  | BatchWriteItem, BatchGetItem, TransactWriteItems, TransactGetItems   |
//! | `ttl.rs`    | Update/DescribeTimeToLive and the expiry sweeper (emulator clock)    |
//! | `streams.rs` | DynamoDB Streams: change records, the Streams API, the poller hook  |

mod batch;
mod eval;
pub mod expr;
mod items;
mod query;
mod reserved;
pub mod streams;
mod tables;
mod ttl;
pub mod value;

use axum::response::Response;

use crate::error::{AwsError, Result};
use crate::protocol::aws_json::{self, JSON_1_0};
use crate::state::Ctx;

pub const TARGET_PREFIX: &str = "DynamoDB_20120810";
pub const FLAVOR: aws_json::Flavor =
    aws_json::Flavor { content_type: JSON_1_0, error_namespace: "com.amazonaws.dynamodb.v20120810#" };

/// The operation table: one line per operation.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Response> {
    ttl::sweep(ctx).await?;
    aws_json::json_operations!(FLAVOR, ctx, op, body, {
        "CreateTable" => tables::create_table,
        "DescribeTable" => tables::describe_table,
        "ListTables" => tables::list_tables,
        "DeleteTable" => tables::delete_table,
        "UpdateTable" => tables::update_table,
        "PutItem" => items::put_item,
        "GetItem" => items::get_item,
        "DeleteItem" => items::delete_item,
        "UpdateItem" => items::update_item,
        "Query" => query::query,
        "Scan" => query::scan,
        "BatchWriteItem" => batch::batch_write_item,
        "BatchGetItem" => batch::batch_get_item,
        "TransactWriteItems" => batch::transact_write_items,
        "TransactGetItems" => batch::transact_get_items,
        "UpdateTimeToLive" => ttl::update_time_to_live,
        "DescribeTimeToLive" => ttl::describe_time_to_live,
    })
}

/// `ResourceNotFoundException` as item operations report a missing table.
fn not_found_table() -> AwsError {
    AwsError::bad_request("ResourceNotFoundException", "Requested resource not found")
}

fn in_use(message: String) -> AwsError {
    AwsError::bad_request("ResourceInUseException", message)
}
