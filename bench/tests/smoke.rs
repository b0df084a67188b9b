//! The bench binary end to end against the emulator, at toy sizes: every selected operation is
//! measured at every concurrency without errors, and the report, CSV and plots are written.
//!
//! The emulator binary must sit next to the bench binary (`cargo test --workspace` builds both).

use std::path::Path;
use std::process::Command;

#[test]
fn measures_the_emulator_and_writes_the_report() {
    let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
    let emulator = bench.with_file_name("emulator");
    assert!(
        emulator.is_file(),
        "{} is missing: build it first (`cargo build -p emulator`, or run `cargo test --workspace`)",
        emulator.display()
    );
    let out = tempfile::tempdir().unwrap();
    let ops = "S3 PutObject 1 KiB,DynamoDB Query 100 items,KMS Decrypt";
    let run = Command::new(bench)
        .args(["--targets", "emulator", "--ops", ops, "--concurrency", "1,4", "--duration", "0.3", "--warmup", "0.1"])
        .args(["--cold-starts", "2", "--no-chat", "--out"])
        .arg(out.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "bench failed: {stderr}");

    let csv = std::fs::read_to_string(out.path().join("bench-results.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(fields).collect();
    for op in ops.split(',') {
        for c in ["1", "4"] {
            let row = rows
                .iter()
                .find(|r| r[1] == "emulator" && r[2] == op && r[3] == c)
                .unwrap_or_else(|| panic!("no row for {op} at concurrency {c} in\n{csv}"));
            let requests: u64 = row[4].parse().unwrap();
            let errors: u64 = row[5].parse().unwrap();
            let p50: f64 = row[7].parse().unwrap();
            let p99: f64 = row[8].parse().unwrap();
            assert!(requests > 0 && errors == 0, "{op} c={c}: {requests} requests, {errors} errors\n{stderr}");
            assert!(p50 > 0.0 && p99 >= p50, "{op} c={c}: p50 {p50} p99 {p99}");
        }
    }

    let md = std::fs::read_to_string(out.path().join("bench-report.md")).unwrap();
    let startup = md.lines().find(|l| l.starts_with("| emulator |")).expect("a start-up row for the emulator");
    let cells: Vec<&str> = startup.split('|').map(str::trim).collect();
    assert!(cells[3].ends_with("(n=2)"), "two cold starts: {startup}");
    let healthy: f64 = cells[3].split_whitespace().next().unwrap().parse().unwrap();
    let first_put: f64 = cells[4].parse().unwrap();
    let idle_rss: f64 = cells[5].parse().unwrap();
    assert!(healthy > 0.0 && first_put >= healthy, "{startup}");
    assert!(idle_rss > 1.0, "{startup}");
    assert!(md.contains("## Throughput and latency at concurrency 4"), "{md}");
    assert!(out.path().join("latency-c4.svg").is_file());
}

/// The chat end to end at toy size, with the backend's debug binaries (next to the bench's own,
/// as `cargo test --workspace` builds them): every message sent is delivered, and the room's
/// fan-out reaches its members.
#[test]
fn measures_the_chat_end_to_end() {
    let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
    for bin in ["emulator", "api", "ws_connect", "ws_disconnect", "ws_message", "stream_processor", "onboard"] {
        assert!(
            bench.with_file_name(bin).is_file(),
            "{bin} is missing next to the bench: build it first (`cargo build -p emulator -p backend`, or run `cargo test --workspace`)"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(bench)
        .args(["--targets", "emulator", "--ops", "SNS Publish", "--concurrency", "1", "--duration", "0.1"])
        .args(["--cold-starts", "1", "--chat-clients", "12", "--room-members", "6", "--chat-rate", "5"])
        .args(["--chat-seconds", "1", "--out"])
        .arg(out.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "bench failed: {stderr}");
    let csv = std::fs::read_to_string(out.path().join("bench-results.csv")).unwrap();
    let chat: Vec<Vec<String>> = csv.lines().filter(|l| l.starts_with("chat,")).map(fields).collect();
    let send = chat.iter().find(|r| r[2].starts_with("send → deliver")).unwrap_or_else(|| panic!("{csv}\n{stderr}"));
    let (sent, failed): (u64, u64) = (send[4].parse().unwrap(), send[5].parse().unwrap());
    assert!(sent >= 4 && failed == 0, "one-to-one: {sent} sent, {failed} lost or failed\n{stderr}");
    let room = chat.iter().find(|r| r[2].starts_with("room fan-out")).unwrap_or_else(|| panic!("{csv}\n{stderr}"));
    assert_eq!(
        (room[4].as_str(), room[5].as_str()),
        ("5", "0"),
        "the room's other five members get the message\n{csv}"
    );
    let md = std::fs::read_to_string(out.path().join("bench-report.md")).unwrap();
    assert!(md.contains("## Chat end to end (emulator only)"), "{md}");
}

/// The fields of one CSV line (quoted fields may hold commas; `""` is a quote).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}
