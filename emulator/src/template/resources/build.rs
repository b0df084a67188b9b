//! Building `rust-cargolambda` functions: `cargo build --release --message-format=json` in the
//! function's `CodeUri`, with `--bin` when `Metadata.BuildProperties.Binary` names one. Every
//! function of one crate is built by a single cargo run (`--bin a --bin b …`), so a warm
//! `emulator up` pays cargo's start-up once per crate, not once per function.
//!
//! The executable's path is read from cargo's own `compiler-artifact` message rather than
//! guessed from the target directory layout, so workspaces, custom target directories and
//! `CARGO_TARGET_DIR` all work.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

/// Builds several binaries of the crate in `dir` in one cargo run; their executables, in order.
pub(super) async fn cargo_build_all(dir: &Path, binaries: &[String]) -> Result<Vec<PathBuf>, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} has no Cargo.toml", dir.display()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = tokio::process::Command::new(cargo);
    command
        .args(["build", "--release", "--message-format=json-render-diagnostics", "--manifest-path"])
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for bin in binaries {
        command.args(["--bin", bin]);
    }
    let output = command.output().await.map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build exited with {} (its errors are above)", output.status));
    }
    let messages = String::from_utf8_lossy(&output.stdout);
    binaries.iter().map(|b| artifact(&messages, Some(b), &manifest)).collect()
}

/// Builds the crate in `dir` (release) and returns the executable of `binary` (or of the crate's
/// only binary). Cargo's progress and diagnostics go to this process's stderr.
pub(super) async fn cargo_build(dir: &Path, binary: Option<&str>) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} has no Cargo.toml", dir.display()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = tokio::process::Command::new(cargo);
    command
        .args(["build", "--release", "--message-format=json-render-diagnostics", "--manifest-path"])
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(bin) = binary {
        command.args(["--bin", bin]);
    }
    let output = command.output().await.map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build exited with {} (its errors are above)", output.status));
    }
    artifact(&String::from_utf8_lossy(&output.stdout), binary, &manifest)
}

/// The executable cargo reported building: of `binary` when named, else the one binary of the
/// package whose manifest is `manifest`.
pub(super) fn artifact(messages: &str, binary: Option<&str>, manifest: &Path) -> Result<PathBuf, String> {
    let wanted_manifest = manifest.canonicalize().unwrap_or_else(|_| manifest.to_path_buf());
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let target = &message["target"];
        let is_bin = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
        let (Some(name), Some(executable)) = (target["name"].as_str(), message["executable"].as_str()) else {
            continue;
        };
        if !is_bin {
            continue;
        }
        let matches = match binary {
            Some(b) => name == b,
            None => message["manifest_path"].as_str().is_some_and(|m| {
                let m = Path::new(m);
                m.canonicalize().unwrap_or_else(|_| m.to_path_buf()) == wanted_manifest
            }),
        };
        if matches && !found.iter().any(|(n, _)| n == name) {
            found.push((name.to_string(), PathBuf::from(executable)));
        }
    }
    match (found.len(), binary) {
        (1, _) => Ok(found.remove(0).1),
        (0, Some(b)) => Err(format!("cargo built no binary named {b}")),
        (0, None) => Err(format!("cargo built no binary for {}", manifest.display())),
        _ => {
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            Err(format!(
                "the crate has several binaries ({}); choose one with Metadata: BuildProperties: Binary",
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str, kind: &str, manifest: &str, executable: Option<&str>) -> String {
        serde_json::json!({
            "reason": "compiler-artifact",
            "package_id": format!("path+file:///{name}#0.1.0"),
            "manifest_path": manifest,
            "target": {"kind": [kind], "crate_types": [kind], "name": name, "src_path": "/x/src/main.rs"},
            "profile": {"opt_level": "3"},
            "filenames": [executable.unwrap_or("/t/lib.rlib")],
            "executable": executable,
            "fresh": false,
        })
        .to_string()
    }

    fn stream(lines: &[String]) -> String {
        let mut all = vec![
            r#"{"reason":"build-script-executed","package_id":"x","linked_libs":[],"linked_paths":[],"cfgs":[],"env":[],"out_dir":"/o"}"#.to_string(),
            "not json at all".to_string(),
        ];
        all.extend(lines.iter().cloned());
        all.push(r#"{"reason":"build-finished","success":true}"#.into());
        all.join("\n")
    }

    #[test]
    fn picks_the_named_binary() {
        let out = stream(&[
            message("serde", "lib", "/reg/serde/Cargo.toml", None),
            message("connect", "bin", "/ws/backend/Cargo.toml", Some("/ws/target/release/connect")),
            message("send", "bin", "/ws/backend/Cargo.toml", Some("/ws/target/release/send")),
        ]);
        let manifest = Path::new("/ws/backend/Cargo.toml");
        assert_eq!(artifact(&out, Some("send"), manifest).unwrap(), PathBuf::from("/ws/target/release/send"));
        assert_eq!(artifact(&out, Some("missing"), manifest).unwrap_err(), "cargo built no binary named missing");
    }

    #[test]
    fn without_a_name_the_package_must_have_one_binary() {
        let one = stream(&[
            message("helper", "bin", "/ws/tools/Cargo.toml", Some("/ws/target/release/helper")),
            message("chat", "bin", "/ws/chat/Cargo.toml", Some("/ws/target/release/chat")),
        ]);
        assert_eq!(
            artifact(&one, None, Path::new("/ws/chat/Cargo.toml")).unwrap(),
            PathBuf::from("/ws/target/release/chat")
        );
        let two = stream(&[
            message("a", "bin", "/ws/chat/Cargo.toml", Some("/ws/target/release/a")),
            message("b", "bin", "/ws/chat/Cargo.toml", Some("/ws/target/release/b")),
        ]);
        let err = artifact(&two, None, Path::new("/ws/chat/Cargo.toml")).unwrap_err();
        assert!(err.contains("several binaries (a, b)"), "{err}");
        assert!(artifact(&stream(&[]), None, Path::new("/ws/chat/Cargo.toml")).is_err());
    }

    #[test]
    fn libraries_and_artifacts_without_executables_are_skipped() {
        let out = stream(&[
            message("chat", "lib", "/ws/chat/Cargo.toml", None),
            message("chat", "bin", "/ws/chat/Cargo.toml", None),
        ]);
        assert!(artifact(&out, Some("chat"), Path::new("/ws/chat/Cargo.toml")).is_err());
    }
}
