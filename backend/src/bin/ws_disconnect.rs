//! WebSocket `$disconnect`: forgets the connection.

use backend::{aws, handlers, store::Store};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_tracing();
    let config = aws::sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), aws::env("TABLE_NAME")?);
    lambda_runtime::run(service_fn(|e| handlers::ws_disconnect(&store, e))).await
}
