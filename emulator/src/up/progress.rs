//! What `emulator up` shows while it works, on stderr.
//!
//! A first `up` builds the functions in release mode, which takes minutes on a small machine;
//! without a word it would look hung. Each build is announced with what it builds (cargo's own
//! progress follows it, since cargo's stderr is this process's), its end with how long it
//! took, and provisioning with a counter: one line rewritten in place on a terminal, a single
//! line otherwise, so logs stay short.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Instant;

use crate::template::provision::{Progress, ProgressEvent};

/// Whether a provisioning line is on screen and must be cleared before other output.
static PENDING_LINE: Mutex<bool> = Mutex::new(false);

/// A [`Progress`] that reports on stderr.
pub fn display() -> Progress {
    let terminal = std::io::stderr().is_terminal();
    let build_started = Mutex::new(None::<Instant>);
    Progress::new(move |event| {
        let mut err = std::io::stderr().lock();
        match event {
            ProgressEvent::Building { dir, binaries } => {
                *build_started.lock().expect("progress lock") = Some(Instant::now());
                let what = if binaries.is_empty() { "its binary".to_string() } else { binaries.join(", ") };
                let _ = writeln!(
                    err,
                    "building {} ({what}) with cargo build --release; a first build takes several minutes…",
                    dir.display()
                );
            }
            ProgressEvent::Built { dir, ok } => {
                let secs =
                    build_started.lock().expect("progress lock").take().map_or(0.0, |t| t.elapsed().as_secs_f64());
                let verdict = if ok { "built" } else { "build FAILED" };
                let _ = writeln!(err, "{verdict}: {} in {secs:.1} s", dir.display());
            }
            ProgressEvent::Resource { index, total, id, kind } => {
                if terminal {
                    let _ = write!(err, "\r\x1b[2Kprovisioning [{index}/{total}] {id} ({kind})");
                    *PENDING_LINE.lock().expect("progress lock") = true;
                } else if index == 1 {
                    let _ = writeln!(err, "provisioning {total} resources…");
                }
            }
        }
        let _ = err.flush();
    })
}

/// Ends the in-place provisioning line, if one is showing.
pub fn clear() {
    let mut pending = PENDING_LINE.lock().expect("progress lock");
    if std::mem::take(&mut *pending) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}
