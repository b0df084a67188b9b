//! How a service calls a Lambda function: Cognito triggers now; SNS `lambda` subscriptions and
//! stream mappings later. The Lambda service implements [`LambdaInvoker`] for real function
//! processes; tests and embedders can install their own with
//! [`EmulatorBuilder::lambda_invoker`](crate::EmulatorBuilder::lambda_invoker).

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, InvokeError>> + Send + 'a>>;

/// Synchronous (`RequestResponse`) invocation of a function by name or ARN.
pub trait LambdaInvoker: Send + Sync {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> InvokeFuture<'a>;
}

impl std::fmt::Debug for dyn LambdaInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LambdaInvoker")
    }
}

/// Why an invocation produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function ran and failed (`X-Amz-Function-Error`): its `errorType` and `errorMessage`.
    Function { error_type: String, message: String },
    /// The function could not be run (unknown, crashed, timed out).
    Unavailable(String),
}
