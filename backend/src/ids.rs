//! Identifiers and cursors.
//!
//! - Message ids sort by time: 48 bits of milliseconds then 80 random bits, Crockford base32
//!   (26 characters), so a conversation's messages are ordered by their sort key alone.
//! - A direct conversation's id is derived from its two members, so sending to a user finds
//!   the existing conversation without a lookup table and two first messages cannot create two.
//! - Cursors are opaque to clients (base64url of the last key), and are checked on the way back
//!   in: a cursor must name the partition the caller is allowed to read, so a forged cursor can
//!   never page through someone else's data.

use base64::Engine as _;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A time-ordered unique id for a message sent at `millis`.
pub fn message_id(millis: u64) -> String {
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let mut value: u128 = (millis as u128 & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= (*b as u128) << (72 - 8 * i);
    }
    (0..26).rev().map(|i| CROCKFORD[((value >> (i * 5)) & 31) as usize] as char).collect()
}

/// A random id for rooms and attachments (same alphabet, no time part needed but harmless).
pub fn random_id() -> String {
    message_id(now_millis())
}

/// The id of the direct conversation between two users (order-free).
pub fn direct_conversation(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{lo}\n{hi}").as_bytes());
    format!("d-{}", hex_prefix(&digest, 20))
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()[..n].to_string()
}

pub fn now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A DynamoDB key of string attributes, as a cursor carries it.
pub type Key = Map<String, Value>;

/// Encodes a page's last key for the client.
pub fn encode_cursor(key: &Key) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Value::Object(key.clone()).to_string())
}

/// Decodes a client's cursor; `None` unless it is well formed and its `partition_attr` equals
/// `partition` (the caller's own partition).
pub fn decode_cursor(cursor: &str, partition_attr: &str, partition: &str) -> Option<Key> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let Value::Object(key) = serde_json::from_slice(&bytes).ok()? else { return None };
    let well_formed = key.len() <= 4 && key.values().all(Value::is_string);
    (well_formed && key.get(partition_attr).and_then(Value::as_str) == Some(partition)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_sort_by_time() {
        let a = message_id(1_000);
        let b = message_id(1_001);
        let c = message_id(1_700_000_000_000);
        assert_eq!(a.len(), 26);
        assert!(a < b && b < c);
        assert_ne!(message_id(5), message_id(5));
    }

    #[test]
    fn direct_ids_are_order_free_and_distinct() {
        assert_eq!(direct_conversation("a", "b"), direct_conversation("b", "a"));
        assert_ne!(direct_conversation("a", "b"), direct_conversation("a", "c"));
        assert_ne!(direct_conversation("ab", "c"), direct_conversation("a", "bc"));
    }

    #[test]
    fn cursors_round_trip_only_for_their_partition() {
        let mut key = Key::new();
        key.insert("pk".into(), "USER#alice".into());
        key.insert("sk".into(), "CONV#x".into());
        let c = encode_cursor(&key);
        assert_eq!(decode_cursor(&c, "pk", "USER#alice"), Some(key));
        assert_eq!(decode_cursor(&c, "pk", "USER#mallory"), None);
        assert_eq!(decode_cursor("not base64!", "pk", "USER#alice"), None);
    }
}
