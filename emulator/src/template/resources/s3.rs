//! S3 buckets: `AWS::S3::Bucket` → CreateBucket.
//!
//! `Ref` is the bucket name (`BucketName`, or a generated lowercase one); `Fn::GetAtt` gives
//! `Arn`, `DomainName`, `RegionalDomainName`, `DualStackDomainName` and `WebsiteURL` in AWS's
//! form. The emulated S3 has no per-bucket configuration (default encryption, CORS rules,
//! versioning, lifecycle, notifications…): such properties are reported as warnings.

use http::Method;

use crate::template::provision::{Done, ProvisionError, Provisioner, Step};

/// Properties with a reason why they do not matter here.
const EXPLAINED: &[(&str, &str)] = &[
    ("BucketEncryption", "bucket default encryption is not emulated (objects are encrypted at rest regardless)"),
    ("CorsConfiguration", "bucket CORS rules are not emulated (the emulator answers CORS requests from any origin)"),
];

/// Properties that are only names or labels.
const HARMLESS: &[&str] = &["BucketName", "Tags"];

pub(super) async fn bucket(p: &mut Provisioner<'_>, step: &Step) -> Result<Done, ProvisionError> {
    for (member, why) in EXPLAINED {
        p.ignored(step, &[member], why);
    }
    let others: Vec<&str> = step
        .props
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .map(String::as_str)
        .filter(|k| !HARMLESS.contains(k) && !EXPLAINED.iter().any(|(e, _)| e == k))
        .collect();
    p.ignored(step, &others, "bucket configuration is not emulated");

    let name = p.name(step, "BucketName", step.previous.as_ref().map(|r| r.physical_id.as_str()), 63, true);
    let mut existing = p.call_s3(Method::HEAD, &format!("/{name}"), Vec::new()).await.is_ok();
    if !existing {
        let region = &p.emu.config.region;
        let body = if region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            )
            .into_bytes()
        };
        match p.call_s3(Method::PUT, &format!("/{name}"), body).await {
            Ok(()) => {}
            Err(e) if e.code == "BucketAlreadyOwnedByYou" => existing = true,
            Err(e) => return Err(step.aws("CreateBucket", &e)),
        }
    }
    let region = &p.emu.config.region;
    Ok(Done::new(&name, existing)
        .attr("Arn", format!("arn:aws:s3:::{name}"))
        .attr("DomainName", format!("{name}.s3.amazonaws.com"))
        .attr("RegionalDomainName", format!("{name}.s3.{region}.amazonaws.com"))
        .attr("DualStackDomainName", format!("{name}.s3.dualstack.{region}.amazonaws.com"))
        .attr("WebsiteURL", format!("http://{name}.s3-website-{region}.amazonaws.com")))
}
