//! The table's stream consumer: pushes new messages to live connections, mails notices.

use backend::{aws, handlers, realtime::Realtime, store::Store};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_tracing();
    let config = aws::sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), aws::env("TABLE_NAME")?);
    let management = aws::management_client(&config, &aws::management_endpoint(&aws::env("WS_STAGE")?)?);
    let sns = aws_sdk_sns::Client::new(&config);
    let rt = Realtime { store, management };
    lambda_runtime::run(service_fn(|e| handlers::stream(&rt, &sns, e))).await
}
