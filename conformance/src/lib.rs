//! Conformance scenarios: the same calls, through the AWS SDK for Rust, against any target
//! (the emulator in-process, moto, LocalStack, real AWS), with responses normalised and compared
//! by snapshot so that a behavioural difference between targets is a failing diff.
//!
//! - [`target`]: which target a run talks to ([`Target::from_env`]) and what each one offers
//!   ([`Target::supports`]).
//! - [`Run`]: what a scenario gets — SDK clients for the target, run-unique names, and the
//!   transcript it writes step by step.
//! - [`normalize`]: stable placeholders for ids, ARNs, timestamps, tokens and ciphertexts.
//! - [`harness`]: the [`scenario!`] macro's runtime — support check, execution, clean-up,
//!   snapshot comparison, and one result line per scenario for the report.
//! - [`journal`]: what the clients sent and received, as an emulator journal a replay pairs
//!   with the emulator's answers (`CONFORMANCE_RECORD_DIR`).
//! - [`results`]: the result lines and the `conformance-report.md` built from them.

pub mod harness;
pub mod http_sink;
pub mod journal;
pub mod normalize;
pub mod results;
pub mod run;
pub mod target;

pub use normalize::Normalizer;
pub use run::{Cleanup, Run};
pub use target::{Service, Target};

/// Scenario bodies return this: `?` on any error aborts the scenario, which is then compared
/// (and fails) with the steps recorded so far.
pub type Result<T> = anyhow::Result<T>;

/// Declares one scenario as a `#[test]`:
///
/// ```ignore
/// scenario!(objects_and_ranges, [S3], |run| {
///     let s3 = run.s3();
///     // … calls recorded with run.ok / run.err / run.note …
/// });
/// ```
///
/// The services listed are checked against the target first: an unsupported one makes the
/// scenario SKIPPED with the target's reason. The transcript is normalised and compared with
/// `tests/snapshots/{module}__{name}.snap`, shared by every target.
#[macro_export]
macro_rules! scenario {
    ($(#[$meta:meta])* $name:ident, [$($svc:ident),* $(,)?], |$run:ident| $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            async fn __scenario_body($run: &mut $crate::Run) -> $crate::Result<()> {
                $body
                #[allow(unreachable_code)]
                Ok(())
            }
            $crate::harness::execute(
                module_path!(),
                stringify!($name),
                &[$($crate::Service::$svc),*],
                |run| Box::pin(__scenario_body(run)),
            );
        }
    };
}
