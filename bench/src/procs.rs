//! Resident memory of a process and everything it started, read from `/proc`.
//!
//! Peers are Python programs that may fork workers, so a single PID's RSS would flatter them;
//! the sum over the process tree is what the machine actually pays.

use std::collections::HashMap;
use std::fs;

/// Resident set size, in MiB, of `pid` and all its descendants; `None` off Linux or when the
/// process is gone.
pub fn tree_rss_mib(pid: u32) -> Option<f64> {
    let parents = parent_map();
    let mut total_kib = rss_kib(pid)?;
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (&child, &parent) in &parents {
            if parent == p {
                total_kib += rss_kib(child).unwrap_or(0);
                frontier.push(child);
            }
        }
    }
    Some(total_kib as f64 / 1024.0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// child pid → parent pid for every process visible in `/proc`.
fn parent_map() -> HashMap<u32, u32> {
    let mut map = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else { return map };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name is in parentheses and may hold spaces: fields start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            map.insert(pid, ppid);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_counts_towards_its_parents_tree() {
        let me = std::process::id();
        let own = rss_kib(me).expect("this process has an RSS");
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep runs");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let tree = tree_rss_mib(me).unwrap();
        let child_kib = rss_kib(child.id()).expect("the child has an RSS");
        child.kill().ok();
        child.wait().ok();
        assert!(child_kib > 0);
        assert!(
            tree * 1024.0 >= (own + child_kib) as f64 * 0.9,
            "tree {tree} MiB, own {own} KiB, child {child_kib} KiB"
        );
    }
}
