//! Cognito PostConfirmation and PreTokenGeneration: the user's KMS key, notification topic and
//! profile, created once (later calls find them).

use backend::{aws, handlers, onboard::Onboarding, store::Store};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_tracing();
    let config = aws::sdk_config().await;
    let roles = aws::env("CRYPTO_ROLE_ARNS")?;
    let crypto_roles: Vec<String> = roles.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect();
    let account = crypto_roles.first().map(|r| handlers::account_of(r)).unwrap_or_default();
    let onboarding = Onboarding {
        kms: aws_sdk_kms::Client::new(&config),
        sns: aws_sdk_sns::Client::new(&config),
        store: Store::new(aws_sdk_dynamodb::Client::new(&config), aws::env("TABLE_NAME")?),
        crypto_roles,
        account,
    };
    lambda_runtime::run(service_fn(|e| handlers::onboard(&onboarding, e))).await
}
