//! The SRP-6a exchange of Cognito's USER_SRP_AUTH flow (server side).
//!
//! Group: the 3072-bit prime of RFC 5054 with g = 2; H = SHA-256. Integers travel as hex and
//! are hashed in "padded" big-endian form: minimal bytes, with a leading zero byte when the top
//! bit is set (the convention of Cognito's client libraries).
//!
//! ```text
//! k = H(pad(N) ‖ pad(g))                    x = H(pad(salt) ‖ H(pool ‖ user ‖ ":" ‖ password))
//! v = g^x                                   B = k·v + g^b            (server, b random)
//! u = H(pad(A) ‖ pad(B))                    S = (A · v^u)^b          (= (B − k·g^x)^(a + u·x))
//! K = HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key", 16 bytes)
//! signature = HMAC-SHA256(K, pool ‖ user ‖ secret block ‖ timestamp)
//! ```
//! `pool` is the part of the pool id after `_`; `user` is USER_ID_FOR_SRP (the username).

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
);

static N: LazyLock<BigUint> = LazyLock::new(|| BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("static prime"));
static G: LazyLock<BigUint> = LazyLock::new(|| BigUint::from(2u32));
static K: LazyLock<BigUint> = LazyLock::new(|| hash_to_int(&[&pad(&N), &pad(&G)]));

/// Big-endian bytes with a leading zero byte when the top bit is set.
pub fn pad(n: &BigUint) -> Vec<u8> {
    let bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        let mut out = Vec::with_capacity(bytes.len() + 1);
        out.push(0);
        out.extend_from_slice(&bytes);
        out
    } else {
        bytes
    }
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hash_to_int(parts: &[&[u8]]) -> BigUint {
    BigUint::from_bytes_be(&hash(parts))
}

/// `us-east-1_AbC123` → `AbC123`.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map(|(_, n)| n).unwrap_or(pool_id)
}

fn private_x(pool: &str, user: &str, password: &str, salt: &BigUint) -> BigUint {
    let inner = hash(&[pool.as_bytes(), user.as_bytes(), b":", password.as_bytes()]);
    hash_to_int(&[&pad(salt), &inner])
}

/// The verifier stored for a password: `v = g^x mod N`.
pub fn verifier(pool: &str, user: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    let x = private_x(pool, user, password, &BigUint::from_bytes_be(salt));
    G.modpow(&x, &N).to_bytes_be()
}

/// Hex of a salt as sent in `SALT` (the integer's canonical hex, no leading zeros).
pub fn salt_hex(salt: &[u8]) -> String {
    BigUint::from_bytes_be(salt).to_str_radix(16)
}

/// Parses the client's `SRP_A`; `None` if it is not hex or is 0 mod N (which would let a
/// client force the shared secret).
pub fn parse_a(hex: &str) -> Option<BigUint> {
    let a = BigUint::parse_bytes(hex.as_bytes(), 16)?;
    (&a % &*N != BigUint::ZERO).then_some(a)
}

/// The server's public value `B = k·v + g^b mod N` (hex) for secret `b`.
pub fn server_public(verifier: &[u8], b: &[u8]) -> String {
    let v = BigUint::from_bytes_be(verifier);
    let b = BigUint::from_bytes_be(b);
    ((&*K * v + G.modpow(&b, &N)) % &*N).to_str_radix(16)
}

/// What the client signed with, as the server derives it.
pub struct Claim<'a> {
    pub pool: &'a str,
    pub user: &'a str,
    pub a: &'a BigUint,
    pub b: &'a [u8],
    pub verifier: &'a [u8],
    pub secret_block: &'a [u8],
    pub timestamp: &'a str,
}

/// The signature a client that knows the password produces (base64 is the caller's business).
pub fn expected_signature(c: &Claim<'_>) -> Vec<u8> {
    let v = BigUint::from_bytes_be(c.verifier);
    let b = BigUint::from_bytes_be(c.b);
    let big_b = (&*K * &v + G.modpow(&b, &N)) % &*N;
    let u = hash_to_int(&[&pad(c.a), &pad(&big_b)]);
    let s = (c.a * v.modpow(&u, &N)).modpow(&b, &N);
    let key = derive_key(&s, &u);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    for part in [c.pool.as_bytes(), c.user.as_bytes(), c.secret_block, c.timestamp.as_bytes()] {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn derive_key(s: &BigUint, u: &BigUint) -> [u8; 16] {
    let mut okm = [0u8; 16];
    Hkdf::<Sha256>::new(Some(&pad(u)), &pad(s))
        .expand(b"Caldera Derived Key", &mut okm)
        .expect("16 bytes is a valid length");
    okm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the server sent and the client signs.
    struct Challenge<'a> {
        salt_hex: &'a str,
        b_hex: &'a str,
        block: &'a [u8],
        ts: &'a str,
    }

    /// The client's side, written from the client's formulas: S = (B − k·g^x)^(a + u·x).
    fn client_signature(pool: &str, user: &str, password: &str, a: &BigUint, c: &Challenge<'_>) -> Vec<u8> {
        let big_a = G.modpow(a, &N);
        let big_b = BigUint::parse_bytes(c.b_hex.as_bytes(), 16).unwrap();
        let u = hash_to_int(&[&pad(&big_a), &pad(&big_b)]);
        let salt = BigUint::parse_bytes(c.salt_hex.as_bytes(), 16).unwrap();
        let x = private_x(pool, user, password, &salt);
        let gx = G.modpow(&x, &N);
        let kgx = (&*K * gx) % &*N;
        let base = ((&big_b + &*N) - kgx) % &*N;
        let s = base.modpow(&(a + &u * &x), &N);
        let key = derive_key(&s, &u);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        for part in [pool.as_bytes(), user.as_bytes(), c.block, c.ts.as_bytes()] {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn client_and_server_agree_only_on_the_right_password() {
        let (pool, user, password) = ("AbC123xyZ", "alice", "Correct-Horse-9");
        let salt = [0x9au8; 16];
        let v = verifier(pool, user, password, &salt);
        let b = [7u8; 32];
        let b_hex = server_public(&v, &b);
        let a = BigUint::from_bytes_be(&[3u8; 32]);
        let big_a = G.modpow(&a, &N);
        let (block, ts) = (b"secret-block".as_slice(), "Tue Nov 24 01:13:45 UTC 2026");
        let claim = Claim { pool, user, a: &big_a, b: &b, verifier: &v, secret_block: block, timestamp: ts };
        let server = expected_signature(&claim);
        let salt_hex = salt_hex(&salt);
        let c = Challenge { salt_hex: &salt_hex, b_hex: &b_hex, block, ts };
        assert_eq!(client_signature(pool, user, password, &a, &c), server);
        assert_ne!(client_signature(pool, user, "Wrong-Horse-9", &a, &c), server);
        assert_ne!(client_signature(pool, "bob", password, &a, &c), server);
    }

    #[test]
    fn padding_and_parsing_follow_the_client_convention() {
        assert_eq!(pad(&BigUint::from(0x7fu32)), vec![0x7f]);
        assert_eq!(pad(&BigUint::from(0x80u32)), vec![0x00, 0x80]);
        assert_eq!(salt_hex(&[0x00, 0x0a, 0xbc]), "abc");
        assert!(parse_a("00").is_none());
        assert!(parse_a(&N_HEX.to_lowercase()).is_none(), "A = N is 0 mod N");
        assert!(parse_a("zz").is_none());
        assert!(parse_a("1234").is_some());
        assert_eq!(pool_name("us-east-1_AbC123"), "AbC123");
    }
}
