//! The HTTP API function (every route, behind the JWT authorizer).

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::handlers::init_tracing();
    let deps = backend::handlers::deps().await?;
    lambda_runtime::run(service_fn(|e| backend::handlers::http(&deps, e))).await
}
