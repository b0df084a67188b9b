//! sns tests through the AWS SDK.
