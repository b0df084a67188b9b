//! Helpers shared by the suites that run the backend's real binaries under `emulator up`.

// Each suite uses some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;

use emulator::template::provision::FunctionBinaries;

/// The backend's binaries, which cargo builds for the integration tests.
pub fn binaries() -> FunctionBinaries {
    let map: BTreeMap<String, std::path::PathBuf> = [
        ("api", env!("CARGO_BIN_EXE_api")),
        ("ws_connect", env!("CARGO_BIN_EXE_ws_connect")),
        ("ws_disconnect", env!("CARGO_BIN_EXE_ws_disconnect")),
        ("ws_message", env!("CARGO_BIN_EXE_ws_message")),
        ("stream_processor", env!("CARGO_BIN_EXE_stream_processor")),
        ("onboard", env!("CARGO_BIN_EXE_onboard")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into()))
    .collect();
    FunctionBinaries::Map(map)
}

/// `backend/template.yaml` as the stack `chat`, run with [`binaries`].
pub fn options() -> emulator::up::UpOptions {
    let mut options = emulator::up::UpOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"));
    options.stack_name = Some("chat".into());
    options.functions = binaries();
    options
}

/// Brings the stack up on a free port, with e-mail subscriptions confirmed at once.
pub async fn up(builder: emulator::EmulatorBuilder, options: &emulator::up::UpOptions) -> emulator::up::Up {
    let builder = builder.port(0).auto_confirm_subscriptions(true);
    emulator::up::up(builder, options).await.expect("the stack comes up")
}

/// The local invoke URL of the stack's API `logical_id`.
pub fn api_url(up: &emulator::up::Up, logical_id: &str) -> String {
    let id = up.stack.physical_id(logical_id).expect("the API is in the stack");
    let spec = up.stack.apis.iter().find(|a| a.id == id).expect("the API is saved");
    emulator::services::apigw::spec::invoke_url(up.handle.state(), spec)
}
