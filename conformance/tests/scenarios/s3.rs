use conformance::scenario;
use serde_json::json;

scenario!(placeholder, [S3], |run| {
    let s3 = run.s3();
    let bucket = run.name("b");
    run.ok("CreateBucket", s3.create_bucket().bucket(&bucket).send().await, |_| json!(null))?;
    run.cleanup(conformance::Cleanup::Bucket(bucket.clone()));
});
