//! Function configurations: stored in SQLite, described as Lambda's `FunctionConfiguration`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{AwsError, Result};
use crate::state::Emu;

/// What runs a function and how. Defaults are Lambda's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    pub name: String,
    /// The executable AWS would start as `bootstrap` (an `provided.*` runtime's entry point).
    pub binary: PathBuf,
    #[serde(default = "default_handler")]
    pub handler: String,
    #[serde(default = "default_runtime")]
    pub runtime: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub description: String,
    /// How many instances may run at once (AWS's reserved concurrency; unreserved accounts
    /// scale far higher, a laptop should not).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
}

fn default_handler() -> String {
    "bootstrap".into()
}
fn default_runtime() -> String {
    "provided.al2023".into()
}
fn default_timeout() -> u64 {
    3
}
fn default_memory() -> u64 {
    128
}
fn default_concurrency() -> usize {
    10
}

impl FunctionSpec {
    /// A function with Lambda's defaults running `binary`.
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> Self {
        FunctionSpec {
            name: name.into(),
            binary: binary.into(),
            handler: default_handler(),
            runtime: default_runtime(),
            timeout_secs: default_timeout(),
            memory_mb: default_memory(),
            environment: BTreeMap::new(),
            role: None,
            description: String::new(),
            max_concurrency: default_concurrency(),
        }
    }
}

pub fn arn(emu: &Emu, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{name}", emu.config.region, emu.config.account)
}

pub fn not_found(emu: &Emu, name: &str) -> AwsError {
    AwsError::new(
        http::StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {}", arn(emu, name)),
    )
}

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )))
    }
}

/// Stores a function; returns its configuration document. A relative executable path is
/// made absolute against the emulator's working directory (instances start elsewhere).
pub async fn save(emu: &Arc<Emu>, spec: &FunctionSpec) -> Result<Value> {
    check_name(&spec.name)?;
    let mut spec = spec.clone();
    if let Ok(abs) = std::path::absolute(&spec.binary) {
        spec.binary = abs;
    }
    let spec = &spec;
    if !(1..=900).contains(&spec.timeout_secs) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900",
            spec.timeout_secs
        )));
    }
    if !(128..=10240).contains(&spec.memory_mb) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
            spec.memory_mb
        )));
    }
    let code = tokio::fs::read(&spec.binary).await.map_err(|e| {
        AwsError::bad_request(
            "InvalidParameterValueException",
            format!("Cannot read the function's executable {}: {e}", spec.binary.display()),
        )
    })?;
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&code));
    let now = emu.clock.now().timestamp_millis() as f64 / 1000.0;
    sqlx::query(
        "INSERT INTO lambda_functions (name, definition, code_sha256, code_size, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, code_sha256 = excluded.code_sha256,
           code_size = excluded.code_size, updated_at = excluded.updated_at",
    )
    .bind(&spec.name)
    .bind(serde_json::to_string(spec).unwrap_or_default())
    .bind(&sha)
    .bind(code.len() as i64)
    .bind(now)
    .execute(&mut *emu.store.turn().await?)
    .await?;
    Ok(configuration(emu, spec, &sha, code.len() as i64, now))
}

pub async fn load(emu: &Emu, name: &str) -> Result<Option<FunctionSpec>> {
    Ok(load_row(emu, name).await?.map(|(spec, ..)| spec))
}

async fn load_row(emu: &Emu, name: &str) -> Result<Option<(FunctionSpec, String, i64, f64)>> {
    let row = sqlx::query("SELECT definition, code_sha256, code_size, updated_at FROM lambda_functions WHERE name = ?")
        .bind(name)
        .fetch_optional(emu.store.pool())
        .await?;
    Ok(row.and_then(|r| {
        let spec: FunctionSpec = serde_json::from_str(r.get::<&str, _>(0)).ok()?;
        Some((spec, r.get(1), r.get(2), r.get(3)))
    }))
}

/// Lambda's `FunctionConfiguration` document of a stored function.
pub async fn describe(emu: &Emu, name: &str) -> Result<Value> {
    let (spec, sha, size, updated) = load_row(emu, name).await?.ok_or_else(|| not_found(emu, name))?;
    Ok(configuration(emu, &spec, &sha, size, updated))
}

/// Every stored function's configuration, by name, starting after `marker`.
pub async fn list(emu: &Emu, marker: Option<&str>, max: i64) -> Result<(Vec<Value>, Option<String>)> {
    let rows = sqlx::query("SELECT name FROM lambda_functions WHERE name > ? ORDER BY name LIMIT ?")
        .bind(marker.unwrap_or(""))
        .bind(max + 1)
        .fetch_all(emu.store.pool())
        .await?;
    let mut names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let more = names.len() as i64 > max;
    names.truncate(max as usize);
    let mut out = Vec::with_capacity(names.len());
    for n in &names {
        out.push(describe(emu, n).await?);
    }
    Ok((out, more.then(|| names.last().cloned()).flatten()))
}

fn configuration(emu: &Emu, spec: &FunctionSpec, sha: &str, size: i64, updated: f64) -> Value {
    let modified = chrono::DateTime::from_timestamp_millis((updated * 1000.0) as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string();
    let role =
        spec.role.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:role/{}-role", emu.config.account, spec.name));
    let mut out = json!({
        "FunctionName": spec.name,
        "FunctionArn": arn(emu, &spec.name),
        "Runtime": spec.runtime,
        "Role": role,
        "Handler": spec.handler,
        "CodeSize": size,
        "Description": spec.description,
        "Timeout": spec.timeout_secs,
        "MemorySize": spec.memory_mb,
        "LastModified": modified,
        "CodeSha256": sha,
        "Version": "$LATEST",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [if cfg!(target_arch = "aarch64") { "arm64" } else { "x86_64" }],
        "EphemeralStorage": { "Size": 512 },
        "LoggingConfig": { "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", spec.name) },
    });
    if !spec.environment.is_empty() {
        out["Environment"] = json!({ "Variables": spec.environment });
    }
    out
}
