//! The one random source behind every id, key, nonce, token and code.
//!
//! Seeded from `--seed` for reproducible runs, else from the OS. Request ids do not come from
//! here (see `gateway`), so that they never shift the seeded sequence.

use std::sync::Mutex;

use rand::{Rng as _, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

#[derive(Debug)]
pub struct Rng(Mutex<ChaCha20Rng>);

/// Where a generator stands: its ChaCha20 key, stream and word position (as text: it is a
/// 68-bit number, beyond what JSON numbers carry exactly).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RngState {
    pub key: String,
    pub stream: u64,
    pub word_pos: String,
}

impl Rng {
    pub fn new(seed: Option<u64>) -> Self {
        let inner = match seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => ChaCha20Rng::from_entropy(),
        };
        Self(Mutex::new(inner))
    }

    pub fn fill(&self, buf: &mut [u8]) {
        self.0.lock().expect("rng lock").fill_bytes(buf);
    }

    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    pub fn vec(&self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        self.fill(&mut out);
        out
    }

    /// A generator seeded from this one, for long computations (key generation) that should
    /// not hold the shared generator's lock but must stay reproducible under `--seed`.
    pub fn fork(&self) -> ChaCha20Rng {
        ChaCha20Rng::from_seed(self.bytes::<32>())
    }

    /// The generator's exact position, to continue it elsewhere ([`Rng::restore`]).
    pub fn state(&self) -> RngState {
        let rng = self.0.lock().expect("rng lock");
        RngState {
            key: hex::encode(rng.get_seed()),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// Continues from a position [`Rng::state`] gave.
    pub fn restore(&self, state: &RngState) -> Result<(), String> {
        let key: [u8; 32] =
            hex::decode(&state.key).ok().and_then(|k| k.try_into().ok()).ok_or("rng key must be 64 hex digits")?;
        let word_pos: u128 = state.word_pos.parse().map_err(|_| "rng wordPos must be a decimal number")?;
        let mut rng = ChaCha20Rng::from_seed(key);
        rng.set_stream(state.stream);
        rng.set_word_pos(word_pos);
        *self.0.lock().expect("rng lock") = rng;
        Ok(())
    }

    /// A random (version 4) UUID in its usual lowercase text form.
    pub fn uuid(&self) -> String {
        let mut b = self.bytes::<16>();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    /// `len` lowercase hex digits.
    pub fn hex(&self, len: usize) -> String {
        let mut s = hex::encode(self.vec(len.div_ceil(2)));
        s.truncate(len);
        s
    }

    /// `len` characters from `alphabet`.
    pub fn string_from(&self, alphabet: &[u8], len: usize) -> String {
        let mut rng = self.0.lock().expect("rng lock");
        (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
    }

    /// `len` decimal digits, e.g. a confirmation code.
    pub fn digits(&self, len: usize) -> String {
        self.string_from(b"0123456789", len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a = Rng::new(Some(7));
        let b = Rng::new(Some(7));
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.hex(13), b.hex(13));
        assert_ne!(Rng::new(Some(8)).uuid(), Rng::new(Some(7)).uuid());
    }

    #[test]
    fn a_restored_state_continues_the_sequence() {
        let a = Rng::new(Some(3));
        a.uuid();
        let b = Rng::new(None);
        b.restore(&a.state()).unwrap();
        assert_eq!(a.hex(40), b.hex(40));
    }

    #[test]
    fn uuid_has_v4_shape() {
        let id = Rng::new(Some(1)).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
