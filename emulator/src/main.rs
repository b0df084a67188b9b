//! `emulator` command line: `emulator serve …` starts the emulator on one port.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use emulator::{Config, Credential, Emulator, StateLocation};

#[derive(Parser)]
#[command(name = "emulator", version, about = "Local AWS emulator: S3, KMS, SNS on one port, state in SQLite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the AWS APIs on one port until Ctrl-C.
    Serve(ServeArgs),
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
            let state = match &config.state {
                StateLocation::Dir(d) => d.display().to_string(),
                StateLocation::InMemory => "in memory".into(),
            };
            let emu = Emulator::builder().config(config).start().await?;
            // A closed stdout (e.g. a parent that read only the first line) must not stop the server.
            let banner = format!(
                "emulator listening on {url}\n  state: {state}\n  use:   aws --endpoint-url {url} s3 ls\n  admin: {url}/_emulator/health\n",
                url = emu.url()
            );
            let mut out = std::io::stdout();
            let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
            emu.wait_for_signal().await;
        }
    }
    Ok(())
}
