//! kms tests through the AWS SDK.
