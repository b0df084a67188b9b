//! Helpers shared by the suites that run the backend's real binaries under `emulator up`.

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
