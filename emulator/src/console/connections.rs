//! Live API Gateway WebSocket connections, from the instance's connection registry
//! (`Emu::sockets`): only the emulator process knows them, AWS has no listing call.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `GET /console/connections`: oldest connection first.
pub(super) async fn connections(State(emu): Shared) -> Response {
    let mut live = emu.sockets.list();
    live.sort_by(|a, b| a.1.connected_at.cmp(&b.1.connected_at).then_with(|| a.0.cmp(&b.0)));
    let connections: Vec<_> = live
        .into_iter()
        .map(|(id, c)| {
            let last_active = *c.last_active.lock().expect("activity lock");
            json!({
                "connectionId": id,
                "apiId": c.api_id,
                "stage": c.stage,
                "connectedAt": time(c.connected_at),
                "lastActiveAt": time(last_active),
                "sourceIp": c.source_ip,
                "userAgent": c.user_agent,
                "authorizer": c.authorizer,
            })
        })
        .collect();
    axum::Json(json!({ "connections": connections })).into_response()
}
