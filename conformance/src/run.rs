//! What a scenario works with: clients for the target, names unique to this run, and the
//! transcript of its steps.

use std::fmt::Debug;

use aws_config::SdkConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{Value, json};

use crate::target::Target;

/// A client of `$sdk` for the run's target: the shared configuration, `$tune`d, with the
/// run's journal recorder when there is one.
macro_rules! client {
    ($run:expr, $sdk:ident, |$b:ident| $tune:expr) => {{
        let $b = $sdk::config::Builder::from(&$run.sdk);
        let mut builder = $tune;
        if let Some(recorder) = &$run.recorder {
            builder = builder.interceptor(recorder.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

/// A resource to delete when the scenario ends, whatever its outcome.
#[derive(Debug, Clone)]
pub enum Cleanup {
    /// A bucket: its objects first, then the bucket.
    Bucket(String),
    /// A KMS key: scheduled for deletion after the minimum 7 days.
    Key(String),
    Topic(String),
    Table(String),
    UserPool(String),
}

/// A peer's known deviation from AWS in one scenario.
#[derive(Debug, Clone)]
pub struct KnownBug {
    pub target: Target,
    /// What AWS does instead.
    pub reason: String,
    /// The steps (their `op` names) where the deviation shows; `None`: anywhere.
    pub steps: Option<Vec<String>>,
}

impl KnownBug {
    /// Limits the mark to these steps: a difference in another step is a failure.
    pub fn in_steps(&mut self, ops: &[&str]) -> &mut KnownBug {
        self.steps = Some(ops.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Whether the mark covers a difference in the steps `differing`.
    pub fn covers(&self, differing: &[String]) -> bool {
        match &self.steps {
            None => true,
            Some(steps) => differing.iter().all(|d| steps.contains(d)),
        }
    }
}

pub struct Run {
    pub target: Target,
    /// The region the clients sign for.
    pub region: String,
    /// Prefix of every name this scenario creates: unique to the run, so scenarios running
    /// side by side (and leftovers of earlier runs) never meet.
    pub prefix: String,
    /// The target's endpoint (`None` for real AWS).
    pub endpoint: Option<String>,
    pub(crate) sdk: SdkConfig,
    pub(crate) steps: Vec<Value>,
    pub(crate) known_bugs: Vec<KnownBug>,
    pub(crate) cleanups: Vec<Cleanup>,
    /// Journals every call of this scenario's clients (`CONFORMANCE_RECORD_DIR`).
    pub(crate) recorder: Option<crate::journal::Recorder>,
}

/// Error code and HTTP status of an SDK error, as recorded in transcripts.
pub fn error_json<E: ProvideErrorMetadata + Debug>(e: &SdkError<E, HttpResponse>) -> Value {
    match e {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => json!({
            "code": e.code().unwrap_or("<none>"),
            "status": e.raw_response().map(|r| r.status().as_u16()),
        }),
        other => json!({ "code": "<no response>", "detail": format!("{other:?}") }),
    }
}

impl Run {
    pub(crate) fn new(target: Target, region: String, endpoint: Option<String>, sdk: SdkConfig) -> Run {
        let prefix = format!("cf-{:08x}-", rand::random::<u32>());
        Run {
            target,
            region,
            prefix,
            endpoint,
            sdk,
            steps: Vec::new(),
            known_bugs: Vec::new(),
            cleanups: Vec::new(),
            recorder: None,
        }
    }

    /// `{prefix}{name}`: a name for something this scenario creates.
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Declares that this scenario fails on `target` because the target is wrong (not the
    /// emulator): a difference there is reported as a known peer bug with `reason`, and does not
    /// fail the test. The scenario still runs in full. Name the steps the bug shows in with
    /// [`KnownBug::in_steps`], so that a difference in any other step still fails.
    pub fn known_peer_bug(&mut self, target: Target, reason: &str) -> &mut KnownBug {
        self.known_bugs.push(KnownBug { target, reason: reason.to_string(), steps: None });
        self.known_bugs.last_mut().expect("just pushed")
    }

    /// Deletes `what` when the scenario ends, even on failure.
    pub fn cleanup(&mut self, what: Cleanup) {
        self.cleanups.push(what);
    }

    /// Records a step that is not an SDK call (an HTTP request, a WebSocket frame, a check).
    pub fn note(&mut self, op: &str, out: Value) {
        self.steps.push(json!({ "op": op, "out": out }));
    }

    /// Records the outcome of a call expected to succeed: `show` picks what of its output
    /// belongs in the transcript. An error is recorded (code and status) and aborts the
    /// scenario.
    pub fn ok<T, E>(
        &mut self,
        op: &str,
        result: Result<T, SdkError<E, HttpResponse>>,
        show: impl FnOnce(&T) -> Value,
    ) -> anyhow::Result<T>
    where
        E: ProvideErrorMetadata + Debug + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(out) => {
                let v = show(&out);
                self.steps.push(if v.is_null() { json!({ "op": op }) } else { json!({ "op": op, "out": v }) });
                Ok(out)
            }
            Err(e) => {
                self.steps.push(json!({ "op": op, "error": error_json(&e) }));
                Err(anyhow::anyhow!("{op} failed: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)))
            }
        }
    }

    /// Records the outcome of a call expected to fail: its error code and HTTP status (or the
    /// fact that it succeeded, which the snapshot then shows as a difference).
    pub fn err<T, E>(&mut self, op: &str, result: Result<T, SdkError<E, HttpResponse>>)
    where
        E: ProvideErrorMetadata + Debug + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(_) => self.steps.push(json!({ "op": op, "error": "none: the call succeeded" })),
            Err(e) => self.steps.push(json!({ "op": op, "error": error_json(&e) })),
        }
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        // Path-style for every target but AWS: peers and the emulator answer on one host.
        let path_style = self.target != Target::Aws;
        client!(self, aws_sdk_s3, |b| b.force_path_style(path_style))
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        client!(self, aws_sdk_kms, |b| b)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        client!(self, aws_sdk_sns, |b| b)
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        client!(self, aws_sdk_cognitoidentityprovider, |b| b)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        client!(self, aws_sdk_dynamodb, |b| b)
    }

    pub fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        client!(self, aws_sdk_dynamodbstreams, |b| b)
    }

    /// The `@connections` client for a management endpoint.
    pub fn connections(&self, management_url: &str) -> aws_sdk_apigatewaymanagement::Client {
        client!(self, aws_sdk_apigatewaymanagement, |b| b.endpoint_url(management_url))
    }

    /// The JWKS document URL of a user pool on this target.
    pub fn jwks_url(&self, pool_id: &str) -> String {
        match &self.endpoint {
            Some(e) => format!("{e}/{pool_id}/.well-known/jwks.json"),
            None => format!("https://cognito-idp.{}.amazonaws.com/{pool_id}/.well-known/jwks.json", self.region),
        }
    }

    pub(crate) async fn run_cleanups(&mut self) {
        let cleanups: Vec<Cleanup> = self.cleanups.drain(..).rev().collect();
        for c in cleanups {
            let outcome = match &c {
                Cleanup::Bucket(b) => self.empty_and_delete_bucket(b).await,
                Cleanup::Key(k) => self
                    .kms()
                    .schedule_key_deletion()
                    .key_id(k)
                    .pending_window_in_days(7)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Cleanup::Topic(t) => {
                    self.sns().delete_topic().topic_arn(t).send().await.map(|_| ()).map_err(|e| e.to_string())
                }
                Cleanup::Table(t) => {
                    self.dynamodb().delete_table().table_name(t).send().await.map(|_| ()).map_err(|e| e.to_string())
                }
                Cleanup::UserPool(p) => self
                    .cognito()
                    .delete_user_pool()
                    .user_pool_id(p)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            if let Err(e) = outcome
                && self.target == Target::Aws
            {
                eprintln!("clean-up of {c:?} failed: {e}");
            }
        }
    }

    async fn empty_and_delete_bucket(&self, bucket: &str) -> Result<(), String> {
        let s3 = self.s3();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    let _ = s3.delete_object().bucket(bucket).key(k).send().await;
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        s3.delete_bucket().bucket(bucket).send().await.map(|_| ()).map_err(|e| e.to_string())
    }
}
