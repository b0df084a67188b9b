//! The conformance scenarios, one module per service or flow. Each `scenario!` is a test that
//! runs against the target named by `CONFORMANCE_TARGET` (the in-process emulator by default).

mod support;

mod chat;
mod cognito;
mod dynamodb;
mod kms;
mod s3;
mod sns;
mod websocket;

/// The `aws` target creates real resources in a real account, so it must refuse to start unless
/// asked explicitly: run one scenario in a child process as `aws` without the opt-in.
#[test]
fn the_aws_target_refuses_to_run_without_the_opt_in() {
    let results = std::env::temp_dir().join(format!("conformance-optin-{}", std::process::id()));
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "s3::objects_and_ranges", "--nocapture", "--test-threads", "1"])
        .env("CONFORMANCE_TARGET", "aws")
        .env_remove("CONFORMANCE_ALLOW_AWS")
        .env("CONFORMANCE_RESULTS_DIR", &results)
        .output()
        .expect("the test binary runs");
    let _ = std::fs::remove_dir_all(&results);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the scenario ran against AWS without CONFORMANCE_ALLOW_AWS=1:\n{text}");
    assert!(text.contains("refusing to run against real AWS"), "{text}");
    assert!(text.contains("1 failed"), "exactly the one scenario ran and failed: {text}");
}
