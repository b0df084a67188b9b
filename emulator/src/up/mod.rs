//! `emulator up`: start an emulator, provision a SAM/CloudFormation template into it, and say
//! where everything is.
//!
//! The same template that deploys the application to AWS describes it locally: [`up`] reads it,
//! starts an instance, provisions the stack ([`crate::template::provision`]) and hands back
//! both, and [`banner`] renders what a developer needs next — the endpoint, each API's URL and
//! routes, each WebSocket URL, each user pool's JWKS URL and client ids, the mailbox, the
//! template's outputs and every warning. The binary's `up` command is a thin wrapper around
//! these, so tests drive exactly what users run.
//!
//! - [`local`]: the outputs rewritten to the URLs that answer on this machine, and the
//!   `config.json` the web client reads.
//! - [`demo`]: `--demo`, confirmed users and a first conversation from a small YAML file.
//! - [`progress`]: what the command shows while it builds and provisions.
//!
//! When the template's directory holds a `web/` directory, it is served at `/_app/`
//! ([`crate::webapp`]): the application's own client, configured from the local outputs.

pub mod demo;
pub mod local;
pub mod progress;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::services::apigw::{ApiProtocol, spec};
use crate::state::Emu;
use crate::template::provision::{FunctionBinaries, Progress, ProvisionOptions, ResourceStatus, Stack, provision};
use crate::{EmulatorBuilder, EmulatorHandle};

/// What to provision.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub template: PathBuf,
    /// Default: the name of the template's directory.
    pub stack_name: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub functions: FunctionBinaries,
    /// A static web client to serve at `/_app/` ([`default_web`] finds the usual one).
    pub web: Option<PathBuf>,
    /// A demo file to seed once the stack is up ([`demo`]).
    pub demo: Option<PathBuf>,
    pub progress: Progress,
}

impl UpOptions {
    pub fn new(template: impl Into<PathBuf>) -> Self {
        UpOptions {
            template: template.into(),
            stack_name: None,
            parameters: BTreeMap::new(),
            functions: FunctionBinaries::Build,
            web: None,
            demo: None,
            progress: Progress::default(),
        }
    }
}

/// A running instance with the stack provisioned into it.
pub struct Up {
    pub handle: EmulatorHandle,
    pub stack: Stack,
    /// What `--demo` created, when asked for.
    pub demo: Option<(demo::Demo, demo::Seeded)>,
}

/// `web/` next to the template, if it is a directory holding `index.html`.
pub fn default_web(template: &Path) -> Option<PathBuf> {
    let dir = template.parent().unwrap_or(Path::new(".")).join("web");
    dir.join("index.html").is_file().then_some(dir)
}

/// `demo.yaml` next to the template.
pub fn default_demo(template: &Path) -> PathBuf {
    template.parent().unwrap_or(Path::new(".")).join("demo.yaml")
}

/// `backend/template.yaml` under `dir` if it exists, else `template.yaml`.
pub fn default_template(dir: &Path) -> PathBuf {
    let backend = dir.join("backend").join("template.yaml");
    if backend.is_file() { backend } else { dir.join("template.yaml") }
}

/// A stack name from the template's directory (`backend/template.yaml` → `backend`), reduced to
/// what CloudFormation accepts: letters, digits and hyphens, starting with a letter.
pub fn default_stack_name(template: &Path) -> String {
    let absolute = std::path::absolute(template).unwrap_or_else(|_| template.to_path_buf());
    let dir = absolute.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String = dir.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("stack{}{name}", if name.is_empty() { "" } else { "-" });
    }
    name.chars().take(128).collect()
}

/// `KEY=VALUE` items (several may share one argument, separated by spaces, as SAM CLI takes
/// them), or SAM's `ParameterKey=KEY,ParameterValue=VALUE`.
pub fn parse_parameter_overrides(items: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in items.iter().flat_map(|i| i.split_whitespace()) {
        if let Some(rest) = item.strip_prefix("ParameterKey=") {
            let Some((key, value)) = rest.split_once(",ParameterValue=") else {
                return Err(format!("{item}: expected ParameterKey=KEY,ParameterValue=VALUE"));
            };
            out.insert(key.to_string(), value.to_string());
            continue;
        }
        match item.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                out.insert(key.to_string(), value.to_string());
            }
            _ => return Err(format!("{item}: expected KEY=VALUE")),
        }
    }
    Ok(out)
}

/// Provisions the template file into a running instance.
pub async fn provision_file(emu: &Arc<Emu>, options: &UpOptions) -> anyhow::Result<Stack> {
    let path = &options.template;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the template {}", path.display()))?;
    let template = crate::template::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut provision_options =
        ProvisionOptions::new(options.stack_name.clone().unwrap_or_else(|| default_stack_name(path)));
    provision_options.parameters = options.parameters.clone();
    provision_options.functions = options.functions.clone();
    provision_options.progress = options.progress.clone();
    provision_options.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if provision_options.base_dir.as_os_str().is_empty() {
        provision_options.base_dir = PathBuf::from(".");
    }
    provision(emu, &template, &provision_options)
        .await
        .map_err(|e| anyhow::anyhow!("stack {} ({}): {e}", provision_options.stack_name, path.display()))
}

/// Starts an instance, provisions the template into it. On failure the instance is stopped.
pub async fn up(builder: EmulatorBuilder, options: &UpOptions) -> anyhow::Result<Up> {
    // Read the template before binding the port, so a typo in the path fails fast.
    let path = &options.template;
    if !path.is_file() {
        anyhow::bail!("no template at {} (give one with --template)", path.display());
    }
    if let Some(web) = options.web.as_ref().filter(|w| !w.join("index.html").is_file()) {
        anyhow::bail!("no web client at {} (it needs an index.html)", web.display());
    }
    let demo = options.demo.as_deref().map(demo::Demo::read).transpose()?;
    let handle = builder.start().await?;
    match finish(&handle, options, demo).await {
        Ok((stack, demo)) => Ok(Up { handle, stack, demo }),
        Err(e) => {
            handle.shutdown().await;
            Err(e)
        }
    }
}

/// Provisions, serves the web client, seeds the demo.
async fn finish(
    handle: &EmulatorHandle,
    options: &UpOptions,
    demo: Option<demo::Demo>,
) -> anyhow::Result<(Stack, Option<(demo::Demo, demo::Seeded)>)> {
    let emu = handle.state();
    let stack = provision_file(emu, options).await?;
    if let Some(dir) = &options.web {
        let app = crate::webapp::WebApp { dir: dir.clone(), config: local::web_config(emu, &stack) };
        *emu.web_app.write().expect("web app lock") = Some(Arc::new(app));
    }
    let demo = match demo {
        Some(demo) => {
            let seeded = demo::seed(emu, &stack, &demo).await.context("--demo")?;
            Some((demo, seeded))
        }
        None => None,
    };
    if let Some(app) = emu.config.fixture.as_ref().and_then(|f| f.app.as_ref()) {
        demo::seed(emu, &stack, app).await.context("the fixture's `app` section")?;
    }
    Ok((stack, demo))
}

/// What to print once the stack is up: where to go first (the web client, the console, the
/// SDK endpoint, how to log in), then every API, pool, output and warning.
pub fn banner(up: &Up) -> String {
    let emu = up.handle.state();
    let stack = &up.stack;
    let endpoint = &emu.endpoint;
    let mut out = String::new();
    let count = |s: ResourceStatus| stack.resources.iter().filter(|r| r.status == s).count();
    let _ = writeln!(out, "emulator listening on {endpoint}");
    let _ = writeln!(
        out,
        "stack {}: {} resources ({} created, {} existing, {} skipped, {} unsupported)\n",
        stack.name,
        stack.resources.len(),
        count(ResourceStatus::Created),
        count(ResourceStatus::Existing),
        count(ResourceStatus::Skipped),
        count(ResourceStatus::Unsupported)
    );
    let web = emu.web_app.read().expect("web app lock").is_some();
    if web {
        let _ = writeln!(out, "  app:      {}", crate::webapp::url(endpoint));
    }
    let _ = writeln!(out, "  console:  {endpoint}/_emulator/ui");
    let _ = writeln!(
        out,
        "  SDK/CLI:  export AWS_ENDPOINT_URL={endpoint} AWS_REGION={} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
        emu.config.region
    );
    match &up.demo {
        Some((demo, seeded)) => {
            let _ = writeln!(out, "  log in:   as {} with the password {}", seeded.users.join(" or "), demo.password);
        }
        None if web => {
            let _ = writeln!(out, "  log in:   sign up in the app; the e-mailed code is in the console's mailbox");
        }
        None => {}
    }
    let logical = |physical: &str| {
        stack.resources.iter().find(|r| r.physical_id.as_deref() == Some(physical)).map(|r| r.logical_id.clone())
    };
    for api in &stack.apis {
        let kind = match api.protocol {
            ApiProtocol::Http => "HTTP API",
            ApiProtocol::Rest => "REST API",
            ApiProtocol::Websocket => "WebSocket API",
        };
        let name = logical(&api.id).unwrap_or_else(|| api.name.clone());
        let _ = writeln!(out, "\n{kind} {name}: {}", spec::invoke_url(emu, api));
        let width = api.routes.iter().map(|r| r.key.len()).max().unwrap_or(0);
        for route in &api.routes {
            let function = route.function.as_deref().unwrap_or("(no integration)");
            let auth = route.authorizer.as_deref().map(|a| format!("  [authorizer {a}]")).unwrap_or_default();
            let _ = writeln!(out, "  {:width$}  → {function}{auth}", route.key);
        }
    }
    for pool in stack.resources.iter().filter(|r| r.kind == "AWS::Cognito::UserPool") {
        let Some(id) = &pool.physical_id else { continue };
        let _ = writeln!(out, "\nuser pool {}: {id}", pool.logical_id);
        let _ = writeln!(out, "  JWKS: {endpoint}/{id}/.well-known/jwks.json");
        for client in stack.resources.iter().filter(|r| {
            r.kind == "AWS::Cognito::UserPoolClient"
                && r.attributes.get("UserPoolId").and_then(|v| v.as_str()) == Some(id)
        }) {
            let _ = writeln!(out, "  client {}: {}", client.logical_id, client.physical_id.as_deref().unwrap_or(""));
        }
    }
    let _ = writeln!(out, "\nmailbox: {endpoint}/_emulator/mailbox");
    if !stack.outputs.is_empty() {
        let _ = writeln!(out, "\noutputs (execute-api URLs as they answer here):");
        for o in &stack.outputs {
            let _ = writeln!(out, "  {} = {}", o.name, local::local_url(endpoint, &stack.apis, &o.value));
        }
    }
    if !stack.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &stack.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_come_from_the_template_directory() {
        assert_eq!(default_stack_name(Path::new("/work/chat/backend/template.yaml")), "backend");
        assert_eq!(default_stack_name(Path::new("/x/my_app.v2/template.yaml")), "my-app-v2");
        assert_eq!(default_stack_name(Path::new("/x/2024/template.yaml")), "stack-2024");
        assert_eq!(default_stack_name(Path::new("/template.yaml")), "stack");
    }

    #[test]
    fn parameter_overrides_in_both_forms() {
        let items = vec![
            "Stage=prod Alert=a@b.c".to_string(),
            "ParameterKey=Url,ParameterValue=https://x/?a=b".to_string(),
            "Empty=".to_string(),
        ];
        let got = parse_parameter_overrides(&items).unwrap();
        assert_eq!(got["Stage"], "prod");
        assert_eq!(got["Alert"], "a@b.c");
        assert_eq!(got["Url"], "https://x/?a=b");
        assert_eq!(got["Empty"], "");
        assert!(parse_parameter_overrides(&["novalue".to_string()]).is_err());
        assert!(parse_parameter_overrides(&["=x".to_string()]).is_err());
    }

    #[test]
    fn the_default_template_prefers_backend() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_template(dir.path()), dir.path().join("template.yaml"));
        std::fs::create_dir(dir.path().join("backend")).unwrap();
        std::fs::write(dir.path().join("backend").join("template.yaml"), "").unwrap();
        assert_eq!(default_template(dir.path()), dir.path().join("backend").join("template.yaml"));
    }
}
