//! The one random source behind every id, key, nonce, token and code.
//!
//! Seeded from `--seed` for reproducible runs, else from the OS. Request ids do not come from
//! here (see `gateway`), so that they never shift the seeded sequence.

use std::sync::Mutex;

use rand::{Rng as _, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

#[derive(Debug)]
pub struct Rng(Mutex<ChaCha20Rng>);

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
    fn uuid_has_v4_shape() {
        let id = Rng::new(Some(1)).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
