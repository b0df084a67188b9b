//! Black-box tests of the emulator through the official AWS SDK for Rust over real HTTP.
//!
//! One test binary (modules below) so the heavy SDK crates are linked once. Every test starts
//! its own in-process emulator on an ephemeral port with in-memory state, unless it tests
//! persistence.

mod apigw;
mod auth;
mod cli;
mod cognito;
mod common;
mod console;
mod core;
mod durability;
mod dynamodb;
mod dynamodb_model;
mod dynamodb_streams;
mod faults;
mod fixtures;
mod journal;
mod kms;
mod lambda;
mod lambda_events;
mod s3;
mod sns;
mod template;
