//! Lambda: `AWS::Serverless::Function` and `AWS::Lambda::Function` → a registered
//! [`FunctionSpec`], the events of SAM functions, and `AWS::Lambda::EventSourceMapping`.
//!
//! A function's `Ref` is its name (`FunctionName`, or `{stack}-{LogicalId}-{RANDOM}`);
//! `Fn::GetAtt` gives `Arn`. Its executable comes from [`FunctionBinaries`]: built with cargo
//! for `rust-cargolambda` functions, else looked up by logical id or binary name, else the
//! `CodeUri` itself when that is an executable (or a directory holding `bootstrap`).
//! Registering is cheap, so every run registers the function afresh with the template's
//! configuration.
//!
//! SAM events become what SAM would make of them: `DynamoDB` an event source mapping
//! (`{Function}{Event}`), `SNS` a `lambda` subscription (`{Function}{Event}`), `Cognito` the
//! pool's trigger, `HttpApi` / `Api` a route of their API. Other event types are reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{apigw, boolean, build, cognito, number, sns, text};
use crate::services::apigw::ApiProtocol;
use crate::services::lambda::{self, FunctionSpec, functions, mappings};
use crate::template::provision::{Done, FunctionBinaries, ProgressEvent, ProvisionError, Provisioner, Step};
use crate::template::sam;

pub(super) async fn function(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let props = &step.props;
    let sam = step.kind == "AWS::Serverless::Function";
    let name = p.name(step, "FunctionName", step.previous.as_ref().map(|r| r.physical_id.as_str()), 64, false);
    p.ignored(step, &["Layers"], "layers are not emulated (the executable must be self-contained)");
    let binary = executable(p, step).await?;

    let mut spec = FunctionSpec::new(&name, binary);
    if let Some(handler) = text(&props["Handler"]) {
        spec.handler = handler;
    }
    if let Some(runtime) = text(&props["Runtime"]) {
        spec.runtime = runtime;
    }
    if let Some(timeout) = number(&props["Timeout"]) {
        spec.timeout_secs = timeout.max(0) as u64;
    }
    if let Some(memory) = number(&props["MemorySize"]) {
        spec.memory_mb = memory.max(0) as u64;
    }
    if let Some(description) = text(&props["Description"]) {
        spec.description = description;
    }
    if let Some(variables) = props["Environment"]["Variables"].as_object() {
        spec.environment = variables.iter().filter_map(|(k, v)| Some((k.clone(), text(v)?))).collect();
    }
    spec.role = text(&props["Role"]).or_else(|| {
        let role = sam::implicit_role(&step.id);
        p.known.get(&role, "Arn").and_then(Value::as_str).map(str::to_string)
    });
    if let Some(reserved) = number(&props["ReservedConcurrentExecutions"]) {
        if reserved < 1 {
            p.warn(format!(
                "{}: ReservedConcurrentExecutions {reserved} would throttle every call; 1 is used",
                step.id
            ));
        }
        spec.max_concurrency = reserved.max(1) as usize;
    }
    let existed = step.previous.is_some() && functions::load(&p.emu, &name).await.ok().flatten().is_some();
    lambda::register(&p.emu, spec).await.map_err(|e| step.aws("registering the function", &e))?;
    let arn = functions::arn(&p.emu, &name);
    if sam {
        events(p, step, &name, &arn).await?;
    }
    Ok(Done::new(&name, existed).attr("Arn", arn))
}

/// The events of a SAM function.
async fn events(p: &mut Provisioner<'_>, step: &Step, name: &str, arn: &str) -> Result<(), ProvisionError> {
    let Some(events) = step.props["Events"].as_object().cloned() else { return Ok(()) };
    for (event, body) in &events {
        let properties = &body["Properties"];
        match body["Type"].as_str().unwrap_or_default() {
            "HttpApi" => apigw::sam_route(p, step, event, properties, ApiProtocol::Http, name)?,
            "Api" => apigw::sam_route(p, step, event, properties, ApiProtocol::Rest, name)?,
            "DynamoDB" => {
                let mut input = json!({"FunctionName": name, "EventSourceArn": properties["Stream"]});
                for member in [
                    "StartingPosition",
                    "BatchSize",
                    "MaximumRetryAttempts",
                    "BisectBatchOnFunctionError",
                    "FunctionResponseTypes",
                    "Enabled",
                    "MaximumBatchingWindowInSeconds",
                ] {
                    if !properties[member].is_null() {
                        input[member] = properties[member].clone();
                    }
                }
                let sub = sub_step(p, step, event, "AWS::Lambda::EventSourceMapping", input);
                let done = mapping(p, &sub).await?;
                p.finish(&sub, done).await?;
            }
            "SNS" => {
                let mut input = json!({"TopicArn": properties["Topic"], "Protocol": "lambda", "Endpoint": arn});
                for member in ["FilterPolicy", "FilterPolicyScope"] {
                    if !properties[member].is_null() {
                        input[member] = properties[member].clone();
                    }
                }
                let sub = sub_step(p, step, event, "AWS::SNS::Subscription", input);
                let done = sns::subscription(p, &sub).await?;
                p.finish(&sub, done).await?;
            }
            "Cognito" => cognito::trigger_event(p, step, event, properties, arn).await?,
            other => p.warn(format!("{}: event {event} of type {other} is not emulated; ignored", step.id)),
        }
    }
    Ok(())
}

/// The resource SAM generates for a function's event, named `{Function}{Event}`.
fn sub_step(p: &mut Provisioner<'_>, function: &Step, event: &str, kind: &str, props: Value) -> Step {
    let id = format!("{}{event}", function.id);
    let previous = p.take_record(&id, kind);
    Step { id, kind: kind.into(), props, previous, metadata: Value::Null }
}

/// `AWS::Lambda::EventSourceMapping` (and a SAM function's `DynamoDB` event): CreateEventSourceMapping,
/// or, for a mapping an earlier run made, UpdateEventSourceMapping with the template's settings.
pub(super) async fn mapping(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    let ctx = p.ctx();
    let input = &step.props;
    let source = text(&input["EventSourceArn"]).unwrap_or_default();
    let function = text(&input["FunctionName"]).unwrap_or_default();
    // Settings UpdateEventSourceMapping accepts.
    let mut update = Map::new();
    for member in [
        "FunctionName",
        "BatchSize",
        "MaximumRetryAttempts",
        "BisectBatchOnFunctionError",
        "FunctionResponseTypes",
        "Enabled",
        "MaximumBatchingWindowInSeconds",
    ] {
        let value = match member {
            "BatchSize" | "MaximumRetryAttempts" | "MaximumBatchingWindowInSeconds" => {
                number(&input[member]).map(Value::from)
            }
            "BisectBatchOnFunctionError" | "Enabled" => boolean(&input[member]).map(Value::from),
            _ => (!input[member].is_null()).then(|| input[member].clone()),
        };
        if let Some(v) = value {
            update.insert(member.into(), v);
        }
    }
    let update = Value::Object(update);

    let mut reuse = None;
    if let Some(previous) = &step.previous
        && let Ok(current) = mappings::get(&ctx, &previous.physical_id).await
    {
        if current["EventSourceArn"].as_str() == Some(source.as_str()) {
            reuse = Some(previous.physical_id.clone());
        } else {
            // The stream changed (a new table): the old mapping goes.
            let _ = mappings::delete(&ctx, &previous.physical_id).await;
        }
    }
    let (uuid, existing) = match reuse {
        Some(uuid) => (uuid, true),
        None => {
            let mut create = update.clone();
            create["EventSourceArn"] = source.clone().into();
            if let Some(position) = text(&input["StartingPosition"]) {
                create["StartingPosition"] = position.into();
            }
            match mappings::create(&ctx, create.to_string().as_bytes()).await {
                Ok(out) => (out["UUID"].as_str().unwrap_or_default().to_string(), false),
                Err(e) if e.code == "ResourceConflictException" => {
                    // The same function and stream, mapped outside this stack: adopted.
                    let listed = mappings::list(&ctx, Some(&source), Some(&function), None, 100)
                        .await
                        .map_err(|e| step.aws("ListEventSourceMappings", &e))?;
                    let uuid = listed["EventSourceMappings"][0]["UUID"].as_str().unwrap_or_default().to_string();
                    (uuid, true)
                }
                Err(e) => return Err(step.aws("CreateEventSourceMapping", &e)),
            }
        }
    };
    if existing {
        mappings::update(&ctx, &uuid, update.to_string().as_bytes())
            .await
            .map_err(|e| step.aws("UpdateEventSourceMapping", &e))?;
    }
    let arn = format!("arn:aws:lambda:{}:{}:event-source-mapping:{uuid}", p.emu.config.region, p.emu.config.account);
    Ok(Done::new(&uuid, existing).attr("Id", uuid.as_str()).attr("EventSourceMappingArn", arn))
}

/// Builds, before anything is provisioned, every named binary of every `rust-cargolambda`
/// function: one cargo run per crate. Failures are left for [`executable`] to report against
/// the function (it builds that one alone).
pub(crate) async fn prebuild(p: &mut Provisioner<'_>) {
    if !matches!(p.options.functions, FunctionBinaries::Build) {
        return;
    }
    let mut by_crate: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for r in &p.template.resources {
        let is_function = matches!(r.kind.as_str(), "AWS::Serverless::Function" | "AWS::Lambda::Function");
        let cargo_lambda =
            r.metadata["BuildMethod"].as_str().is_some_and(|m| m.eq_ignore_ascii_case("rust-cargolambda"));
        let (Some(binary), Some(uri)) =
            (r.metadata["BuildProperties"]["Binary"].as_str(), r.properties["CodeUri"].as_str())
        else {
            continue;
        };
        if is_function && cargo_lambda {
            let dir = p.options.base_dir.join(uri).components().collect::<PathBuf>();
            let dir = dir.canonicalize().unwrap_or(dir);
            let list = by_crate.entry(dir).or_default();
            if !list.iter().any(|b| b == binary) {
                list.push(binary.to_string());
            }
        }
    }
    for (dir, binaries) in by_crate {
        tracing::info!(dir = %dir.display(), binaries = %binaries.join(" "), "cargo build --release");
        p.options.progress.report(ProgressEvent::Building { dir: &dir, binaries: &binaries });
        let built = build::cargo_build_all(&dir, &binaries).await;
        p.options.progress.report(ProgressEvent::Built { dir: &dir, ok: built.is_ok() });
        if let Ok(paths) = built {
            for (b, path) in binaries.into_iter().zip(paths) {
                p.builds.insert((dir.clone(), Some(b)), path);
            }
        }
    }
}

/// Where a function's executable comes from (see [`FunctionBinaries`]).
async fn executable(p: &mut Provisioner<'_>, step: &Step) -> Result<PathBuf, ProvisionError> {
    let build_method = step.metadata["BuildMethod"].as_str().unwrap_or_default();
    let cargo_lambda = build_method.eq_ignore_ascii_case("rust-cargolambda");
    let binary = step.metadata["BuildProperties"]["Binary"].as_str().map(str::to_string);
    let code_uri =
        text(&step.props["CodeUri"]).map(|uri| p.options.base_dir.join(uri).components().collect::<PathBuf>());
    let mut names = vec![step.id.clone()];
    names.extend(binary.clone());
    if let Some(handler) = text(&step.props["Handler"]).filter(|h| h != "bootstrap" && !h.contains('.')) {
        names.push(handler);
    }

    match &p.options.functions {
        FunctionBinaries::Build if cargo_lambda => {
            let Some(dir) = code_uri else {
                return Err(step.error("cargo build", "a rust-cargolambda function needs a CodeUri directory"));
            };
            let key = (dir.canonicalize().unwrap_or_else(|_| dir.clone()), binary.clone());
            if let Some(built) = p.builds.get(&key) {
                return Ok(built.clone());
            }
            tracing::info!(function = %step.id, dir = %dir.display(), binary = binary.as_deref().unwrap_or("(the crate's)"), "cargo build --release");
            let binaries: Vec<String> = binary.iter().cloned().collect();
            p.options.progress.report(ProgressEvent::Building { dir: &dir, binaries: &binaries });
            let built = build::cargo_build(&dir, binary.as_deref()).await;
            p.options.progress.report(ProgressEvent::Built { dir: &dir, ok: built.is_ok() });
            let built = built.map_err(|e| step.error("cargo build", e))?;
            p.builds.insert(key, built.clone());
            Ok(built)
        }
        FunctionBinaries::Build => from_code_uri(code_uri.as_deref()).ok_or_else(|| {
            step.error(
                "finding the executable",
                "it is not a rust-cargolambda function and its CodeUri is neither an executable nor a directory holding bootstrap; \
                 give executables with --skip-build --functions-dir",
            )
        }),
        FunctionBinaries::Map(map) => lookup_map(map, &names).or_else(|| from_code_uri(code_uri.as_deref())).ok_or_else(|| {
            step.error("finding the executable", format!("no executable given for any of {}", names.join(", ")))
        }),
        FunctionBinaries::Dir(dir) => lookup_dir(dir, &names).or_else(|| from_code_uri(code_uri.as_deref())).ok_or_else(|| {
            step.error(
                "finding the executable",
                format!("{} holds no executable named {} (nor NAME/bootstrap)", dir.display(), names.join(" or ")),
            )
        }),
    }
}

fn lookup_map(map: &BTreeMap<String, PathBuf>, names: &[String]) -> Option<PathBuf> {
    names.iter().find_map(|n| map.get(n).cloned())
}

fn lookup_dir(dir: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().flat_map(|n| [dir.join(n), dir.join(n).join("bootstrap")]).find(|path| path.is_file())
}

/// A `CodeUri` that is itself the executable, or a directory holding `bootstrap`.
fn from_code_uri(code_uri: Option<&Path>) -> Option<PathBuf> {
    let uri = code_uri?;
    if uri.is_file() {
        return Some(uri.to_path_buf());
    }
    let bootstrap = uri.join("bootstrap");
    bootstrap.is_file().then_some(bootstrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_found_by_logical_id_or_binary_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("send"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("connect")).unwrap();
        std::fs::write(dir.path().join("connect").join("bootstrap"), b"x").unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(lookup_dir(dir.path(), &names(&["SendFunction", "send"])), Some(dir.path().join("send")));
        assert_eq!(
            lookup_dir(dir.path(), &names(&["ConnectFunction", "connect"])),
            Some(dir.path().join("connect").join("bootstrap"))
        );
        assert_eq!(lookup_dir(dir.path(), &names(&["Other"])), None);
        let map = BTreeMap::from([("SendFunction".to_string(), PathBuf::from("/bin/send"))]);
        assert_eq!(lookup_map(&map, &names(&["SendFunction", "send"])), Some(PathBuf::from("/bin/send")));
        assert_eq!(
            from_code_uri(Some(&dir.path().join("connect"))),
            Some(dir.path().join("connect").join("bootstrap"))
        );
        assert_eq!(from_code_uri(Some(dir.path())), None);
    }
}
