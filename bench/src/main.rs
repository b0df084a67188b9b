//! `bench`: the emulator and its peers (moto server, LocalStack in host mode) measured in one
//! run, on one machine, by one client, with ratios.
//!
//! # Map
//!
//! - [`targets`]: how each server is spawned (peers from the virtualenvs the conformance
//!   suite's start scripts install), probed for health, and stopped.
//! - [`procs`]: RSS of a server's whole process tree from `/proc`.
//! - [`workloads`]: the measured operations — set-up plus one call — through the AWS SDK for
//!   Rust, identical for every target.
//! - [`load`]: the closed-loop generator (N workers, warm-up, fixed window, HDR histogram).
//! - [`chat`]: the chat end to end under `emulator up` (emulator only: the peers lack pieces).
//! - [`report`]: markdown table with emulator ÷ peer ratios, CSV, SVG of latencies.
//!
//! The run is bounded: each operation runs for `--duration` per concurrency, each target is
//! started `--cold-starts` times, and every server is stopped at the end, whatever happened.

mod chat;
mod load;
mod procs;
mod report;
mod targets;
mod workloads;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use report::{Row, StartUp};
use targets::{Kind, Launcher};

#[derive(Parser, Debug)]
#[command(about = "Benchmark the emulator against moto and LocalStack on this machine, side by side")]
struct Args {
    /// Targets to measure (peers are installed by conformance/scripts/start-*.sh, or skipped).
    #[arg(long, value_delimiter = ',', default_value = "emulator,moto,localstack")]
    targets: Vec<Kind>,
    /// Operations to run (names as in the report; default: all).
    #[arg(long, value_delimiter = ',')]
    ops: Vec<String>,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    concurrency: Vec<usize>,
    /// Measured seconds per operation and concurrency.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, default_value_t = 0.3)]
    warmup: f64,
    /// Cold starts per target (the median is reported).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    /// Skip the chat end-to-end benchmark.
    #[arg(long)]
    no_chat: bool,
    /// WebSocket clients in the chat benchmark.
    #[arg(long, default_value_t = 1000)]
    chat_clients: usize,
    /// Room size for the chat fan-out.
    #[arg(long, default_value_t = 500)]
    room_members: usize,
    /// One-to-one messages per second in the chat benchmark.
    #[arg(long, default_value_t = 50.0)]
    chat_rate: f64,
    /// Seconds of sending in the chat benchmark.
    #[arg(long, default_value_t = 10.0)]
    chat_seconds: f64,
    /// Also time the full conformance run per target (conformance/scripts/run.sh all).
    #[arg(long)]
    conformance: bool,
    /// The emulator binary (default: `emulator` next to this executable).
    #[arg(long)]
    emulator_bin: Option<PathBuf>,
    /// The backend's function binaries for the chat benchmark (default: this executable's directory).
    #[arg(long)]
    functions_dir: Option<PathBuf>,
    /// Where bench-report.md, bench-results.csv and latency-c*.svg are written.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = workspace_root();
    let exe_dir = std::env::current_exe()?.parent().context("executable has a directory")?.to_path_buf();
    let emulator_bin = args.emulator_bin.clone().unwrap_or_else(|| exe_dir.join("emulator"));
    let scripts = root.join("conformance/scripts");
    let began = Instant::now();

    let mut targets = args.targets.clone();
    targets.sort();
    targets.dedup();
    let ops: Vec<&workloads::Op> = workloads::OPS
        .iter()
        .filter(|op| args.ops.is_empty() || args.ops.iter().any(|o| o.eq_ignore_ascii_case(op.name)))
        .collect();
    anyhow::ensure!(!ops.is_empty(), "no operation matches --ops {:?}", args.ops);

    let mut startup: BTreeMap<Kind, StartUp> = BTreeMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut not_measured: BTreeMap<(Kind, String), String> = BTreeMap::new();
    for &kind in &targets {
        eprintln!("== {}", kind.name());
        let launcher = match kind {
            Kind::Emulator => Launcher::emulator(&emulator_bin)?,
            peer => match Launcher::peer(peer, &scripts)? {
                Ok(l) => l,
                Err(why) => {
                    eprintln!("   skipped: {why}");
                    startup.insert(kind, StartUp { skipped: Some(why), ..Default::default() });
                    continue;
                }
            },
        };
        let s = measure_target(&launcher, &args, &ops, &mut rows, &mut not_measured).await;
        startup.insert(kind, s);
    }

    let chat = if args.no_chat || !targets.contains(&Kind::Emulator) {
        None
    } else {
        eprintln!("== chat end to end (emulator)");
        let options = chat::ChatOptions {
            emulator_bin: emulator_bin.clone(),
            functions_dir: args.functions_dir.clone().unwrap_or_else(|| exe_dir.clone()),
            template: root.join("backend/template.yaml"),
            clients: args.chat_clients,
            room_members: args.room_members,
            rate_per_s: args.chat_rate,
            seconds: args.chat_seconds,
        };
        Some(match chat::run(&options).await {
            Ok(r) => {
                rows.extend(r.rows);
                r.markdown
            }
            Err(e) => format!("## Chat end to end\n\nnot measured: {e:#}\n"),
        })
    };

    let conformance = if args.conformance { Some(conformance_wall_times(&root)) } else { None };

    let op_names: Vec<String> = ops.iter().map(|o| o.name.to_string()).collect();
    let report = report::Report {
        machine: machine_line(),
        settings: format!(
            "`bench --duration {} --warmup {} --concurrency {} --cold-starts {}`; client: AWS SDK for Rust, keep-alive, no retries; every server on loopback, started by the bench; whole run {:.0} s.",
            args.duration,
            args.warmup,
            args.concurrency.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","),
            args.cold_starts,
            began.elapsed().as_secs_f64()
        ),
        targets: &targets,
        startup: &startup,
        rows: &rows,
        not_measured: &not_measured,
        chat,
        conformance,
        concurrencies: &args.concurrency,
        op_names: op_names.clone(),
    };
    let md = report.markdown();
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("bench-report.md"), &md)?;
    std::fs::write(args.out.join("bench-results.csv"), report::csv(&rows))?;
    for &c in &args.concurrency {
        std::fs::write(args.out.join(format!("latency-c{c}.svg")), report::svg(&rows, &op_names, c, &targets))?;
    }
    println!("{md}");
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// Cold starts, then one instance for the workloads; the server is always stopped.
async fn measure_target(
    launcher: &Launcher,
    args: &Args,
    ops: &[&workloads::Op],
    rows: &mut Vec<Row>,
    not_measured: &mut BTreeMap<(Kind, String), String>,
) -> StartUp {
    let kind = launcher.kind;
    let mut s = StartUp { version: launcher.version.clone(), ..Default::default() };
    let wait = Duration::from_secs(120);
    for n in 0..args.cold_starts {
        match cold_start(launcher, wait).await {
            Ok((healthy, first_put)) => {
                eprintln!("   cold start {}: healthy {healthy:.1} ms, first PutObject {first_put:.1} ms", n + 1);
                s.healthy_ms.push(healthy);
                s.first_put_ms.push(first_put);
            }
            Err(e) => {
                eprintln!("   cold start {} failed: {e:#}", n + 1);
            }
        }
    }
    let server = match launcher.start(wait).await {
        Ok(server) => server,
        Err(e) => {
            s.skipped = Some(format!("did not start: {e:#}"));
            return s;
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.idle_rss_mib = server.rss_mib();
    let clients = workloads::Clients::new(&server.url);
    let run = format!("bench{}", std::process::id());
    for op in ops {
        if let Err(why) = kind.supports(op.service) {
            not_measured.insert((kind, op.name.to_string()), why.to_string());
            continue;
        }
        let call = match workloads::prepare(op, &clients, &run).await {
            Ok(call) => call,
            Err(e) => {
                eprintln!("   {}: set-up failed: {e:#}", op.name);
                not_measured.insert((kind, op.name.to_string()), format!("set-up failed: {}", first_line(&e)));
                continue;
            }
        };
        for &c in &args.concurrency {
            let m = load::run(call.clone(), c, secs(args.warmup), secs(args.duration)).await;
            eprintln!(
                "   {:<34} c={c:<3} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms{}",
                op.name,
                m.throughput(),
                m.quantile_ms(0.5),
                m.quantile_ms(0.99),
                m.first_error.as_ref().map(|e| format!("  {} errors, first: {e}", m.errors)).unwrap_or_default()
            );
            rows.push(Row::from_measurement("ops", kind, op.name, &m));
        }
    }
    s.loaded_rss_mib = server.rss_mib();
    server.stop().await;
    s
}

/// spawn → health, and spawn → first successful PutObject (bucket created first), in ms.
async fn cold_start(launcher: &Launcher, wait: Duration) -> anyhow::Result<(f64, f64)> {
    let server = launcher.start(wait).await?;
    let healthy = server.healthy_after.as_secs_f64() * 1000.0;
    let clients = workloads::Clients::new(&server.url);
    let result = async {
        loop {
            let attempt = async {
                let _ = clients.s3.create_bucket().bucket("cold-start").send().await;
                clients.s3.put_object().bucket("cold-start").key("first").body(b"hello".to_vec().into()).send().await
            };
            if attempt.await.is_ok() {
                return Ok(server.spawned.elapsed().as_secs_f64() * 1000.0);
            }
            if server.spawned.elapsed() > wait {
                anyhow::bail!("no successful PutObject within {wait:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    .await;
    server.stop().await;
    Ok((healthy, result?))
}

/// Runs `conformance/scripts/run.sh all` and reads the wall time it records per target.
fn conformance_wall_times(root: &Path) -> String {
    eprintln!("== conformance run (conformance/scripts/run.sh all)");
    let status = std::process::Command::new("bash")
        .arg(root.join("conformance/scripts/run.sh"))
        .arg("all")
        .current_dir(root)
        .status();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("conformance");
    let mut md = String::from("## Full conformance run, wall time per target\n\n| target | wall time |\n|---|---|\n");
    for t in ["emulator", "moto", "localstack"] {
        let wall = std::fs::read_to_string(dir.join(format!("wall-{t}.txt"))).map(|s| s.trim().to_string());
        md.push_str(&format!("| {t} | {} |\n", wall.unwrap_or_else(|_| "skipped".into())));
    }
    let report = dir.join("conformance-report.md");
    if report.is_file() {
        let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        md.push_str(&format!("\nrun.sh exit: {status}; its report: `{}`\n", report.display()));
    }
    md
}

fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or_default().chars().take(120).collect()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// The workspace root: where `conformance/scripts` is, from the current directory upwards.
fn workspace_root() -> PathBuf {
    let mut dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    loop {
        if dir.join("conformance/scripts/run.sh").is_file() {
            return dir;
        }
        if !dir.pop() {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        }
    }
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let profile = if cfg!(debug_assertions) { "debug build (numbers not representative)" } else { "release build" };
    format!("Machine: {cpu}, {cores} cores; bench {profile}.")
}
