//! The chat backend: one-to-one and room chat with per-recipient envelope encryption.
//!
//! Domain logic lives here as plain async functions over the AWS SDK clients; the Lambda
//! functions in `src/bin/` are thin `lambda_runtime` wrappers around them. The same binaries run
//! on AWS and under the emulator: only `AWS_ENDPOINT_URL` differs.
//!
//! - [`chat`]: the chat's operations (send, history, read marks, rooms, attachments).
//! - [`kms`]: the KMS operations the chat needs, as a trait (SDK client or in process).
//! - [`envelope`]: sealing and opening one message copy for one reader.
//! - [`ids`]: time-ordered message ids, direct-conversation ids, opaque checked cursors.
//! - [`store`]: the single DynamoDB table and its access patterns.

pub mod chat;
pub mod envelope;
pub mod ids;
pub mod kms;
pub mod store;
