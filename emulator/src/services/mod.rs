//! The emulated services. Each is a set of operation handlers over the [`Store`](crate::store::Store);
//! none of them parses HTTP framing or renders errors (the [`protocol`](crate::protocol) modules do).
//!
//! | service | protocol   | entry point       |
//! |---------|------------|-------------------|
//! | S3      | restXml    | [`s3::handle`]    |
//! | KMS     | awsJson1_1 | [`kms::handle`]   |
//! | SNS     | awsQuery   | [`sns::handle`]   |
//! | Cognito | awsJson1_1 | [`cognito::handle`] |
//! | DynamoDB | awsJson1_0 | [`dynamodb::handle`] |
//! | Lambda  | restJson1  | [`lambda::handle`] |

pub mod apigw;
pub mod cognito;
pub mod dynamodb;
pub mod kms;
pub mod lambda;
pub mod s3;
pub mod sns;

/// Service names reported by `/_emulator/health`.
pub const NAMES: &[&str] =
    &["s3", "kms", "sns", "cognito-idp", "dynamodb", "dynamodbstreams", "lambda", "apigateway", "execute-api"];

/// The JSON-protocol services, for in-process calls ([`call_json`]).
#[derive(Debug, Clone, Copy)]
pub enum JsonService {
    DynamoDb,
    Kms,
    Cognito,
}

/// Runs a JSON-protocol operation in process, through the same handler an SDK request reaches,
/// so callers get AWS's validation and errors; returns the output document.
pub async fn call_json(
    ctx: &crate::state::Ctx,
    service: JsonService,
    op: &str,
    input: &serde_json::Value,
) -> crate::error::Result<serde_json::Value> {
    use crate::error::AwsError;
    let body = input.to_string().into_bytes();
    let response = match service {
        JsonService::DynamoDb => dynamodb::handle(ctx, op, &body).await?,
        JsonService::Kms => kms::handle(ctx, op, &body).await?,
        JsonService::Cognito => cognito::handle(ctx, op, &body).await?,
    };
    let bytes =
        axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(|e| AwsError::internal(e.to_string()))?;
    if bytes.is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes).map_err(|e| AwsError::internal(format!("unreadable {op} output: {e}")))
}
