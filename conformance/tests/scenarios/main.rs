//! The conformance scenarios, one module per service or flow. Each `scenario!` is a test that
//! runs against the target named by `CONFORMANCE_TARGET` (the in-process emulator by default).

mod support;

mod chat;
mod cognito;
mod dynamodb;
mod kms;
mod s3;
mod sns;
mod websocket;
