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
