//! s3 tests through the AWS SDK.
