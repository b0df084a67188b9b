//! `/_app/`: the application's static web client, served from a directory next to its template.
//!
//! On AWS a single-page client is hosted anywhere (S3, a CDN) and learns where the stack is from
//! a `config.json` written from the stack's outputs. Locally `emulator up` does both: it serves
//! the directory and answers `/_app/config.json` itself, with the same outputs rewritten to the
//! URLs that answer on this machine (see [`crate::up::local_url`]), the region, and
//! `cognitoEndpoint` — the one value a client cannot derive, since Cognito is not behind an
//! execute-api URL. The client code is therefore identical in both places.
//!
//! Files are read from disk on every request (no caching), so editing the client needs only a
//! browser reload.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::state::Emu;

/// Where the client is served on the emulator's port.
pub const PATH: &str = "/_app";

/// A static client and the configuration handed to it.
#[derive(Debug, Clone)]
pub struct WebApp {
    pub dir: PathBuf,
    /// Served as `config.json`.
    pub config: Value,
}

/// `/_app`, `/_app/` and every path under it.
pub fn router() -> axum::Router<Arc<Emu>> {
    let paths = [PATH.to_string(), format!("{PATH}/"), format!("{PATH}/{{*path}}")];
    paths.iter().fold(axum::Router::new(), |r, p| r.route(p, axum::routing::get(serve)))
}

/// The client's URL on an instance at `endpoint`.
pub fn url(endpoint: &str) -> String {
    format!("{endpoint}{PATH}/")
}

/// `GET /_app` and everything under it.
pub async fn serve(State(emu): State<Arc<Emu>>, req: Request) -> Response {
    let Some(app) = emu.web_app.read().expect("web app lock").clone() else {
        return (StatusCode::NOT_FOUND, "no web client is served: start with `emulator up` and a web directory\n")
            .into_response();
    };
    let path = req.uri().path().strip_prefix(PATH).unwrap_or("").to_string();
    if path.is_empty() {
        // Relative URLs in the page resolve against the directory only with the trailing slash.
        return Redirect::permanent(&url("")).into_response();
    }
    if path == "/config.json" {
        let mut response = axum::Json(app.config.clone()).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    let (mut parts, body) = req.into_parts();
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let req = Request::from_parts(parts, body);
    // ServeDir refuses `..` and absolute components, so nothing outside the directory is read.
    match ServeDir::new(&app.dir).append_index_html_on_directories(true).oneshot(req).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
