//! Envelope encryption of one message for one reader.
//!
//! Every reader of a message (the recipient, and the sender for their own copy) gets a sealed
//! copy of their own: a fresh AES-256 data key from KMS under *that reader's* key, with the
//! encryption context `{recipient, conversation, message}`, so KMS releases it only for that
//! reader and that message; the body is AES-256-GCM with a fresh random 96-bit nonce and the
//! message's identity as additional authenticated data (message id, conversation id, sender,
//! recipient), so a ciphertext moved to another message, conversation or reader fails to open.
//! The plaintext data key lives in a [`Zeroizing`] buffer and is wiped when sealing or opening
//! returns; it is never stored or logged.
//!
//! Stored form: the wrapped key goes to DynamoDB beside the message metadata; [`Sealed::to_object`]
//! (`version ‖ nonce ‖ ciphertext+tag`) is the S3 object body.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::kms::{Context, Kms, KmsError};

/// The format version byte at the start of every stored object.
const VERSION: u8 = 1;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// What a sealed copy is bound to. Every field is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub message_id: String,
    pub conversation_id: String,
    pub sender: String,
    /// The reader this copy is for (the sender, for the sender's own copy).
    pub recipient: String,
}

impl Header {
    /// The KMS encryption context: the data key is released only for this reader and message.
    pub fn context(&self) -> Context {
        [
            ("recipient".to_string(), self.recipient.clone()),
            ("conversation".to_string(), self.conversation_id.clone()),
            ("message".to_string(), self.message_id.clone()),
        ]
        .into_iter()
        .collect()
    }

    /// The additional authenticated data: each field length-prefixed, so no two headers encode
    /// alike (`("ab","c")` ≠ `("a","bc")`).
    pub fn aad(&self) -> Vec<u8> {
        let mut out = b"chat-envelope-v1".to_vec();
        for f in [&self.message_id, &self.conversation_id, &self.sender, &self.recipient] {
            out.extend_from_slice(&(f.len() as u32).to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        out
    }
}

/// One reader's sealed copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The data key as KMS wrapped it under the reader's key.
    pub wrapped_key: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    /// AES-256-GCM output: ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The ciphertext, nonce, tag or header does not authenticate.
    #[error("the message does not authenticate")]
    Forged,
    #[error("malformed sealed object")]
    Malformed,
}

impl Sealed {
    /// The S3 object body: `version ‖ nonce ‖ ciphertext+tag`.
    pub fn to_object(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + NONCE_LEN + self.ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Reads an object body back, with the wrapped key stored beside the metadata.
    pub fn from_object(object: &[u8], wrapped_key: Vec<u8>) -> Result<Sealed, EnvelopeError> {
        match object.split_first() {
            Some((&VERSION, rest)) if rest.len() >= NONCE_LEN + TAG_LEN => {
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                Ok(Sealed {
                    wrapped_key,
                    nonce: nonce.try_into().map_err(|_| EnvelopeError::Malformed)?,
                    ciphertext: ciphertext.to_vec(),
                })
            }
            _ => Err(EnvelopeError::Malformed),
        }
    }
}

/// Seals `plaintext` for `header.recipient`, whose KMS key is `key_id`.
pub async fn seal<K: Kms>(kms: &K, key_id: &str, header: &Header, plaintext: &[u8]) -> Result<Sealed, EnvelopeError> {
    let key = kms.generate_data_key(key_id, &header.context()).await?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new_from_slice(key.plaintext.as_ref()).map_err(|_| EnvelopeError::Malformed)?;
    let aad = header.aad();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .map_err(|_| EnvelopeError::Malformed)?;
    // `key.plaintext` and the cipher's key schedule (aes-gcm's `zeroize` feature) are wiped
    // as they go out of scope here.
    Ok(Sealed { wrapped_key: key.wrapped, nonce, ciphertext })
}

/// Opens a sealed copy; fails unless KMS releases the key for exactly this header's reader
/// and message and the ciphertext authenticates against the whole header.
pub async fn open<K: Kms>(kms: &K, header: &Header, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    if sealed.ciphertext.len() < TAG_LEN {
        return Err(EnvelopeError::Malformed);
    }
    let key = kms.decrypt(&sealed.wrapped_key, &header.context()).await?;
    if key.len() != 32 {
        return Err(EnvelopeError::Malformed);
    }
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| EnvelopeError::Malformed)?;
    let aad = header.aad();
    cipher
        .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Forged)
}
