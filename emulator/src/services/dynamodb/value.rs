//! DynamoDB's data model: attribute values as they travel (`{"S": "x"}`, `{"N": "1.5"}`, …),
//! numbers with 38 significant digits compared exactly, and the order-preserving byte encoding of
//! key attributes that lets SQLite range-scan sort keys in DynamoDB's order.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bigdecimal::{BigDecimal, Zero};
use serde::{Deserialize, Serialize};

use crate::error::{AwsError, Result};

/// One attribute value. `N` keeps the caller's text (normalised) and is parsed when compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    #[serde(with = "b64")]
    B(Vec<u8>),
    SS(Vec<String>),
    NS(Vec<String>),
    #[serde(with = "b64_list")]
    BS(Vec<Vec<u8>>),
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    #[serde(rename = "NULL")]
    Null(bool),
    #[serde(rename = "BOOL")]
    Bool(bool),
}

pub type Item = BTreeMap<String, AttributeValue>;

mod b64 {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| STANDARD.encode(b)))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<Vec<u8>>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts.into_iter().map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom)).collect()
    }
}

impl AttributeValue {
    /// The type descriptor (`S`, `N`, `B`, `SS`, …) as AWS names it in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::SS(_) => "SS",
            AttributeValue::NS(_) => "NS",
            AttributeValue::BS(_) => "BS",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Null(_) => "NULL",
            AttributeValue::Bool(_) => "BOOL",
        }
    }

    /// Checks and normalises a value arriving from a client (numbers, sets, NULL).
    pub fn validate(self) -> Result<Self> {
        Ok(match self {
            AttributeValue::N(n) => AttributeValue::N(Number::parse(&n)?.to_string()),
            AttributeValue::NS(ns) => {
                let mut out = Vec::with_capacity(ns.len());
                for n in ns {
                    out.push(Number::parse(&n)?);
                }
                out.sort();
                let before = out.len();
                out.dedup();
                if out.len() != before {
                    return Err(AwsError::validation(
                        "One or more parameter values were invalid: Input collection contains duplicates",
                    ));
                }
                check_not_empty_set(out.len(), "number")?;
                AttributeValue::NS(out.into_iter().map(|n| n.to_string()).collect())
            }
            AttributeValue::SS(ss) => {
                let before = ss.len();
                let set: std::collections::BTreeSet<String> = ss.into_iter().collect();
                if set.len() != before {
                    return Err(AwsError::validation(
                        "One or more parameter values were invalid: Input collection contains duplicates",
                    ));
                }
                check_not_empty_set(set.len(), "string")?;
                AttributeValue::SS(set.into_iter().collect())
            }
            AttributeValue::BS(bs) => {
                let before = bs.len();
                let set: std::collections::BTreeSet<Vec<u8>> = bs.into_iter().collect();
                if set.len() != before {
                    return Err(AwsError::validation(
                        "One or more parameter values were invalid: Input collection contains duplicates",
                    ));
                }
                check_not_empty_set(set.len(), "binary")?;
                AttributeValue::BS(set.into_iter().collect())
            }
            AttributeValue::Null(false) => {
                return Err(AwsError::validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true",
                ));
            }
            AttributeValue::M(m) => {
                AttributeValue::M(m.into_iter().map(|(k, v)| v.validate().map(|v| (k, v))).collect::<Result<_>>()?)
            }
            AttributeValue::L(l) => {
                AttributeValue::L(l.into_iter().map(AttributeValue::validate).collect::<Result<_>>()?)
            }
            other => other,
        })
    }

    /// DynamoDB's item-size accounting for this value (names are counted by the caller).
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.len(),
            AttributeValue::SS(v) => v.iter().map(String::len).sum(),
            AttributeValue::NS(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::BS(v) => v.iter().map(Vec::len).sum(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::Null(_) | AttributeValue::Bool(_) => 1,
        }
    }
}

/// AWS's wording for an empty set, e.g. `An string set  may not be empty` (sic).
fn check_not_empty_set(len: usize, kind: &str) -> Result<()> {
    if len == 0 {
        return Err(AwsError::validation(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    Ok(())
}

/// Size of an item as DynamoDB counts it against the 400 KB limit.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// A DynamoDB number: at most 38 significant digits, magnitude between 1E-130 and 9.9…9E+125.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Number(BigDecimal);

impl Number {
    pub fn parse(text: &str) -> Result<Number> {
        let t = text.trim();
        let invalid = || AwsError::validation(format!("A value provided cannot be converted into a number; {text}"));
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
            return Err(invalid());
        }
        let d = BigDecimal::from_str(t).map_err(|_| invalid())?.normalized();
        if d.digits() > 38 && !d.is_zero() {
            return Err(AwsError::validation("Attempting to store more than 38 significant digits in a Number"));
        }
        if !d.is_zero() {
            // value = digits × 10^-scale; its decimal exponent is digits - 1 - scale.
            let exponent = d.digits() as i64 - 1 - d.fractional_digit_count();
            if exponent > 125 {
                return Err(AwsError::validation(
                    "Number overflow. Attempting to store a number with magnitude larger than supported range",
                ));
            }
            if exponent < -130 {
                return Err(AwsError::validation(
                    "Number underflow. Attempting to store a number with magnitude smaller than supported range",
                ));
            }
        }
        Ok(Number(d))
    }

    pub fn add(&self, other: &Number) -> Result<Number> {
        Number::parse(&(&self.0 + &other.0).to_string())
    }

    pub fn sub(&self, other: &Number) -> Result<Number> {
        Number::parse(&(&self.0 - &other.0).to_string())
    }

    /// Sign, decimal digits (no leading or trailing zeros) and exponent `e` with
    /// value = 0.d₁d₂… × 10^e.
    fn parts(&self) -> (Ordering, Vec<u8>, i64) {
        let sign = self.0.sign();
        if self.0.is_zero() {
            return (Ordering::Equal, Vec::new(), 0);
        }
        let (int, scale) = self.0.normalized().as_bigint_and_exponent();
        let digits: Vec<u8> = int.magnitude().to_str_radix(10).bytes().map(|b| b - b'0').collect();
        let e = digits.len() as i64 - scale;
        let order = if sign == bigdecimal::num_bigint::Sign::Minus { Ordering::Less } else { Ordering::Greater };
        (order, digits, e)
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Plain notation, as DynamoDB returns numbers.
        write!(f, "{}", self.0.to_plain_string())
    }
}

/// Order-preserving bytes of a key attribute (S, N or B): byte order of the encodings equals
/// DynamoDB's order of the values (S by UTF-8 bytes, B by bytes, N numerically).
pub fn key_bytes(v: &AttributeValue) -> Option<Vec<u8>> {
    match v {
        AttributeValue::S(s) => Some(s.as_bytes().to_vec()),
        AttributeValue::B(b) => Some(b.clone()),
        AttributeValue::N(n) => Number::parse(n).ok().map(|n| number_bytes(&n)),
        _ => None,
    }
}

/// Negative < zero < positive; positives by exponent then digits (a digit string that is a
/// prefix of another is smaller); negatives the same with every byte inverted.
fn number_bytes(n: &Number) -> Vec<u8> {
    let (sign, digits, e) = n.parts();
    let mut body = Vec::with_capacity(digits.len() + 3);
    body.extend_from_slice(&((e + 1000) as u16).to_be_bytes());
    body.extend(digits.iter().map(|d| d + 1));
    body.push(0);
    match sign {
        Ordering::Equal => vec![1],
        Ordering::Greater => [vec![2], body].concat(),
        Ordering::Less => [vec![0], body.iter().map(|b| !b).collect()].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_38_digits_exactly() {
        let a = Number::parse("12345678901234567890123456789012345678").unwrap();
        let b = Number::parse("1").unwrap();
        assert_eq!(a.add(&b).unwrap().to_string(), "12345678901234567890123456789012345679");
        assert_eq!(Number::parse("0.1").unwrap().add(&Number::parse("0.2").unwrap()).unwrap().to_string(), "0.3");
        assert_eq!(Number::parse("1.50").unwrap().to_string(), "1.5");
        assert_eq!(Number::parse("1E+3").unwrap().to_string(), "1000");
        assert!(Number::parse("123456789012345678901234567890123456789").is_err());
        assert!(Number::parse("1E126").is_err());
        assert!(Number::parse("1E-131").is_err());
        assert!(Number::parse("abc").is_err());
        assert!(Number::parse("").is_err());
    }

    #[test]
    fn key_encoding_orders_like_dynamodb() {
        let numbers = [
            "-1E+100", "-1000", "-10", "-9.5", "-1", "-0.001", "0", "0.001", "0.5", "1", "1.01", "9", "10", "100.5",
            "1E+100",
        ];
        let encoded: Vec<Vec<u8>> =
            numbers.iter().map(|n| key_bytes(&AttributeValue::N(n.to_string())).unwrap()).collect();
        for w in encoded.windows(2) {
            assert!(w[0] < w[1], "{:?} !< {:?}", w[0], w[1]);
        }
        assert_eq!(key_bytes(&AttributeValue::N("1.0".into())), key_bytes(&AttributeValue::N("1".into())));
        let strings = ["A", "B", "a", "aa", "b", "é"];
        for w in strings.windows(2) {
            assert!(key_bytes(&AttributeValue::S(w[0].into())) < key_bytes(&AttributeValue::S(w[1].into())));
        }
        assert!(key_bytes(&AttributeValue::Bool(true)).is_none());
    }

    #[test]
    fn wire_form_round_trips_and_validates() {
        let v: AttributeValue =
            serde_json::from_str(r#"{"M": {"n": {"N": "1.50"}, "b": {"B": "AAE="}, "s": {"SS": ["b", "a"]}}}"#)
                .unwrap();
        let v = v.validate().unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"M":{"b":{"B":"AAE="},"n":{"N":"1.5"},"s":{"SS":["a","b"]}}}"#
        );
        let dup: AttributeValue = serde_json::from_str(r#"{"SS": ["a", "a"]}"#).unwrap();
        assert!(dup.validate().is_err());
        let null_false: AttributeValue = serde_json::from_str(r#"{"NULL": false}"#).unwrap();
        assert!(null_false.validate().is_err());
    }
}
