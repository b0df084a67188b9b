//! The chat backend: one-to-one and room chat with per-recipient envelope encryption.
//!
//! Domain logic lives here as plain async functions over the AWS SDK clients; the Lambda
//! functions in `src/bin/` are thin `lambda_runtime` wrappers around them. The same binaries run
//! on AWS and under the emulator: only `AWS_ENDPOINT_URL` differs.
//!
//! - [`api`]: the HTTP API's routes over [`chat`].
//! - [`handlers`]: Lambda event adapters the binaries run.
//! - [`auth`]: the caller from verified claims; access-token verification for `$connect`.
//! - [`aws`]: SDK configuration and the endpoints derived from it.
//! - [`chat`]: the chat's operations (send, history, read marks, rooms, attachments).
//! - [`kms`]: the KMS operations the chat needs, as a trait (SDK client or in process).
//! - [`envelope`]: sealing and opening one message copy for one reader.
//! - [`ids`]: time-ordered message ids, direct-conversation ids, opaque checked cursors.
//! - [`onboard`]: a confirmed user's key, topic and profile (idempotent).
//! - [`notify`]: the e-mail notice of a new message (never its text).
//! - [`realtime`]: WebSocket connections and the stream-driven fan-out of new messages.
//! - [`store`]: the single DynamoDB table and its access patterns.

pub mod api;
pub mod auth;
pub mod aws;
pub mod chat;
pub mod envelope;
pub mod handlers;
pub mod ids;
pub mod kms;
pub mod notify;
pub mod onboard;
pub mod realtime;
pub mod store;
