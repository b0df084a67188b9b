//! Client-side helpers shared by the test suites (emulator, backend, conformance).
//!
//! - [`srp`]: Cognito's `USER_SRP_AUTH` from the client's side, written as the JavaScript and
//!   Python client libraries compute it, independently of the emulator's server half, so the
//!   two check each other.

pub mod srp;
