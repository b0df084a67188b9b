//! Chat end to end (emulator only): the backend's real functions under `emulator up`, many
//! WebSocket clients, send → deliver latency, room fan-out, memory per connection.

use std::path::PathBuf;

use crate::report::Row;

/// What the chat benchmark runs against and how hard.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The emulator binary (`emulator up` is run from it).
    pub emulator_bin: PathBuf,
    /// Where the backend's release binaries are (`api`, `ws_connect`, …): `--functions-dir`.
    pub functions_dir: PathBuf,
    /// `backend/template.yaml`.
    pub template: PathBuf,
    /// WebSocket clients connected at once.
    pub clients: usize,
    /// Members of the room a message is fanned out to.
    pub room_members: usize,
    /// One-to-one messages sent per second while all clients are connected.
    pub rate_per_s: f64,
    /// For how long messages are sent.
    pub seconds: f64,
}

/// The chat benchmark's results.
#[derive(Debug, Clone)]
pub struct ChatReport {
    /// The report's markdown section.
    pub markdown: String,
    /// CSV rows (section `chat`).
    pub rows: Vec<Row>,
}

pub async fn run(_options: &ChatOptions) -> anyhow::Result<ChatReport> {
    anyhow::bail!("the chat benchmark is not written yet")
}
