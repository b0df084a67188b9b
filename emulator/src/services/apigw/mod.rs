//! API Gateway: HTTP APIs (payload 2.0), REST APIs (Lambda proxy, payload 1.0) and WebSocket
//! APIs in front of the emulator's Lambda functions, with the `@connections` management API.
//!
//! | file             | what                                                             |
//! |------------------|------------------------------------------------------------------|
//! | `spec.rs`        | API definitions (routes, authorizers, CORS) stored in SQLite      |
//! | `authorizers.rs` | JWT, Cognito user pool and Lambda REQUEST authorizers             |

pub mod authorizers;
pub mod spec;

pub use spec::{ApiProtocol, ApiSpec, AuthorizerSpec, Cors, RouteSpec};

/// Where API stages are served on the emulator's port: `/_aws/execute-api/{apiId}/{stage}/…`.
pub const PATH_PREFIX: &str = "/_aws/execute-api";
