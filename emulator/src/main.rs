//! `emulator` command line: `emulator serve …` starts the emulator on one port; `emulator up …`
//! also provisions a SAM/CloudFormation template into it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use emulator::template::provision::FunctionBinaries;
use emulator::up::{UpOptions, default_demo, default_template, default_web, parse_parameter_overrides, progress};

use emulator::{Config, Credential, Emulator, StateLocation};

#[derive(Parser)]
#[command(
    name = "emulator",
    version,
    about = "Local AWS emulator: S3, KMS, SNS, Cognito, DynamoDB, Lambda and API Gateway on one port, state in SQLite"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the AWS APIs on one port until Ctrl-C.
    Serve(ServeArgs),
    /// Serve, provision a SAM/CloudFormation template into the emulator, print where everything
    /// is, then serve until Ctrl-C.
    Up(UpArgs),
    /// Send a journal recorded with --record again to a fresh instance (same seed, clock,
    /// endpoint) and report the first response that differs; exits 1 if one does.
    Replay(ReplayArgs),
    /// Export a running emulator's whole state as a fixture, or load a fixture into one (or
    /// into a state directory).
    #[command(subcommand)]
    Fixtures(FixturesCommand),
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Print the whole state of a running emulator as a fixture (YAML).
    Export {
        /// The emulator's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:4566", env = "EMULATOR_URL")]
        url: String,
    },
    /// Load a fixture into a running emulator, or into a state directory.
    Load {
        file: PathBuf,
        /// The emulator's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:4566", env = "EMULATOR_URL", conflicts_with = "state")]
        url: String,
        /// Load into this state directory instead (the clock and RNG then take effect only with
        /// --fixture at start; the tables are written).
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ReplayArgs {
    /// The journal (JSON lines, as --record writes them).
    file: PathBuf,
    /// Listen on this port instead of the recorded one (token issuers contain the port).
    #[arg(long)]
    port: Option<u16>,
    /// Load this fixture at start instead of the one the journal names.
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Pair the journal's generated ids (keys, ARNs, tokens, ciphertexts) with this instance's
    /// and compare member by member, to the end (automatic for a journal recorded against
    /// moto, LocalStack or AWS; useful for one recorded without --seed or --clock).
    #[arg(long)]
    map_ids: bool,
}

#[derive(Args)]
struct UpArgs {
    /// The template [default: backend/template.yaml if it exists, else template.yaml].
    #[arg(long)]
    template: Option<PathBuf>,
    /// Parameter values: KEY=VALUE (or ParameterKey=KEY,ParameterValue=VALUE), several allowed.
    #[arg(long = "parameter-overrides", num_args = 1.., value_name = "KEY=VALUE")]
    parameter_overrides: Vec<String>,
    /// The stack's name [default: the template's directory name].
    #[arg(long)]
    stack_name: Option<String>,
    /// Do not build rust-cargolambda functions; take every executable from --functions-dir.
    #[arg(long, requires = "functions_dir")]
    skip_build: bool,
    /// Executables by binary name or logical id (files, or NAME/bootstrap as `cargo lambda build` writes).
    #[arg(long, value_name = "DIR", requires = "skip_build")]
    functions_dir: Option<PathBuf>,
    /// A static web client to serve at /_app/ [default: web/ next to the template, if present].
    #[arg(long, value_name = "DIR", conflicts_with = "no_web")]
    web: Option<PathBuf>,
    /// Serve no web client.
    #[arg(long)]
    no_web: bool,
    /// Create demo users and a first conversation from FILE [default: demo.yaml next to the template].
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    demo: Option<Option<PathBuf>>,
    #[command(flatten)]
    serve: ServeArgs,
}

impl UpArgs {
    fn options(&self) -> anyhow::Result<UpOptions> {
        let cwd = std::env::current_dir().context("no current directory")?;
        let mut options = UpOptions::new(self.template.clone().unwrap_or_else(|| default_template(&cwd)));
        options.stack_name = self.stack_name.clone();
        options.parameters = parse_parameter_overrides(&self.parameter_overrides)
            .map_err(|e| anyhow::anyhow!("--parameter-overrides {e}"))?;
        if let (true, Some(dir)) = (self.skip_build, &self.functions_dir) {
            options.functions = FunctionBinaries::Dir(dir.clone());
        }
        options.web = match (&self.web, self.no_web) {
            (_, true) => None,
            (Some(dir), false) => Some(dir.clone()),
            (None, false) => default_web(&options.template),
        };
        options.demo = self.demo.clone().map(|file| file.unwrap_or_else(|| default_demo(&options.template)));
        options.progress = progress::display();
        Ok(options)
    }
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1", env = "EMULATOR_HOST")]
    host: String,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 4566, env = "EMULATOR_PORT")]
    port: u16,
    /// Directory for the SQLite state (kept across restarts).
    #[arg(long, default_value = ".emulator", env = "EMULATOR_STATE", conflicts_with = "in_memory")]
    state: PathBuf,
    /// Keep all state in memory; nothing survives the process.
    #[arg(long)]
    in_memory: bool,
    /// Seed for every generated id, key, nonce and code (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
    /// Freeze the clock at this RFC 3339 instant; it then moves only via /_emulator/clock.
    #[arg(long)]
    clock: Option<DateTime<Utc>>,
    #[arg(long, default_value = "us-east-1", env = "AWS_REGION")]
    region: String,
    #[arg(long, default_value = "000000000000")]
    account: String,
    /// Verify SigV4 signatures; reject unknown keys and bad signatures.
    #[arg(long)]
    strict_auth: bool,
    /// A known access key: ACCESS_KEY:SECRET[:PRINCIPAL_ARN] (repeatable). `test:test` is always known.
    #[arg(long = "credential", value_name = "AK:SECRET[:ARN]")]
    credentials: Vec<String>,
    /// Confirm e-mail/SMS subscriptions at once instead of mailing a confirmation link.
    #[arg(long)]
    auto_confirm_subscriptions: bool,
    /// Issue Cognito tokens with AWS's issuer URL instead of the emulator's own.
    #[arg(long)]
    cognito_aws_issuer: bool,
    /// Inject the faults in FILE from the start (YAML or JSON: a list, or `faults:` with a list).
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// Load this fixture (YAML) once started; see `emulator fixtures`.
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Journal every API request and response to FILE (JSON lines; secrets redacted).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Keep passwords, tokens, plaintexts and signatures in the journal (needed to replay it).
    #[arg(long, requires = "record")]
    record_secrets: bool,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = Config {
            host: self.host,
            port: self.port,
            state: if self.in_memory { StateLocation::InMemory } else { StateLocation::Dir(self.state) },
            seed: self.seed,
            clock: self.clock,
            region: self.region,
            account: self.account,
            strict_auth: self.strict_auth,
            auto_confirm_subscriptions: self.auto_confirm_subscriptions,
            cognito_aws_issuer: self.cognito_aws_issuer,
            faults: match &self.faults {
                Some(file) => emulator::faults::load_file(file).map_err(|e| anyhow::anyhow!("--faults {e:#}"))?,
                None => Vec::new(),
            },
            fixture: match &self.fixture {
                Some(file) => Some(emulator::fixtures::read(file)?),
                None => None,
            },
            fixture_file: self.fixture.as_ref().map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone())),
            record: self.record,
            record_secrets: self.record_secrets,
            ..Config::default()
        };
        let root = config.root_arn();
        for c in &mut config.credentials {
            c.principal_arn = root.clone();
        }
        for spec in self.credentials {
            let mut parts = spec.splitn(3, ':');
            let (Some(ak), Some(sk)) = (parts.next(), parts.next()) else {
                anyhow::bail!("--credential wants ACCESS_KEY:SECRET[:PRINCIPAL_ARN], got {spec:?}");
            };
            // An ARN itself contains ':', so the third part is everything after the second ':'.
            let arn = parts.next().map(str::to_string).unwrap_or_else(|| root.clone());
            config.credentials.retain(|c| c.access_key != ak);
            config.credentials.push(Credential { access_key: ak.into(), secret_key: sk.into(), principal_arn: arn });
        }
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => {
            let config = args.into_config()?;
            let state = state_description(&config);
            let emu = Emulator::builder().config(config).start().await?;
            let banner = format!(
                "emulator listening on {url}\n  state: {state}\n  use:   aws --endpoint-url {url} s3 ls\n  admin: {url}/_emulator/health\n  ui:    {url}/_emulator/ui\n",
                url = emu.url()
            );
            print(&banner);
            emu.wait_for_signal().await;
        }
        Command::Fixtures(FixturesCommand::Export { url }) => {
            let resp = reqwest::get(format!("{}/_emulator/state", url.trim_end_matches('/')))
                .await
                .with_context(|| format!("no emulator at {url}"))?;
            let status = resp.status();
            let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?).context("unreadable answer")?;
            if !status.is_success() {
                anyhow::bail!("export failed ({status}): {}", body["error"]);
            }
            print(&serde_yaml_ng::to_string(&body)?);
        }
        Command::Fixtures(FixturesCommand::Load { file, url, state }) => {
            let fixture = emulator::fixtures::read(&file)?;
            match state {
                Some(dir) => {
                    let config = Config { port: 0, state: StateLocation::Dir(dir.clone()), ..Config::default() };
                    let emu = Emulator::builder().config(config).fixture(fixture).start().await?;
                    emu.shutdown().await;
                    eprintln!("loaded {} into {}", file.display(), dir.display());
                }
                None => {
                    let text = std::fs::read_to_string(&file)?;
                    let resp = reqwest::Client::new()
                        .post(format!("{}/_emulator/state", url.trim_end_matches('/')))
                        .body(text)
                        .send()
                        .await
                        .with_context(|| format!("no emulator at {url}"))?;
                    let status = resp.status();
                    let body: serde_json::Value =
                        serde_json::from_slice(&resp.bytes().await?).context("unreadable answer")?;
                    if !status.is_success() {
                        anyhow::bail!("load failed ({status}): {}", body["error"]);
                    }
                    eprintln!("loaded {} into {url}", file.display());
                }
            }
        }
        Command::Replay(args) => {
            let options =
                emulator::replay::ReplayOptions { port: args.port, fixture: args.fixture, map_ids: args.map_ids };
            let report = emulator::replay::replay(&args.file, &options).await?;
            print(&report.to_string());
            if !report.identical() {
                std::process::exit(1);
            }
        }
        Command::Up(args) => {
            let started = std::time::Instant::now();
            let options = args.options()?;
            let config = args.serve.into_config()?;
            let state = state_description(&config);
            let up = match emulator::up::up(Emulator::builder().config(config), &options).await {
                Ok(up) => up,
                Err(e) => {
                    // The message names the resource and the operation; a backtrace would bury it.
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            };
            progress::clear();
            let banner = emulator::up::banner(&up);
            // The first thing to open, again at the end: function output may have pushed the
            // banner's top off the screen.
            let open = if up.handle.state().web_app.read().expect("web app lock").is_some() {
                format!("open {}", emulator::webapp::url(up.handle.url()))
            } else {
                format!("console at {}/_emulator/ui", up.handle.url())
            };
            print(&format!(
                "{banner}\nstate: {state}\nready in {:.1} s: {open}; Ctrl-C stops everything\n",
                started.elapsed().as_secs_f64()
            ));
            up.handle.wait_for_signal().await;
            eprintln!(
                "stopped: function processes ended, state {}",
                if state == "in memory" { "discarded" } else { "saved" }
            );
        }
    }
    Ok(())
}

fn state_description(config: &Config) -> String {
    match &config.state {
        StateLocation::Dir(d) => d.display().to_string(),
        StateLocation::InMemory => "in memory".into(),
    }
}

/// Writes to stdout; a closed stdout (e.g. a parent that read only the first line) must not
/// stop the server.
fn print(text: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
