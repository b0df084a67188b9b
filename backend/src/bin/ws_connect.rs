//! WebSocket `$connect`: verifies `?token=` (an access token of the pool) and records the connection.

use backend::{auth::Verifier, aws, handlers, store::Store};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_tracing();
    let config = aws::sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), aws::env("TABLE_NAME")?);
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let issuer = aws::cognito_issuer(&region, &aws::env("USER_POOL_ID")?);
    let verifier = Verifier::new(issuer, std::env::var("USER_POOL_CLIENT_ID").ok());
    lambda_runtime::run(service_fn(|e| handlers::ws_connect(&store, &verifier, e))).await
}
