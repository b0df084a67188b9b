//! The slice of KMS the chat needs, as a trait: a data key per message (GenerateDataKey) and its
//! unwrapping (Decrypt), both bound to an encryption context. [`SdkKms`] is the real service
//! (AWS, LocalStack or the emulator); [`LocalKms`] an in-process stand-in with the same
//! contract, for unit and property tests.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

/// KMS's encryption context: string pairs, compared exactly, order-free.
pub type Context = BTreeMap<String, String>;

/// A fresh data key: the plaintext (wiped on drop) and the same key wrapped by KMS.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub wrapped: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KmsError {
    /// Wrong context, wrong key or a damaged blob (KMS's InvalidCiphertextException).
    #[error("the wrapped key does not decrypt under this context")]
    InvalidCiphertext,
    /// The key policy refused the caller (AccessDeniedException).
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("key not usable: {0}")]
    KeyUnavailable(String),
    #[error("KMS call failed: {0}")]
    Service(String),
}

pub trait Kms: Send + Sync {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &Context,
    ) -> impl Future<Output = Result<DataKey, KmsError>> + Send;
    fn decrypt(
        &self,
        wrapped: &[u8],
        context: &Context,
    ) -> impl Future<Output = Result<Zeroizing<Vec<u8>>, KmsError>> + Send;
}

/// The KMS service through the official SDK client.
#[derive(Clone, Debug)]
pub struct SdkKms(pub aws_sdk_kms::Client);

fn sdk_error<E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Display>(e: E) -> KmsError {
    let message = e.message().unwrap_or_default().to_string();
    match e.code() {
        Some("InvalidCiphertextException") | Some("IncorrectKeyException") => KmsError::InvalidCiphertext,
        Some("AccessDeniedException") => KmsError::AccessDenied(message),
        Some("DisabledException" | "KMSInvalidStateException" | "NotFoundException") => {
            KmsError::KeyUnavailable(message)
        }
        _ => KmsError::Service(e.to_string()),
    }
}

impl Kms for SdkKms {
    async fn generate_data_key(&self, key_id: &str, context: &Context) -> Result<DataKey, KmsError> {
        let out = self
            .0
            .generate_data_key()
            .key_id(key_id)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk_error(e.into_service_error()))?;
        let plain = out.plaintext.ok_or_else(|| KmsError::Service("no plaintext key".into()))?;
        let wrapped = out.ciphertext_blob.ok_or_else(|| KmsError::Service("no wrapped key".into()))?;
        // Copy into a wiped buffer; the SDK's own buffer is dropped right here.
        let bytes = plain.into_inner();
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(KmsError::Service(format!("data key of {} bytes", bytes.len())));
        }
        key.copy_from_slice(&bytes);
        drop(Zeroizing::new(bytes));
        Ok(DataKey { plaintext: key, wrapped: wrapped.into_inner() })
    }

    async fn decrypt(&self, wrapped: &[u8], context: &Context) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let out = self
            .0
            .decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk_error(e.into_service_error()))?;
        let plain = out.plaintext.ok_or_else(|| KmsError::Service("no plaintext".into()))?;
        Ok(Zeroizing::new(plain.into_inner()))
    }
}

/// An in-process KMS: one random 256-bit master key per key id, created on first use; blobs
/// are `key-id-length ‖ key id ‖ nonce ‖ AES-256-GCM(data key)` with the canonical context as
/// AAD, so a wrong context or a changed byte fails exactly as KMS does.
#[derive(Default)]
pub struct LocalKms {
    keys: Mutex<HashMap<String, Zeroizing<[u8; 32]>>>,
}

impl LocalKms {
    fn master(&self, key_id: &str, create: bool) -> Option<Aes256Gcm> {
        let mut keys = self.keys.lock().expect("local kms lock");
        if !keys.contains_key(key_id) {
            if !create {
                return None;
            }
            let mut k = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(k.as_mut());
            keys.insert(key_id.to_string(), k);
        }
        keys.get(key_id).map(|k| Aes256Gcm::new_from_slice(k.as_ref()).expect("32-byte key"))
    }
}

/// A context as bytes: each pair length-prefixed, in key order.
fn canonical(context: &Context) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

impl Kms for LocalKms {
    async fn generate_data_key(&self, key_id: &str, context: &Context) -> Result<DataKey, KmsError> {
        let cipher = self.master(key_id, true).ok_or_else(|| KmsError::KeyUnavailable(key_id.into()))?;
        let mut plaintext = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(plaintext.as_mut());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = canonical(context);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_ref(), aad: &aad })
            .map_err(|_| KmsError::Service("wrap failed".into()))?;
        let mut wrapped = Vec::with_capacity(2 + key_id.len() + 12 + sealed.len());
        wrapped.extend_from_slice(&(key_id.len() as u16).to_be_bytes());
        wrapped.extend_from_slice(key_id.as_bytes());
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey { plaintext, wrapped })
    }

    async fn decrypt(&self, wrapped: &[u8], context: &Context) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let (len, rest) = wrapped.split_first_chunk::<2>().ok_or(KmsError::InvalidCiphertext)?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len + 12 {
            return Err(KmsError::InvalidCiphertext);
        }
        let key_id = std::str::from_utf8(&rest[..len]).map_err(|_| KmsError::InvalidCiphertext)?;
        let (nonce, sealed) = rest[len..].split_at(12);
        let cipher = self.master(key_id, false).ok_or(KmsError::InvalidCiphertext)?;
        let aad = canonical(context);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| KmsError::InvalidCiphertext)
    }
}
