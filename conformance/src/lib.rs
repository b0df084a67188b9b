//! Conformance scenarios: the same calls, through the AWS SDK for Rust, against any target
//! (the emulator in-process, moto, LocalStack, real AWS), with responses normalised and compared
//! by snapshot so that a behavioural difference between targets is a failing diff.
