//! The ciphertext blob: what Encrypt and GenerateDataKey return and Decrypt takes.
//!
//! ```text
//! 0x01 ‖ key id (36 ASCII bytes, a UUID) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//! ```
//! The key id in clear lets Decrypt find the key without a `KeyId` (as AWS blobs do). The
//! encryption context is the GCM associated data, so a different context fails authentication.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

const VERSION: u8 = 1;
const ID_LEN: usize = 36;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A blob split into its parts (not yet authenticated).
pub struct Parsed<'a> {
    pub key_id: &'a str,
    nonce: &'a [u8],
    sealed: &'a [u8],
}

/// Reads the header of a blob; `None` for anything that is not one of ours.
pub fn parse(blob: &[u8]) -> Option<Parsed<'_>> {
    if blob.len() < 1 + ID_LEN + NONCE_LEN + TAG_LEN || blob[0] != VERSION {
        return None;
    }
    let key_id = std::str::from_utf8(&blob[1..1 + ID_LEN]).ok()?;
    let nonce = &blob[1 + ID_LEN..1 + ID_LEN + NONCE_LEN];
    Some(Parsed { key_id, nonce, sealed: &blob[1 + ID_LEN + NONCE_LEN..] })
}

/// The associated data for a context: its entries in key order, unambiguously framed.
fn aad(context: &BTreeMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(context).unwrap_or_default()
}

pub fn seal(
    key_id: &str,
    material: &[u8],
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
) -> Vec<u8> {
    debug_assert_eq!(key_id.len(), ID_LEN);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(material));
    let aad = aad(context);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .expect("AES-GCM encryption of a bounded message cannot fail");
    let mut out = Vec::with_capacity(1 + ID_LEN + NONCE_LEN + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Authenticates and decrypts; `None` if the blob was altered or the context differs.
pub fn open(parsed: &Parsed<'_>, material: &[u8], context: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(material));
    let aad = aad(context);
    cipher.decrypt(Nonce::from_slice(parsed.nonce), Payload { msg: parsed.sealed, aad: &aad }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

    #[test]
    fn round_trip_binds_context_and_detects_tampering() {
        let material = [7u8; 32];
        let ctx: BTreeMap<String, String> = [("to".to_string(), "alice".to_string())].into();
        let blob = seal(ID, &material, [1; 12], b"secret", &ctx);
        let p = parse(&blob).unwrap();
        assert_eq!(p.key_id, ID);
        assert_eq!(open(&p, &material, &ctx).unwrap(), b"secret");
        let other: BTreeMap<String, String> = [("to".to_string(), "bob".to_string())].into();
        assert!(open(&p, &material, &other).is_none());
        assert!(open(&p, &material, &BTreeMap::new()).is_none());
        let mut tampered = blob.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&parse(&tampered).unwrap(), &material, &ctx).is_none());
        assert!(parse(&blob[..40]).is_none());
        assert!(parse(b"not a blob at all, but long enough to pass the length check....").is_none());
    }
}
