//! Resources that only need ids here: IAM roles and policies (IAM is not emulated: every
//! principal may do everything its key policy lets it), Lambda permissions (any service may
//! invoke any function) and API Gateway deployments (APIs serve their latest definition).
//!
//! Their `Ref` and attributes are synthesised in AWS's shapes, e.g. a role's `Arn` is
//! `arn:aws:iam::{account}:role/{name}`, so that templates referring to them evaluate.

use super::{LOWER_ALNUM, UPPER_ALNUM, text};
use crate::template::provision::{Done, Provisioner, Step};

/// Whether resources of this type are only recorded.
pub(super) fn recorded(kind: &str) -> bool {
    matches!(
        kind,
        "AWS::IAM::Role"
            | "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::IAM::InstanceProfile"
            | "AWS::Lambda::Permission"
            | "AWS::ApiGatewayV2::Deployment"
    )
}

pub(super) fn record(p: &mut Provisioner<'_>, step: &Step) -> Done {
    if let Some(previous) = &step.previous {
        // Nothing to apply; the ids stay those of the earlier run.
        let mut done = Done::new(&previous.physical_id, true);
        done.attributes = previous.attributes.clone();
        if step.changed().iter().all(|m| !name_member(&step.kind).contains(&m.as_str())) {
            return done;
        }
    }
    let account = &p.emu.config.account;
    match step.kind.as_str() {
        "AWS::IAM::Role" => {
            let name = p.name(step, "RoleName", step.previous_attr("Ref"), 64, false);
            let path = text(&step.props["Path"]).unwrap_or_else(|| "/".into());
            let id = format!("AROA{}", p.emu.rng.string_from(UPPER_ALNUM, 17));
            Done::new(&name, false).attr("Arn", format!("arn:aws:iam::{account}:role{path}{name}")).attr("RoleId", id)
        }
        "AWS::IAM::ManagedPolicy" => {
            let name = p.name(step, "ManagedPolicyName", step.previous_attr("PolicyName"), 128, false);
            let path = text(&step.props["Path"]).unwrap_or_else(|| "/".into());
            let arn = format!("arn:aws:iam::{account}:policy{path}{name}");
            Done::new(&arn, false).attr("PolicyArn", arn.as_str()).attr("PolicyName", name)
        }
        "AWS::IAM::InstanceProfile" => {
            let name = p.name(step, "InstanceProfileName", step.previous_attr("Ref"), 128, false);
            let path = text(&step.props["Path"]).unwrap_or_else(|| "/".into());
            Done::new(&name, false).attr("Arn", format!("arn:aws:iam::{account}:instance-profile{path}{name}"))
        }
        "AWS::ApiGatewayV2::Deployment" => {
            let id = p.emu.rng.string_from(LOWER_ALNUM, 6);
            Done::new(&id, false).attr("DeploymentId", id.as_str())
        }
        // IAM::Policy and Lambda::Permission: an opaque generated id.
        _ => Done::new(p.generated_name(&step.id, 128, false), false),
    }
}

/// The property naming a resource of this type: changing it gives the resource a new name.
fn name_member(kind: &str) -> &'static [&'static str] {
    match kind {
        "AWS::IAM::Role" => &["RoleName", "Path"],
        "AWS::IAM::ManagedPolicy" => &["ManagedPolicyName", "Path"],
        "AWS::IAM::InstanceProfile" => &["InstanceProfileName", "Path"],
        _ => &[],
    }
}
