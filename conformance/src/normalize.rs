//! Replaces what legitimately differs between targets and runs — ids, ARNs, account ids,
//! regions, timestamps, request ids, tokens, ciphertexts, the run's name prefix and endpoint —
//! with placeholders that keep identity: the same id twice becomes the same `<id:N>`, so a
//! transcript still shows which value refers to which.
//!
//! Classification, first match wins:
//! 1. by the member's name: request ids (`<request-id>`), timestamps (`…Date`, `…Time`,
//!    `…Timestamp`, `…At`, `LastModified`, `iat`, `exp`, `auth_time`: `<ts>`), ciphertexts
//!    (`CiphertextBlob`, `Ciphertext…`: `<ciphertext:N>`), tokens (`…Token`, `Session`:
//!    `<token:N>`), ids (`…Id`, `…Ids`, `…ID`, `sub`, `jti`, `kid`, `origin_jti`, `event_id`:
//!    `<id:N>`, or an ARN's form when the value is one);
//! 2. by the value's shape: ARNs (`arn:aws:svc:<region>:<account>:` + resource with ids
//!    replaced), UUIDs (`<id:N>`), ISO-8601 instants (`<ts>`), 12-digit account ids
//!    (`<account>`), the run's region (`<region>`);
//! 3. literal text: registered literals (endpoint, name prefix) and every id already seen are
//!    replaced inside other strings.

use std::collections::HashMap;

use serde_json::{Map, Value};

#[derive(Debug, Default, Clone)]
pub struct Normalizer {
    counters: HashMap<&'static str, usize>,
    seen: HashMap<(&'static str, String), String>,
    literals: Vec<(String, String)>,
    region: Option<String>,
}

impl Normalizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `from` wherever it occurs inside strings by `to` (longest literals first).
    pub fn literal(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        let from = from.into();
        if !from.is_empty() {
            self.literals.push((from, to.into()));
            self.literals.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
        }
        self
    }

    /// The run's region: exact matches become `<region>`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The placeholder of `original` in `class` (`id`, `token`, `ciphertext`, …), allocated on
    /// first sight.
    pub fn placeholder(&mut self, class: &'static str, original: &str) -> String {
        if let Some(p) = self.seen.get(&(class, original.to_string())) {
            return p.clone();
        }
        let n = self.counters.entry(class).or_insert(0);
        *n += 1;
        let p = format!("<{class}:{n}>");
        self.seen.insert((class, original.to_string()), p.clone());
        p
    }

    /// Normalises `v`. Ids are learnt first (in document order), so an id that appears inside
    /// an ARN before its own member is still recognised.
    pub fn normalize(&mut self, v: &Value) -> Value {
        self.learn(None, v);
        self.walk(None, v)
    }

    fn learn(&mut self, key: Option<&str>, v: &Value) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| self.learn(Some(k), v)),
            Value::Array(a) => a.iter().for_each(|v| self.learn(key, v)),
            Value::String(s) if key.is_some_and(is_id_key) && !s.starts_with("arn:") && !s.is_empty() => {
                let k = key.unwrap_or_default();
                if !is_request_id_key(k) && !is_timestamp_key(k) && !is_ciphertext_key(k) && !is_token_key(k) {
                    self.placeholder("id", s);
                }
            }
            Value::String(s) if is_uuid(s) => {
                self.placeholder("id", s);
            }
            _ => {}
        }
    }

    fn walk(&mut self, key: Option<&str>, v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), self.walk(Some(k), v));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| self.walk(key, v)).collect()),
            Value::String(s) => self.string(key, s),
            Value::Number(_) if key.is_some_and(is_timestamp_key) => Value::String("<ts>".into()),
            other => other.clone(),
        }
    }

    fn string(&mut self, key: Option<&str>, s: &str) -> Value {
        let out = match key {
            Some(k) if is_request_id_key(k) => "<request-id>".to_string(),
            Some(k) if is_timestamp_key(k) => "<ts>".to_string(),
            Some(k) if is_ciphertext_key(k) => self.placeholder("ciphertext", s),
            Some(k) if is_token_key(k) => self.placeholder("token", s),
            Some(k) if is_id_key(k) && !s.starts_with("arn:") && !s.is_empty() => self.placeholder("id", s),
            _ => self.by_shape(s),
        };
        Value::String(out)
    }

    fn by_shape(&mut self, s: &str) -> String {
        if s.starts_with("arn:") {
            return self.arn(s);
        }
        if is_uuid(s) {
            return self.placeholder("id", s);
        }
        if is_iso_instant(s) {
            return "<ts>".into();
        }
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            return "<account>".into();
        }
        if self.region.as_deref() == Some(s) {
            return "<region>".into();
        }
        self.replace_known(s)
    }

    /// `arn:partition:service:region:account:resource`, the resource's ids replaced.
    fn arn(&mut self, s: &str) -> String {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() < 6 {
            return self.replace_known(s);
        }
        let region = if parts[3].is_empty() { "" } else { "<region>" };
        let account = if parts[4].is_empty() { "" } else { "<account>" };
        let mut pieces = Vec::new();
        for slash in parts[5].split('/') {
            if is_iso_instant(slash) {
                pieces.push("<ts>".to_string());
                continue;
            }
            let colon: Vec<String> = slash.split(':').map(|seg| self.arn_segment(seg)).collect();
            pieces.push(colon.join(":"));
        }
        let resource = pieces.join("/");
        format!("arn:aws:{}:{region}:{account}:{resource}", parts[2])
    }

    fn arn_segment(&mut self, seg: &str) -> String {
        if is_uuid(seg) || self.is_pool_id(seg) || (seg.len() >= 16 && seg.bytes().all(|b| b.is_ascii_hexdigit())) {
            return self.placeholder("id", seg);
        }
        if is_iso_instant(seg) {
            return "<ts>".into();
        }
        if let Some(p) = self.seen.get(&("id", seg.to_string())) {
            return p.clone();
        }
        self.replace_known(seg)
    }

    fn is_pool_id(&self, s: &str) -> bool {
        match s.split_once('_') {
            Some((region, rest)) => {
                region.contains('-') && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            None => false,
        }
    }

    /// Literals, then every id seen so far (8 characters or longer), replaced inside `s`.
    fn replace_known(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.literals {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        let mut seen: Vec<(&String, &String)> =
            self.seen.iter().filter(|((_, orig), _)| orig.len() >= 8).map(|((_, o), p)| (o, p)).collect();
        seen.sort_by_key(|(o, _)| std::cmp::Reverse(o.len()));
        for (orig, ph) in seen {
            if out.contains(orig.as_str()) {
                out = out.replace(orig.as_str(), ph);
            }
        }
        out
    }
}

fn is_request_id_key(k: &str) -> bool {
    matches!(k, "RequestId" | "requestId" | "request_id" | "x-amzn-RequestId" | "x-amz-request-id" | "HostId")
}

fn is_timestamp_key(k: &str) -> bool {
    k.ends_with("Date")
        || k.ends_with("DateTime")
        || k.ends_with("Time")
        || k.ends_with("Timestamp")
        || k.ends_with("At")
        || matches!(k, "LastModified" | "iat" | "exp" | "auth_time" | "Expires" | "Expiration")
}

fn is_ciphertext_key(k: &str) -> bool {
    k.starts_with("Ciphertext") || k.starts_with("ciphertext") || k == "WrappedKey"
}

fn is_token_key(k: &str) -> bool {
    (k.ends_with("Token") && k != "NextToken") || k == "Session" || k == "Signature" || k == "SigningCertURL"
}

fn is_id_key(k: &str) -> bool {
    (k.ends_with("Id") || k.ends_with("Ids") || k.ends_with("ID")) && k != "principalId"
        || matches!(k, "sub" | "jti" | "kid" | "origin_jti" | "event_id" | "client_id" | "aud")
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `2026-11-23T10:00:00…` (date, `T`, time; any fraction or zone after).
fn is_iso_instant(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_keep_their_identity_across_members_and_arns() {
        let key = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let other = "0000abcd-12ab-34cd-56ef-1234567890ab";
        let mut n = Normalizer::new();
        let out = n.normalize(&json!({
            "KeyId": key,
            "Arn": format!("arn:aws:kms:eu-west-1:123456789012:key/{key}"),
            "Other": other,
            "Again": [key, other],
        }));
        assert_eq!(
            out,
            json!({
                "KeyId": "<id:1>",
                "Arn": "arn:aws:kms:<region>:<account>:key/<id:1>",
                "Other": "<id:2>",
                "Again": ["<id:1>", "<id:2>"],
            })
        );
    }

    #[test]
    fn timestamps_request_ids_tokens_and_ciphertexts_get_placeholders() {
        let mut n = Normalizer::new();
        let out = n.normalize(&json!({
            "CreationDate": 1_700_000_000.5,
            "LastModified": "Mon, 23 Nov 2026 10:00:00 GMT",
            "when": "2026-11-23T10:00:00.123Z",
            "RequestId": "abc",
            "AccessToken": "eyJ.a.b",
            "RefreshToken": "eyJ.c.d",
            "CiphertextBlob": "AQID",
            "copy": { "CiphertextBlob": "AQID" },
            "NextToken": null,
        }));
        assert_eq!(
            out,
            json!({
                "CreationDate": "<ts>",
                "LastModified": "<ts>",
                "when": "<ts>",
                "RequestId": "<request-id>",
                "AccessToken": "<token:1>",
                "RefreshToken": "<token:2>",
                "CiphertextBlob": "<ciphertext:1>",
                "copy": { "CiphertextBlob": "<ciphertext:1>" },
                "NextToken": null,
            })
        );
    }

    #[test]
    fn literals_accounts_regions_and_seen_ids_inside_text() {
        let mut n = Normalizer::new()
            .literal("cf-1a2b3c4d-", "<p>")
            .literal("http://127.0.0.1:4566", "<endpoint>")
            .region("us-east-1");
        let out = n.normalize(&json!({
            "UserPoolId": "us-east-1_AbCdEf123",
            "issuer": "http://127.0.0.1:4566/us-east-1_AbCdEf123",
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:cf-1a2b3c4d-news",
            "SubscriptionArn": "arn:aws:sns:us-east-1:000000000000:cf-1a2b3c4d-news:5a3c5b1e-0000-4000-8000-000000000001",
            "Owner": "000000000000",
            "region": "us-east-1",
            "Pool": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_AbCdEf123",
            "Stream": "arn:aws:dynamodb:us-east-1:000000000000:table/cf-1a2b3c4d-t/stream/2026-11-23T10:00:00.000",
            "plain": "hello",
            "Count": 3,
        }));
        assert_eq!(
            out,
            json!({
                "UserPoolId": "<id:1>",
                "issuer": "<endpoint>/<id:1>",
                "TopicArn": "arn:aws:sns:<region>:<account>:<p>news",
                "SubscriptionArn": "arn:aws:sns:<region>:<account>:<p>news:<id:2>",
                "Owner": "<account>",
                "region": "<region>",
                "Pool": "arn:aws:cognito-idp:<region>:<account>:userpool/<id:1>",
                "Stream": "arn:aws:dynamodb:<region>:<account>:table/<p>t/stream/<ts>",
                "plain": "hello",
                "Count": 3,
            })
        );
    }

    #[test]
    fn the_same_transcript_from_two_targets_normalises_identically() {
        let a = json!([{ "KeyId": "k-aaaaaaaaaaaa", "Arn": "arn:aws:kms:us-east-1:000000000000:key/k-aaaaaaaaaaaa" }]);
        let b = json!([{ "KeyId": "k-bbbbbbbbbbbb", "Arn": "arn:aws:kms:eu-west-1:123456789012:key/k-bbbbbbbbbbbb" }]);
        assert_eq!(Normalizer::new().normalize(&a), Normalizer::new().normalize(&b));
        // …but a transcript where the second reference points elsewhere does not.
        let c = json!([{ "KeyId": "k-bbbbbbbbbbbb", "Arn": "arn:aws:kms:eu-west-1:123456789012:key/k-cccccccccccc" }]);
        assert_ne!(Normalizer::new().normalize(&a), Normalizer::new().normalize(&c));
    }
}
