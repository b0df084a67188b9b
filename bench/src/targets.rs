//! The servers under measurement and how each one is started, probed and stopped.
//!
//! The bench spawns every server itself, so that start-up can be timed from `spawn` and the
//! process tree's memory read. The peers' Python environments are installed by the
//! conformance suite's start scripts (`start-moto.sh install`, `start-localstack.sh install`),
//! which print where they put them; the bench then runs the server program directly, as those
//! scripts do, with the same settings.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Kind {
    Emulator,
    Moto,
    Localstack,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Emulator => "emulator",
            Kind::Moto => "moto",
            Kind::Localstack => "localstack",
        }
    }

    /// Whether the target answers `service`, or why it is left out.
    pub fn supports(self, service: &str) -> Result<(), &'static str> {
        match (self, service) {
            (Kind::Emulator | Kind::Moto, _) => Ok(()),
            (Kind::Localstack, "s3" | "kms" | "sns") => Ok(()),
            (Kind::Localstack, "cognito") => Err("LocalStack community: Cognito needs a licence"),
            (Kind::Localstack, "dynamodb") => Err("LocalStack host mode: DynamoDB downloads a JDK at first use"),
            (Kind::Localstack, _) => Err("not in LocalStack community"),
        }
    }

    fn health_path(self) -> &'static str {
        match self {
            Kind::Emulator => "/_emulator/health",
            Kind::Moto => "/moto-api/",
            Kind::Localstack => "/_localstack/health",
        }
    }
}

/// How to start one target: a program, its arguments (with `{port}` and `{dir}` placeholders)
/// and environment.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub kind: Kind,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// What the launcher runs, for the report.
    pub version: String,
}

/// A started server.
pub struct Server {
    pub url: String,
    child: Child,
    /// spawn → first answer of the health URL.
    pub healthy_after: Duration,
    pub spawned: Instant,
    /// The server's state, logs and stdout; deleted when the server is dropped.
    dir: tempfile::TempDir,
}

impl Launcher {
    /// The emulator's own binary: `serve` on a fresh SQLite state directory.
    pub fn emulator(bin: &Path) -> anyhow::Result<Launcher> {
        if !bin.is_file() {
            bail!(
                "no emulator binary at {} (build it with `cargo build --release -p emulator`, or pass --emulator-bin)",
                bin.display()
            );
        }
        let version = std::process::Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Ok(Launcher {
            kind: Kind::Emulator,
            program: bin.to_path_buf(),
            args: ["serve", "--host", "127.0.0.1", "--port", "{port}", "--state", "{dir}/state"]
                .map(String::from)
                .into(),
            env: vec![("RUST_LOG".into(), "warn".into())],
            version,
        })
    }

    /// The emulator running `up`: `template` provisioned with the functions' executables taken
    /// from `functions_dir`, no web client. Its banner goes to the server's stdout file
    /// ([`Server::stdout`]). `parameters` are the template's `--parameter-overrides` (`Key=Value`).
    pub fn emulator_up(
        bin: &Path,
        template: &Path,
        functions_dir: &Path,
        parameters: &[String],
    ) -> anyhow::Result<Launcher> {
        let mut launcher = Launcher::emulator(bin)?;
        let absolute =
            |p: &Path| -> anyhow::Result<String> { Ok(std::path::absolute(p)?.to_string_lossy().into_owned()) };
        launcher.args = vec![
            "up".into(),
            "--template".into(),
            absolute(template)?,
            "--skip-build".into(),
            "--functions-dir".into(),
            absolute(functions_dir)?,
            "--no-web".into(),
        ];
        launcher.args.extend(["--host", "127.0.0.1", "--port", "{port}", "--state", "{dir}/state"].map(String::from));
        if !parameters.is_empty() {
            launcher.args.push("--parameter-overrides".into());
            launcher.args.extend(parameters.iter().cloned());
        }
        Ok(launcher)
    }

    /// A peer, installed (once) by its conformance start script. `Ok(None)` with the reason
    /// printed when it cannot be installed here.
    pub fn peer(kind: Kind, scripts: &Path) -> anyhow::Result<Result<Launcher, String>> {
        let script = match kind {
            Kind::Moto => scripts.join("start-moto.sh"),
            Kind::Localstack => scripts.join("start-localstack.sh"),
            Kind::Emulator => unreachable!("the emulator is not a peer"),
        };
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("install")
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !out.status.success() {
            return Ok(Err(format!("{} install exited with {}", script.display(), out.status)));
        }
        let venv = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let py_version = |package: &str| {
            std::process::Command::new(venv.join("bin/python"))
                .args(["-c", &format!("import importlib.metadata as m; print(m.version('{package}'))")])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        Ok(Ok(match kind {
            Kind::Moto => Launcher {
                kind,
                program: venv.join("bin/moto_server"),
                args: ["-H", "127.0.0.1", "-p", "{port}"].map(String::from).into(),
                env: vec![],
                version: format!("moto {}", py_version("moto")),
            },
            Kind::Localstack => Launcher {
                kind,
                program: venv.join("bin/python"),
                args: ["-m", "localstack.runtime.main"].map(String::from).into(),
                // The settings start-localstack.sh uses: loopback only, no downloads, per-run dirs.
                env: [
                    ("TMPDIR", "{dir}/tmp"),
                    ("FILESYSTEM_ROOT", "{dir}/fs"),
                    ("LOCALSTACK_VOLUME_DIR", "{dir}/volume"),
                    ("GATEWAY_LISTEN", "127.0.0.1:{port}"),
                    ("GATEWAY_SERVER", "hypercorn"),
                    ("LOCALSTACK_HOST", "127.0.0.1:{port}"),
                    ("SERVICES", "s3,kms,sns,sts"),
                    ("DISABLE_EVENTS", "1"),
                    ("SKIP_SSL_CERT_DOWNLOAD", "1"),
                    ("SKIP_INFRA_DOWNLOADS", "1"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
                version: format!("localstack-core {} (host mode)", py_version("localstack-core")),
            },
            Kind::Emulator => unreachable!(),
        }))
    }

    /// Spawns the server on a free port and waits (up to `wait`) until its health URL answers.
    pub async fn start(&self, wait: Duration) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new().prefix(&format!("bench-{}-", self.kind.name())).tempdir()?;
        for sub in ["tmp", "fs", "volume"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let port = free_port()?;
        let fill = |s: &str| s.replace("{port}", &port.to_string()).replace("{dir}", &dir.path().to_string_lossy());
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args.iter().map(|a| fill(a)))
            .envs(self.env.iter().map(|(k, v)| (k.clone(), fill(v))))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout.log"))?)
            .stderr(std::fs::File::create(dir.path().join("server.log"))?)
            .process_group(0)
            .kill_on_drop(true);
        let url = format!("http://127.0.0.1:{port}");
        let health = format!("{url}{}", self.kind.health_path());
        let probe = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(2)).build()?;
        let spawned = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("spawning {}", self.program.display()))?;
        loop {
            if let Ok(r) = probe.get(&health).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!(
                    "{} exited at start ({status}):\n{}",
                    self.kind.name(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            if spawned.elapsed() > wait {
                bail!("{} did not answer {health} within {wait:?}", self.kind.name());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Server { url, healthy_after: spawned.elapsed(), spawned, child, dir })
    }
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the server has printed so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// The last `n` lines of the server's log (stderr).
    pub fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// RSS of the server's process tree, MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.pid().and_then(crate::procs::tree_rss_mib)
    }

    /// SIGTERM to the whole process group (the server was made its leader), SIGKILL after a
    /// grace period.
    pub async fn stop(mut self) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let Some(pid) = self.child.id() else { return };
        let group = Pid::from_raw(pid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
        // Whatever the leader left behind in its group.
        let _ = killpg(group, Signal::SIGKILL);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
