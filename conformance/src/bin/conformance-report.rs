//! Builds `conformance-report.md` from the result lines the scenario tests wrote, prints it,
//! and exits with status 1 when any scenario failed on any target.
//!
//!   conformance-report [--out FILE] [--results DIR]
//!
//! Defaults: results from `{target dir}/conformance/`, report next to them. Wall times per
//! target are read from `wall-{target}.txt` there when a runner wrote them, and the journals in
//! `journals-{target}/` are replayed on the emulator (a section of their differences).

use std::collections::BTreeMap;
use std::path::PathBuf;

use conformance::results;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut dir = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--results" => dir = args.next().map(PathBuf::from),
            other => {
                eprintln!("unknown argument {other}\nusage: conformance-report [--out FILE] [--results DIR]");
                std::process::exit(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(results::results_dir);
    let records = results::load(&dir);
    if records.is_empty() {
        eprintln!("no results in {}: run `cargo test -p conformance` first", dir.display());
        std::process::exit(2);
    }
    let mut wall = BTreeMap::new();
    for t in conformance::Target::ALL {
        if let Ok(s) = std::fs::read_to_string(dir.join(format!("wall-{}.txt", t.name()))) {
            wall.insert(t.name().to_string(), s.trim().to_string());
        }
    }
    let (mut report, failed) = results::render(&records, &wall);
    // Journals (`CONFORMANCE_RECORD_DIR=…/journals-{target}`) are replayed on the emulator and
    // their differences added; they never fail the run: a peer's difference is information.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    if let Some(section) = runtime.ok().and_then(|rt| rt.block_on(conformance::journal::replay_section(&dir))) {
        report.push('\n');
        report.push_str(&section);
    }
    let out = out.unwrap_or_else(|| dir.join("conformance-report.md"));
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("cannot write {}: {e}", out.display());
    }
    println!("{report}");
    eprintln!("report: {}", out.display());
    if failed {
        std::process::exit(1);
    }
}
