//! WebSocket `sendMessage` and `typing` routes.

use backend::{aws, handlers, realtime::Realtime};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_tracing();
    let deps = handlers::deps().await?;
    let config = aws::sdk_config().await;
    let management = aws::management_client(&config, &aws::management_endpoint(&aws::env("WS_STAGE")?)?);
    let rt = Realtime { store: deps.store.clone(), management };
    lambda_runtime::run(service_fn(|e| handlers::ws_message(&deps, &rt, e))).await
}
