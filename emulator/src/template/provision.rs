//! Provisioning: a template's resources created in a running emulator, as CloudFormation would.
//!
//! [`provision`] walks the template's resources in dependency order, evaluates each one's
//! properties against what already exists, and creates it by calling the services' own
//! operation handlers in process — the same validation as over the wire, so a template the
//! emulator accepts is one AWS would accept too, and an error names the resource and the
//! operation that failed. What each resource type becomes is in `resources/` (one file per
//! service family); `AWS::Serverless::*` types are handled directly, without the SAM transform.
//!
//! ```text
//!  Template ──▶ for each resource (dependency order):
//!                 Condition false? → skipped        unknown type? → unsupported (warning)
//!                 evaluate properties (Ref/GetAtt of resources made so far)
//!                 recorded by an earlier run? → reuse it, update what is cheap to update
//!                 else create it through the service's handlers
//!                 record it (stack_resources) ──▶ its Ref and attributes for later resources
//!              then: API definitions saved (routes come from functions' events), Outputs
//! ```
//!
//! Provisioning is idempotent: every resource is recorded per stack in `stack_resources`
//! (physical id, attributes, the properties last applied), and a second run reuses what it
//! finds instead of creating another KMS key, another generated table name or another API id.
//! Changed properties are applied where the service offers a cheap way (function
//! configuration, API definitions, mappings, TTL, key policies); the rest are reported as
//! warnings, since they would need the resource replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::resources::{self, apigw::Apis};
use super::{Context, Evaluator, Pseudo, Template, TemplateError, deps};
use crate::error::AwsError;
use crate::services::apigw::ApiSpec;
use crate::state::Emu;

/// How to provision a template.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// `AWS::StackName`; also the key under which resources are recorded for later runs.
    pub stack_name: String,
    /// Parameter values overriding the template's defaults.
    pub parameters: BTreeMap<String, String>,
    /// Where functions' executables come from.
    pub functions: FunctionBinaries,
    /// The directory relative `CodeUri`s are resolved against (the template's directory).
    pub base_dir: PathBuf,
    /// Told what is happening, for a progress display.
    pub progress: Progress,
}

/// A step of provisioning, as reported to [`Progress`].
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent<'a> {
    /// `cargo build --release` of these binaries of the crate in `dir` starts.
    Building { dir: &'a Path, binaries: &'a [String] },
    /// That build ended.
    Built { dir: &'a Path, ok: bool },
    /// Resource `index` (from 1) of `total` is being provisioned.
    Resource { index: usize, total: usize, id: &'a str, kind: &'a str },
}

/// Where [`ProgressEvent`]s go; nowhere by default.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

type ProgressFn = dyn Fn(ProgressEvent<'_>) + Send + Sync;

impl Progress {
    pub fn new(f: impl Fn(ProgressEvent<'_>) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }

    pub fn report(&self, event: ProgressEvent<'_>) {
        if let Some(f) = &self.0 {
            f(event);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(reported)" } else { "Progress(none)" })
    }
}

impl ProvisionOptions {
    /// Options for stack `stack_name`: default parameters, functions built with cargo, paths
    /// relative to the current directory.
    pub fn new(stack_name: impl Into<String>) -> Self {
        ProvisionOptions {
            stack_name: stack_name.into(),
            parameters: BTreeMap::new(),
            functions: FunctionBinaries::Build,
            base_dir: PathBuf::from("."),
            progress: Progress::default(),
        }
    }
}

/// Where a function's executable (what AWS would start as `bootstrap`) comes from.
///
/// Whatever the choice, a function whose `CodeUri` is an executable file, or a directory
/// holding `bootstrap`, runs that when nothing else is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionBinaries {
    /// Functions with `Metadata: BuildMethod: rust-cargolambda` are built with
    /// `cargo build --release` in their `CodeUri` (once per crate and binary).
    Build,
    /// Executables by function logical id or by binary name (`Metadata.BuildProperties.Binary`).
    Map(BTreeMap<String, PathBuf>),
    /// A directory holding executables by binary name or logical id, as files or as
    /// `{name}/bootstrap` (the layout of `cargo lambda build`'s `target/lambda`).
    Dir(PathBuf),
}

/// What provisioning did with one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceStatus {
    /// Created by this run.
    Created,
    /// Recorded by an earlier run (or found under its explicit name) and reused.
    Existing,
    /// Its `Condition` is false.
    Skipped,
    /// A type the emulator does not provision.
    Unsupported,
}

impl ResourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Created => "created",
            ResourceStatus::Existing => "existing",
            ResourceStatus::Skipped => "skipped",
            ResourceStatus::Unsupported => "unsupported",
        }
    }
}

/// One resource of a provisioned stack.
#[derive(Debug, Clone)]
pub struct StackResource {
    pub logical_id: String,
    /// The resource type, e.g. `AWS::DynamoDB::Table`.
    pub kind: String,
    /// What `Ref` returns; `None` when skipped or unsupported.
    pub physical_id: Option<String>,
    pub status: ResourceStatus,
    /// `Fn::GetAtt` attributes (and `Ref`).
    pub attributes: Map<String, Value>,
}

/// An evaluated entry of the template's `Outputs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutput {
    pub name: String,
    pub value: String,
    pub description: Option<String>,
}

/// The outcome of provisioning a template.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    /// Every resource of the template (and those SAM adds: function event sources), in the
    /// order they were provisioned.
    pub resources: Vec<StackResource>,
    /// Outputs whose condition holds, in template order.
    pub outputs: Vec<StackOutput>,
    /// The API definitions the stack saved.
    pub apis: Vec<ApiSpec>,
    /// Everything provisioned differently from AWS, or not at all.
    pub warnings: Vec<String>,
}

impl Stack {
    pub fn resource(&self, logical_id: &str) -> Option<&StackResource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// The physical id (`Ref`) of a resource.
    pub fn physical_id(&self, logical_id: &str) -> Option<&str> {
        self.resource(logical_id)?.physical_id.as_deref()
    }

    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs.iter().find(|o| o.name == name).map(|o| o.value.as_str())
    }
}

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The template, its parameters or its conditions.
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// One resource could not be provisioned.
    #[error("{logical_id} ({kind}): {operation} failed: {message}")]
    Resource { logical_id: String, kind: String, operation: String, message: String },
    /// The stack's records could not be read or written.
    #[error("stack records: {0}")]
    Records(String),
}

impl From<sqlx::Error> for ProvisionError {
    fn from(e: sqlx::Error) -> Self {
        ProvisionError::Records(e.to_string())
    }
}

/// Creates (or, for a stack provisioned before, reuses and updates) every resource of
/// `template` in `emu`.
pub async fn provision(
    emu: &Arc<Emu>,
    template: &Template,
    options: &ProvisionOptions,
) -> Result<Stack, ProvisionError> {
    let pseudo = Pseudo::new(&emu.config.region, &emu.config.account, &options.stack_name);
    let eval = Evaluator::new(template, &options.parameters, pseudo)?;
    let mut p = Provisioner {
        emu: emu.clone(),
        template,
        eval,
        options,
        known: Known::default(),
        records: load_records(emu, &options.stack_name).await?,
        report: Vec::new(),
        warnings: Vec::new(),
        apis: Apis::default(),
        builds: HashMap::new(),
        absent: BTreeMap::new(),
    };
    resources::lambda::prebuild(&mut p).await;
    let total = template.resources.len();
    for (index, resource) in template.resources.iter().enumerate() {
        let id = &resource.logical_id;
        options.progress.report(ProgressEvent::Resource { index: index + 1, total, id, kind: &resource.kind });
        if !p.eval.include(resource)? {
            p.absent
                .insert(id.clone(), format!("its Condition {} is false", resource.condition.as_deref().unwrap_or("")));
            p.report.push(absent(id, &resource.kind, ResourceStatus::Skipped));
            continue;
        }
        if !resources::supported(&resource.kind) {
            p.warnings.push(format!("{id}: type {} is not supported by the emulator; not created", resource.kind));
            p.absent.insert(id.clone(), format!("its type {} is not supported by the emulator", resource.kind));
            p.report.push(absent(id, &resource.kind, ResourceStatus::Unsupported));
            continue;
        }
        let props = p.evaluate(id, &resource.kind, &resource.properties)?;
        let previous = p.take_record(id, &resource.kind);
        let step =
            Step { id: id.clone(), kind: resource.kind.clone(), props, previous, metadata: resource.metadata.clone() };
        let done = resources::provision(&mut p, &step).await?;
        p.finish(&step, done).await?;
    }
    resources::apigw::finish(&mut p).await?;
    let leftovers: Vec<(String, Record)> = std::mem::take(&mut p.records).into_iter().collect();
    for (id, record) in leftovers {
        p.warnings.push(format!(
            "{id} ({}, {}) was provisioned by an earlier run but is no longer part of the stack; it was left in place",
            record.kind, record.physical_id
        ));
        sqlx::query("DELETE FROM stack_resources WHERE stack_name = ? AND logical_id = ?")
            .bind(&options.stack_name)
            .bind(&id)
            .execute(&mut *emu.store.turn().await?)
            .await?;
    }
    let outputs = p.outputs()?;
    let apis = std::mem::take(&mut p.apis.saved);
    Ok(Stack { name: options.stack_name.clone(), resources: p.report, outputs, apis, warnings: p.warnings })
}

fn absent(id: &str, kind: &str, status: ResourceStatus) -> StackResource {
    StackResource { logical_id: id.into(), kind: kind.into(), physical_id: None, status, attributes: Map::new() }
}

/// The `Ref` and attributes of the resources provisioned so far, for the evaluator.
#[derive(Debug, Default)]
pub(super) struct Known(BTreeMap<String, Map<String, Value>>);

impl Known {
    pub(super) fn get(&self, id: &str, attr: &str) -> Option<&Value> {
        self.0.get(id)?.get(attr)
    }
}

impl Context for Known {
    fn resource_ref(&self, logical_id: &str) -> Option<Value> {
        self.get(logical_id, "Ref").cloned()
    }

    fn resource_attr(&self, logical_id: &str, attr: &str) -> Option<Value> {
        self.get(logical_id, attr).cloned()
    }
}

/// What an earlier run recorded for a resource.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub kind: String,
    pub physical_id: String,
    pub attributes: Map<String, Value>,
    /// The evaluated properties last applied.
    pub properties: Value,
}

/// One resource being provisioned: its evaluated properties and what an earlier run recorded.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub id: String,
    pub kind: String,
    pub props: Value,
    pub previous: Option<Record>,
    pub metadata: Value,
}

impl Step {
    /// The error for a failed operation on this resource.
    pub fn error(&self, operation: &str, message: impl Into<String>) -> ProvisionError {
        ProvisionError::Resource {
            logical_id: self.id.clone(),
            kind: self.kind.clone(),
            operation: operation.into(),
            message: message.into(),
        }
    }

    /// The error for a service operation that answered with an AWS error.
    pub fn aws(&self, operation: &str, e: &AwsError) -> ProvisionError {
        self.error(operation, format!("{}: {}", e.code, e.message))
    }

    /// A string attribute recorded by the earlier run.
    pub fn previous_attr(&self, name: &str) -> Option<&str> {
        self.previous.as_ref()?.attributes.get(name)?.as_str()
    }

    /// Top-level properties whose value differs from what the earlier run applied.
    pub fn changed(&self) -> Vec<String> {
        let Some(previous) = &self.previous else { return Vec::new() };
        let empty = Map::new();
        let old = previous.properties.as_object().unwrap_or(&empty);
        let new = self.props.as_object().unwrap_or(&empty);
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        names.into_iter().filter(|k| old.get(*k) != new.get(*k)).cloned().collect()
    }
}

/// What provisioning one resource produced.
#[derive(Debug, Clone)]
pub(super) struct Done {
    pub physical_id: String,
    pub attributes: Map<String, Value>,
    /// Reused rather than created.
    pub existing: bool,
}

impl Done {
    /// A resource whose `Ref` is `physical_id`.
    pub fn new(physical_id: impl Into<String>, existing: bool) -> Self {
        let physical_id = physical_id.into();
        let mut attributes = Map::new();
        attributes.insert("Ref".into(), Value::String(physical_id.clone()));
        Done { physical_id, attributes, existing }
    }

    pub fn attr(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// The state of one provisioning run.
pub(super) struct Provisioner<'t> {
    pub emu: Arc<Emu>,
    pub template: &'t Template,
    pub eval: Evaluator<'t>,
    pub options: &'t ProvisionOptions,
    pub known: Known,
    records: BTreeMap<String, Record>,
    pub report: Vec<StackResource>,
    pub warnings: Vec<String>,
    pub apis: Apis,
    /// Executables built so far, by (crate directory, binary).
    pub builds: HashMap<(PathBuf, Option<String>), PathBuf>,
    /// Resources that were not created, and why.
    absent: BTreeMap<String, String>,
}

impl Provisioner<'_> {
    pub fn stack(&self) -> &str {
        &self.options.stack_name
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Evaluates a value of resource `id`; an error names the resource, and a reference to a
    /// resource that was not created says why it was not.
    pub fn evaluate(&self, id: &str, kind: &str, value: &Value) -> Result<Value, ProvisionError> {
        self.eval.eval(value, &self.known).map_err(|e| {
            let names: BTreeSet<&str> = self.template.resources.iter().map(|r| r.logical_id.as_str()).collect();
            let parameters: BTreeSet<&str> = self.template.parameters.iter().map(|p| p.name.as_str()).collect();
            let mut refs = deps::Refs::default();
            deps::scan(value, &deps::Names { resources: &names, parameters: &parameters }, &mut refs);
            let message = match refs.resources.iter().find_map(|r| self.absent.get(r).map(|why| (r, why))) {
                Some((other, why)) => format!("it refers to {other}, which was not created: {why}"),
                None => e.to_string(),
            };
            ProvisionError::Resource {
                logical_id: id.into(),
                kind: kind.into(),
                operation: "evaluating its properties".into(),
                message,
            }
        })
    }

    /// The earlier run's record of `id`, if it was of the same type.
    pub fn take_record(&mut self, id: &str, kind: &str) -> Option<Record> {
        let record = self.records.remove(id)?;
        if record.kind == kind {
            return Some(record);
        }
        self.warnings.push(format!(
            "{id}: was a {} ({}) in an earlier run and is now a {kind}; the old resource was left in place",
            record.kind, record.physical_id
        ));
        None
    }

    /// Records a provisioned resource, makes its `Ref` and attributes available, reports it.
    pub async fn finish(&mut self, step: &Step, done: Done) -> Result<(), ProvisionError> {
        if let Some(previous) = &step.previous
            && previous.physical_id != done.physical_id
        {
            self.warnings.push(format!(
                "{}: now {}; {} of an earlier run is no longer used by the stack (left in place if it still exists)",
                step.id, done.physical_id, previous.physical_id
            ));
        }
        let properties = step.props.to_string();
        let hash = hex::encode(Sha256::digest(properties.as_bytes()));
        sqlx::query(
            "INSERT INTO stack_resources (stack_name, logical_id, type, physical_id, attributes, properties, properties_hash, updated_at, seq)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM stack_resources WHERE stack_name = ?))
             ON CONFLICT (stack_name, logical_id) DO UPDATE SET type = excluded.type, physical_id = excluded.physical_id,
               attributes = excluded.attributes, properties = excluded.properties,
               properties_hash = excluded.properties_hash, updated_at = excluded.updated_at",
        )
        .bind(self.stack())
        .bind(&step.id)
        .bind(&step.kind)
        .bind(&done.physical_id)
        .bind(Value::Object(done.attributes.clone()).to_string())
        .bind(&properties)
        .bind(&hash)
        .bind(self.emu.clock.now().timestamp_millis() as f64 / 1000.0)
        .bind(self.stack())
        .execute(&mut *self.emu.store.turn().await?)
        .await?;
        self.known.0.insert(step.id.clone(), done.attributes.clone());
        self.report.push(StackResource {
            logical_id: step.id.clone(),
            kind: step.kind.clone(),
            physical_id: Some(done.physical_id),
            status: if done.existing { ResourceStatus::Existing } else { ResourceStatus::Created },
            attributes: done.attributes,
        });
        Ok(())
    }

    /// The template's outputs whose condition holds. An output that cannot be evaluated (it
    /// names a resource that was not created) is left out with a warning.
    fn outputs(&mut self) -> Result<Vec<StackOutput>, ProvisionError> {
        let mut out = Vec::new();
        for output in &self.template.outputs {
            if !self.eval.include_output(output)? {
                continue;
            }
            match self.evaluate(&output.name, "Output", &output.value) {
                Ok(value) => out.push(StackOutput {
                    name: output.name.clone(),
                    value: output_text(&value),
                    description: output.description.clone(),
                }),
                Err(e) => self.warnings.push(format!("output {} left out: {e}", output.name)),
            }
        }
        Ok(out)
    }
}

/// An output's value as text: strings as they are, lists joined by commas (as CloudFormation
/// shows them), anything else as JSON.
fn output_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(output_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn load_records(emu: &Emu, stack: &str) -> Result<BTreeMap<String, Record>, ProvisionError> {
    let rows = sqlx::query(
        "SELECT logical_id, type, physical_id, attributes, properties FROM stack_resources WHERE stack_name = ? ORDER BY seq",
    )
    .bind(stack)
    .fetch_all(emu.store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let attributes = match serde_json::from_str(r.get::<&str, _>(3)) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            let record = Record {
                kind: r.get(1),
                physical_id: r.get(2),
                attributes,
                properties: serde_json::from_str(r.get::<&str, _>(4)).unwrap_or(Value::Null),
            };
            (r.get(0), record)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outputs_are_text() {
        assert_eq!(output_text(&json!("a")), "a");
        assert_eq!(output_text(&json!(["a", "b"])), "a,b");
        assert_eq!(output_text(&json!(3)), "3");
        assert_eq!(output_text(&json!(true)), "true");
    }

    #[test]
    fn changed_members_compare_with_the_earlier_run() {
        let step = Step {
            id: "T".into(),
            kind: "AWS::DynamoDB::Table".into(),
            props: json!({"A": 1, "B": [1], "C": "x"}),
            previous: Some(Record {
                kind: "AWS::DynamoDB::Table".into(),
                physical_id: "t".into(),
                attributes: Map::new(),
                properties: json!({"A": 1, "B": [2], "D": true}),
            }),
            metadata: Value::Null,
        };
        assert_eq!(step.changed(), ["B", "C", "D"]);
    }
}
