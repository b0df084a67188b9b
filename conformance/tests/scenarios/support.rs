//! Helpers the scenarios share.

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}
