//! One JSON line per scenario and target in `{target dir}/conformance/results-{target}.jsonl`,
//! and the Markdown matrix built from them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
    KnownPeerBug,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    pub target: String,
    pub outcome: Outcome,
    /// Why it was skipped, the known peer bug, or what failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Snapshot (`-`) against this target (`+`), unified, shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default)]
    pub millis: u64,
}

/// Where result lines go: `CONFORMANCE_RESULTS_DIR`, else `conformance/` in the cargo target
/// directory the running executable was built in (the directory holding `CACHEDIR.TAG`), else
/// `CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn results_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CONFORMANCE_RESULTS_DIR")
        && !d.is_empty()
    {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    if let Some(d) = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").exists()) {
        return d.join("conformance");
    }
    std::env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("conformance")
}

pub fn results_file(dir: &Path, target: &str) -> PathBuf {
    dir.join(format!("results-{target}.jsonl"))
}

static WRITE: Mutex<()> = Mutex::new(());

/// Appends one record (one `write` of one line, under a lock).
pub fn append(record: &Record) {
    let dir = results_dir();
    let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("conformance: cannot create {}: {e}", dir.display());
        return;
    }
    let path = results_file(&dir, &record.target);
    let mut line = serde_json::to_string(record).unwrap_or_default();
    line.push('\n');
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("conformance: cannot write {}: {e}", path.display());
    }
}

/// Every record in `dir`; a later line for the same scenario and target replaces an earlier one.
pub fn load(dir: &Path) -> Vec<Record> {
    let mut by_key: BTreeMap<(String, String), Record> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("results-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Record>(line) {
                Ok(r) => {
                    by_key.insert((r.scenario.clone(), r.target.clone()), r);
                }
                Err(e) => eprintln!("conformance: skipping a malformed line in {}: {e}", f.display()),
            }
        }
    }
    by_key.into_values().collect()
}

const TARGET_ORDER: [&str; 4] = ["emulator", "moto", "localstack", "aws"];

fn cell(r: Option<&Record>) -> String {
    match r {
        None => "—".into(),
        Some(r) => match r.outcome {
            Outcome::Pass => "pass".into(),
            Outcome::Fail => "**FAIL**".into(),
            Outcome::Skipped => format!("skipped: {}", r.reason.as_deref().unwrap_or("")),
            Outcome::KnownPeerBug => format!("known peer bug: {}", r.reason.as_deref().unwrap_or("")),
        },
    }
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report: counts per target, the scenario × target matrix, then each failure's diff.
/// Also returns whether any scenario failed.
pub fn render(records: &[Record], wall_times: &BTreeMap<String, String>) -> (String, bool) {
    let mut targets: Vec<String> =
        records.iter().map(|r| r.target.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    targets.sort_by_key(|t| TARGET_ORDER.iter().position(|o| o == t).unwrap_or(usize::MAX));
    let scenarios: BTreeSet<String> = records.iter().map(|r| r.scenario.clone()).collect();
    let get = |s: &str, t: &str| records.iter().find(|r| r.scenario == s && r.target == t);
    let mut out = String::from("# Conformance report\n\n");
    out.push_str("| target | pass | FAIL | known peer bug | skipped | scenario time | wall time |\n|---|---|---|---|---|---|---|\n");
    let mut failed = false;
    for t in &targets {
        let of = |o: Outcome| records.iter().filter(|r| &r.target == t && r.outcome == o).count();
        let millis: u64 = records.iter().filter(|r| &r.target == t).map(|r| r.millis).sum();
        failed |= of(Outcome::Fail) > 0;
        out.push_str(&format!(
            "| {t} | {} | {} | {} | {} | {:.1} s | {} |\n",
            of(Outcome::Pass),
            of(Outcome::Fail),
            of(Outcome::KnownPeerBug),
            of(Outcome::Skipped),
            millis as f64 / 1000.0,
            wall_times.get(t).map(String::as_str).unwrap_or("—"),
        ));
    }
    out.push_str("\n| scenario |");
    for t in &targets {
        out.push_str(&format!(" {t} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(targets.len()));
    out.push('\n');
    for s in &scenarios {
        out.push_str(&format!("| {s} |"));
        for t in &targets {
            out.push_str(&format!(" {} |", escape(&cell(get(s, t)))));
        }
        out.push('\n');
    }
    let failures: Vec<&Record> = records.iter().filter(|r| r.outcome == Outcome::Fail).collect();
    if !failures.is_empty() {
        out.push_str("\n## Failures\n");
        for r in failures {
            out.push_str(&format!("\n### {} on {}\n\n{}\n", r.scenario, r.target, r.reason.as_deref().unwrap_or("")));
            if let Some(d) = &r.diff {
                out.push_str(&format!("\n```diff\n{d}\n```\n"));
            }
        }
    }
    let bugs: Vec<&Record> =
        records.iter().filter(|r| r.outcome == Outcome::KnownPeerBug && r.diff.is_some()).collect();
    if !bugs.is_empty() {
        out.push_str("\n## Known peer bugs (the differences)\n");
        for r in bugs {
            out.push_str(&format!(
                "\n<details><summary>{} on {}: {}</summary>\n\n```diff\n{}\n```\n\n</details>\n",
                r.scenario,
                r.target,
                escape(r.reason.as_deref().unwrap_or("")),
                r.diff.as_deref().unwrap_or("")
            ));
        }
    }
    (out, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str, t: &str, o: Outcome, reason: Option<&str>) -> Record {
        Record {
            scenario: s.into(),
            target: t.into(),
            outcome: o,
            reason: reason.map(Into::into),
            diff: None,
            millis: 10,
        }
    }

    #[test]
    fn the_matrix_counts_and_flags_failures_only() {
        let records = vec![
            rec("s3::a", "emulator", Outcome::Pass, None),
            rec("s3::a", "moto", Outcome::KnownPeerBug, Some("no x")),
            rec("ws::b", "moto", Outcome::Skipped, Some("no sockets")),
            rec("ws::b", "emulator", Outcome::Pass, None),
        ];
        let (md, failed) = render(&records, &BTreeMap::new());
        assert!(!failed);
        assert!(md.contains("| emulator | 2 | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("| moto | 0 | 0 | 1 | 1 |"), "{md}");
        assert!(md.contains("| ws::b | pass | skipped: no sockets |"), "{md}");
        let mut with_fail = records.clone();
        with_fail.push(rec("kms::c", "moto", Outcome::Fail, Some("diff")));
        let (md, failed) = render(&with_fail, &BTreeMap::new());
        assert!(failed);
        assert!(md.contains("**FAIL**") && md.contains("### kms::c on moto"), "{md}");
    }

    #[test]
    fn later_lines_replace_earlier_ones() {
        let dir = std::env::temp_dir().join(format!("conformance-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = [
            serde_json::to_string(&rec("a", "moto", Outcome::Fail, None)).unwrap(),
            serde_json::to_string(&rec("a", "moto", Outcome::Pass, None)).unwrap(),
        ];
        std::fs::write(results_file(&dir, "moto"), lines.join("\n")).unwrap();
        let loaded = load(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].outcome, Outcome::Pass);
    }
}
