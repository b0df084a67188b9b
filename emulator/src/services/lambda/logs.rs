//! Function output. Every line a function writes (and Lambda's START/END/REPORT lines) goes to
//! the emulator's stderr prefixed with the function name, and into a bounded in-memory buffer
//! that `/_emulator/logs` serves and `X-Amz-Log-Type: Tail` reads from.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Lines kept across all functions; the oldest go first.
const CAPACITY: usize = 20_000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// Milliseconds since the Unix epoch (emulator clock).
    pub timestamp: i64,
    pub function: String,
    /// The invocation the instance was running when it wrote the line, if any.
    pub request_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Logs {
    lines: Mutex<VecDeque<Line>>,
}

impl Logs {
    pub fn push(&self, line: Line) {
        eprintln!("[{}] {}", line.function, line.message);
        let mut lines = self.lines.lock().expect("logs lock");
        if lines.len() == CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The newest `limit` lines, oldest first, optionally of one function.
    pub fn recent(&self, function: Option<&str>, limit: usize) -> Vec<Line> {
        let lines = self.lines.lock().expect("logs lock");
        let mut out: Vec<Line> =
            lines.iter().rev().filter(|l| function.is_none_or(|f| l.function == f)).take(limit).cloned().collect();
        out.reverse();
        out
    }

    /// The lines of one invocation, joined, as `LogResult` carries them (last 4 KB).
    pub fn tail(&self, request_id: &str) -> String {
        let lines = self.lines.lock().expect("logs lock");
        let text: String = lines
            .iter()
            .filter(|l| l.request_id.as_deref() == Some(request_id))
            .map(|l| format!("{}\n", l.message))
            .collect();
        let mut start = text.len().saturating_sub(4096);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }
}
