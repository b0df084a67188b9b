//! Replaying a journal whose ids are not this instance's: one recorded against moto, LocalStack
//! or AWS (by the conformance suite), or by an emulator without `--seed`.
//!
//! Such a journal cannot be compared byte for byte: every key id, ARN, ciphertext, token and
//! timestamp the other side generated differs from the one this instance generates, and later
//! requests carry the other side's values (a `Decrypt` of its ciphertext, a `GetUser` with its
//! token). A [`Correspondence`] pairs them up as the replay goes:
//!
//! - Responses are compared as documents (JSON, or XML read into the same tree), member by
//!   member. Where the two hold different strings and both are *generated* values — by the
//!   member's name (`…Id`, `…Arn`, `…Token`, `Session`, `CiphertextBlob`, `Plaintext`, …) or by
//!   their shape (UUIDs, JWTs, ARNs that agree on everything but ids, region and account) — the
//!   pair is learnt: from then on the recorded value stands for the replayed one.
//! - A learnt value must keep standing for the same one: a recorded id met again with another
//!   counterpart, or two recorded ids answered by one, is a difference.
//! - Timestamps (by name or ISO-8601 / HTTP-date shape) and request ids are set aside.
//! - Everything else must be equal: status, error codes, messages, names, states, counts,
//!   members present on one side only, and the `x-amz-*`, `ETag` and `Content-Type` headers.
//! - Before a request is sent, every value learnt so far is rewritten in its path, query,
//!   headers and body (form bodies and URL components decoded first), so the emulator receives
//!   its own ids where the recording had the other side's.
//!
//! What a client learnt outside the API — a code read from a mailbox, a token delivered to an
//! HTTP endpoint, a WebSocket connection id — never appears in a response, so the requests that
//! use it show as differences.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};

/// Where two answers to one request differ, and what each said.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// `status`, `header <name>`, or `body <member path>`.
    pub at: String,
    pub recorded: String,
    pub replayed: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: recorded {}, replayed {}", self.at, self.recorded, self.replayed)
    }
}

/// Values shorter than this (a continuation token like `ZA==`) are too likely to occur inside
/// unrelated text: a request is rewritten with them only where a whole value equals them (a
/// query or form value, a path segment, a header, a JSON string, an XML element's text).
const MIN_SUBSTRING: usize = 6;

/// Recorded values and the replayed values they stand for.
#[derive(Debug, Default, Clone)]
pub struct Correspondence {
    forward: HashMap<String, String>,
    backward: HashMap<String, String>,
    /// `forward`'s keys, longest first (rewriting replaces longer values before their parts).
    order: Vec<String>,
}

impl Correspondence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pairs learnt so far.
    pub fn len(&self) -> usize {
        self.forward.len()
    }

    pub fn is_empty(&self) -> bool {
        self.forward.is_empty()
    }

    /// The replayed value `recorded` stands for, if learnt.
    pub fn get(&self, recorded: &str) -> Option<&str> {
        self.forward.get(recorded).map(String::as_str)
    }

    /// Declares that `recorded` stands for `replayed` (the endpoint, say).
    pub fn insert(&mut self, recorded: &str, replayed: &str) {
        if recorded == replayed || self.forward.contains_key(recorded) {
            return;
        }
        self.forward.insert(recorded.to_string(), replayed.to_string());
        self.backward.insert(replayed.to_string(), recorded.to_string());
        let at = self.order.partition_point(|k| k.len() >= recorded.len());
        self.order.insert(at, recorded.to_string());
    }

    /// `text` with every learnt value replaced by its counterpart: long values wherever they
    /// occur, short ones where they are a whole value (the text itself, a JSON string, an XML
    /// element's text).
    pub fn rewrite(&self, text: &str) -> String {
        if let Some(whole) = self.forward.get(text) {
            return whole.clone();
        }
        let mut out = text.to_string();
        for from in &self.order {
            if !out.contains(from.as_str()) {
                continue;
            }
            let to = &self.forward[from];
            if from.len() >= MIN_SUBSTRING {
                out = out.replace(from.as_str(), to);
            } else {
                out = out
                    .replace(&format!("\"{from}\""), &format!("\"{to}\""))
                    .replace(&format!(">{from}<"), &format!(">{to}<"));
            }
        }
        out
    }

    /// A path and query as a client sent it: each path segment and query value decoded,
    /// rewritten and encoded again.
    pub fn rewrite_path(&self, path_and_query: &str) -> String {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let path = path
            .split('/')
            .map(|segment| {
                let decoded = percent_decode_str(segment).decode_utf8_lossy();
                let rewritten = self.rewrite(&decoded);
                if rewritten == decoded { segment.to_string() } else { encode(&rewritten, URI_COMPONENT) }
            })
            .collect::<Vec<_>>()
            .join("/");
        match query {
            Some(q) => format!("{path}?{}", self.rewrite_form(q)),
            None => path,
        }
    }

    /// An `application/x-www-form-urlencoded` text (a query string, an awsQuery body) with
    /// each name and value rewritten; pairs that do not change keep their encoding.
    pub fn rewrite_form(&self, form: &str) -> String {
        form.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
                let (dk, dv) = (decode(k), decode(v));
                let (rk, rv) = (self.rewrite(&dk), self.rewrite(&dv));
                if rk == dk && rv == dv {
                    pair.to_string()
                } else if pair.contains('=') {
                    format!("{}={}", encode(&rk, FORM), encode(&rv, FORM))
                } else {
                    encode(&rk, FORM)
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Compares two responses' bodies, learning the values they pair up.
    pub fn compare_bodies(&mut self, recorded: &[u8], replayed: &[u8], out: &mut Vec<Difference>) {
        if recorded == replayed {
            return;
        }
        match (document(recorded), document(replayed)) {
            (Some(r), Some(p)) => self.compare(None, "body", &r, &p, out),
            _ => {
                let (r, p) = (String::from_utf8_lossy(recorded), String::from_utf8_lossy(replayed));
                if self.rewrite(&r) != p {
                    out.push(Difference { at: "body".into(), recorded: shorten(&r), replayed: shorten(&p) });
                }
            }
        }
    }

    /// Compares one header's values (`None`: absent).
    pub fn compare_header(
        &mut self,
        name: &str,
        recorded: Option<&str>,
        replayed: Option<&str>,
        out: &mut Vec<Difference>,
    ) {
        let at = format!("header {name}");
        match (recorded, replayed) {
            (Some(r), Some(p)) => {
                let (r, p) = match name {
                    // Media type only: a charset parameter is not a difference a client sees.
                    "content-type" => (media_type(r), media_type(p)),
                    // `Code:address` on some services: the code is what SDKs read.
                    "x-amzn-errortype" => (error_code(r), error_code(p)),
                    _ => (r.to_string(), p.to_string()),
                };
                if !self.leaf(name, &r, &p) {
                    out.push(Difference { at, recorded: quote(&r), replayed: quote(&p) });
                }
            }
            (Some(r), None) => out.push(Difference { at, recorded: quote(r), replayed: "nothing".into() }),
            (None, Some(p)) => out.push(Difference { at, recorded: "nothing".into(), replayed: quote(p) }),
            (None, None) => {}
        }
    }

    fn compare(&mut self, key: Option<&str>, at: &str, r: &Value, p: &Value, out: &mut Vec<Difference>) {
        match (r, p) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, va) in a {
                    let here = format!("{at}.{k}");
                    match b.get(k) {
                        Some(vb) => self.compare(Some(k), &here, va, vb, out),
                        None => {
                            out.push(Difference { at: here, recorded: shorten_value(va), replayed: "nothing".into() })
                        }
                    }
                }
                for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                    out.push(Difference {
                        at: format!("{at}.{k}"),
                        recorded: "nothing".into(),
                        replayed: shorten_value(vb),
                    });
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                    self.compare(key, &format!("{at}[{i}]"), va, vb, out);
                }
            }
            (Value::Array(a), Value::Array(b)) => out.push(Difference {
                at: at.to_string(),
                recorded: format!("{} elements", a.len()),
                replayed: format!("{} elements", b.len()),
            }),
            (Value::String(a), Value::String(b)) => {
                let key = key.unwrap_or_default();
                if key == "__type" {
                    if error_code(a) != error_code(b) {
                        out.push(Difference { at: at.to_string(), recorded: quote(a), replayed: quote(b) });
                    }
                } else if !self.leaf(key, a, b) {
                    // A document inside a string (a key policy, an SNS message) is compared as one.
                    match (embedded(a), embedded(b)) {
                        (Some(da), Some(db)) => self.compare(Some(key), at, &da, &db, out),
                        _ => out.push(Difference { at: at.to_string(), recorded: quote(a), replayed: quote(b) }),
                    }
                }
            }
            (Value::Number(_), Value::Number(_)) if key.is_some_and(is_timestamp_key) => {}
            (a, b) if a == b => {}
            (a, b) => {
                out.push(Difference { at: at.to_string(), recorded: shorten_value(a), replayed: shorten_value(b) })
            }
        }
    }

    /// Whether two scalar strings under member `key` correspond, learning them if they are a
    /// new pair of generated values.
    fn leaf(&mut self, key: &str, r: &str, p: &str) -> bool {
        if r == p {
            return !self.forward.contains_key(r) || self.forward[r] == p;
        }
        if let Some(known) = self.forward.get(r) {
            return known == p;
        }
        if self.backward.contains_key(p) {
            // `p` already answers for another recorded value.
            return false;
        }
        if self.rewrite(r) == p {
            // Text that mentions values already paired (an error message naming an ARN).
            return true;
        }
        if is_request_id_key(key) || (is_timestamp(key, r) && is_timestamp(key, p)) {
            return true;
        }
        if r.starts_with("arn:") && p.starts_with("arn:") {
            return self.arn(r, p);
        }
        if is_generated_key(key)
            || (is_uuid(r) && is_uuid(p))
            || (crate::journal::is_jwt(r) && crate::journal::is_jwt(p))
        {
            self.learn(r, p);
            return true;
        }
        false
    }

    fn learn(&mut self, r: &str, p: &str) {
        if !r.is_empty() && !p.is_empty() {
            self.insert(r, p);
        }
    }

    /// Two ARNs correspond when partition and service agree and their region, account and
    /// resource differ only where ids are (a resource part that differs must contain a digit:
    /// names and resource types come from the client and the service and are equal).
    fn arn(&mut self, r: &str, p: &str) -> bool {
        let a: Vec<&str> = r.splitn(6, ':').collect();
        let b: Vec<&str> = p.splitn(6, ':').collect();
        if a.len() != 6 || b.len() != 6 || a[1] != b[1] || a[2] != b[2] {
            return false;
        }
        let region = a[3] == b[3] || self.get(a[3]) == Some(b[3]);
        let twelve_digits = |s: &str| s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit());
        let account = a[4] == b[4]
            || self.get(a[4]) == Some(b[4])
            || (self.get(a[4]).is_none() && twelve_digits(a[4]) && twelve_digits(b[4]));
        if !region || !account {
            return false;
        }
        let (ra, rb) = (resource_parts(a[5]), resource_parts(b[5]));
        if ra.len() != rb.len() {
            return false;
        }
        let mut pairs = Vec::new();
        for (x, y) in ra.iter().zip(&rb) {
            let separator = |s: &str| s == "/" || s == ":";
            if x == y {
                continue;
            }
            if separator(x) || separator(y) {
                return false;
            }
            match self.get(x) {
                Some(known) if known == *y => {}
                Some(_) => return false,
                None if x.chars().any(|c| c.is_ascii_digit()) && y.chars().any(|c| c.is_ascii_digit()) => {
                    pairs.push((*x, *y))
                }
                None => return false,
            }
        }
        self.learn(a[4], b[4]);
        for (x, y) in pairs {
            self.learn(x, y);
        }
        self.learn(r, p);
        true
    }
}

/// Path segments: everything but the unreserved characters is encoded.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Form values: as URI components (a space as `%20`, which every AWS decoder accepts).
const FORM: &AsciiSet = URI_COMPONENT;

fn encode(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// A resource (`key/UUID`, `table/t/stream/2026…`, `topic:sub-id`) split into parts and the
/// separators between them.
fn resource_parts(resource: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in resource.char_indices() {
        if c == '/' || c == ':' {
            parts.push(&resource[start..i]);
            parts.push(&resource[i..i + 1]);
            start = i + 1;
        }
    }
    parts.push(&resource[start..]);
    parts
}

/// A JSON document, or an XML one read as a tree of the same kind.
fn document(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return Some(Value::Null);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Some(v);
    }
    let text = std::str::from_utf8(body).ok()?;
    text.trim_start().starts_with('<').then(|| xml_tree(text)).flatten()
}

/// A string member that holds a JSON document of its own.
fn embedded(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(s).ok().filter(|v: &Value| v.is_object() || v.is_array())
}

/// XML as nested objects: an element is its text when it has no children, else an object of
/// its children by name (repeated names become arrays); attributes are `@name` members.
fn xml_tree(text: &str) -> Option<Value> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    // (name, children, text)
    let mut stack: Vec<(String, Map<String, Value>, String)> = vec![(String::new(), Map::new(), String::new())];
    let open = |e: &quick_xml::events::BytesStart| {
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let mut children = Map::new();
        for a in e.attributes().flatten() {
            let key = format!("@{}", String::from_utf8_lossy(a.key.as_ref()));
            children.insert(key, Value::String(String::from_utf8_lossy(&a.value).into_owned()));
        }
        (name, children, String::new())
    };
    fn close(stack: &mut Vec<(String, Map<String, Value>, String)>) -> Option<()> {
        let (name, children, text) = stack.pop()?;
        let value = if children.is_empty() { Value::String(text) } else { Value::Object(children) };
        let parent = &mut stack.last_mut()?.1;
        match parent.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                parent.insert(name, value);
            }
        }
        Some(())
    }
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                stack.push(open(&e));
                close(&mut stack)?;
            }
            Event::End(_) => close(&mut stack)?,
            Event::Text(t) => stack.last_mut()?.2.push_str(&t.unescape().ok()?),
            Event::CData(t) => stack.last_mut()?.2.push_str(&String::from_utf8_lossy(&t)),
            Event::Eof => break,
            _ => {}
        }
    }
    (stack.len() == 1).then(|| Value::Object(stack.pop().map(|s| s.1).unwrap_or_default()))
}

fn is_request_id_key(key: &str) -> bool {
    matches!(key, "RequestId" | "requestId" | "HostId" | "x-amz-request-id" | "x-amz-id-2" | "x-amzn-requestid")
}

fn is_timestamp_key(key: &str) -> bool {
    ["Date", "Time", "Timestamp", "At", "LastModified", "Modified", "DateTime", "last-modified", "date", "expires"]
        .iter()
        .any(|s| key.ends_with(s))
        || matches!(key, "iat" | "exp" | "auth_time" | "StreamLabel")
}

/// A timestamp by member name, or by shape (ISO 8601, HTTP date, epoch seconds).
fn is_timestamp(key: &str, s: &str) -> bool {
    let iso = s.len() >= 19
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-'
        && matches!(s.as_bytes()[10], b'T' | b' ')
        && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    let http_date = chrono::DateTime::parse_from_rfc2822(s).is_ok();
    let epoch = is_timestamp_key(key) && s.parse::<f64>().is_ok();
    iso || http_date || epoch
}

/// Members whose values a service generates: ids, ARNs, tokens, ciphertexts, data keys.
fn is_generated_key(key: &str) -> bool {
    const SUFFIXES: [&str; 15] = [
        "Id",
        "ID",
        "Ids",
        "Arn",
        "Token",
        "Session",
        "Iterator",
        "SequenceNumber",
        "Blob",
        "Plaintext",
        "Sub",
        "ETag",
        "Secret",
        "Signature",
        "Label",
    ];
    SUFFIXES.iter().any(|s| key.ends_with(s))
        || matches!(key, "sub" | "kid" | "jti" | "origin_jti" | "event_id" | "etag" | "eventID" | "Marker")
        // Cognito's SRP challenge: the server's random values.
        || matches!(key, "SALT" | "SRP_B" | "SECRET_BLOCK")
        || key.starts_with("x-amz-server-side-encryption-aws-kms-key-id")
        || key.starts_with("x-amz-version-id")
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

fn media_type(v: &str) -> String {
    v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `com.amazonaws.kms#NotFoundException` and `NotFoundException:http://…` are
/// `NotFoundException` to every SDK.
fn error_code(v: &str) -> String {
    let v = v.rsplit('#').next().unwrap_or(v);
    v.split(':').next().unwrap_or(v).to_string()
}

fn quote(s: &str) -> String {
    shorten(&format!("{s:?}"))
}

fn shorten(s: &str) -> String {
    const MAX: usize = 160;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn shorten_value(v: &Value) -> String {
    shorten(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_learnt_and_must_then_stay_paired() {
        let mut c = Correspondence::new();
        let mut out = Vec::new();
        let recorded = br#"{"KeyMetadata":{"KeyId":"0b9b3c0e-1111-4aaa-8bbb-000000000001","Arn":"arn:aws:kms:us-east-1:123456789012:key/0b9b3c0e-1111-4aaa-8bbb-000000000001","KeyState":"Enabled","CreationDate":1.7E9}}"#;
        let replayed = br#"{"KeyMetadata":{"KeyId":"7f000000-2222-4ccc-9ddd-000000000002","Arn":"arn:aws:kms:us-east-1:000000000000:key/7f000000-2222-4ccc-9ddd-000000000002","KeyState":"Enabled","CreationDate":1764000000.5}}"#;
        c.compare_bodies(recorded, replayed, &mut out);
        assert_eq!(out, [], "ids, ARN, account and timestamp correspond");
        assert_eq!(c.get("123456789012"), Some("000000000000"));
        assert_eq!(c.get("0b9b3c0e-1111-4aaa-8bbb-000000000001"), Some("7f000000-2222-4ccc-9ddd-000000000002"));

        // A later request is rewritten with the replayed values, in JSON, forms and paths.
        assert_eq!(
            c.rewrite(r#"{"KeyId":"arn:aws:kms:us-east-1:123456789012:key/0b9b3c0e-1111-4aaa-8bbb-000000000001"}"#),
            r#"{"KeyId":"arn:aws:kms:us-east-1:000000000000:key/7f000000-2222-4ccc-9ddd-000000000002"}"#
        );
        assert_eq!(
            c.rewrite_form("Action=X&KeyArn=arn%3Aaws%3Akms%3Aus-east-1%3A123456789012%3Akey%2F0b9b3c0e-1111-4aaa-8bbb-000000000001&b=1"),
            "Action=X&KeyArn=arn%3Aaws%3Akms%3Aus-east-1%3A000000000000%3Akey%2F7f000000-2222-4ccc-9ddd-000000000002&b=1"
        );
        assert_eq!(
            c.rewrite_path("/bucket/0b9b3c0e-1111-4aaa-8bbb-000000000001?x-id=GetObject"),
            "/bucket/7f000000-2222-4ccc-9ddd-000000000002?x-id=GetObject"
        );

        // The same recorded id answered by another value, a state that differs, a member only
        // one side has: differences, each at its place.
        let recorded = br#"{"KeyId":"0b9b3c0e-1111-4aaa-8bbb-000000000001","KeyState":"Enabled","Extra":1}"#;
        let replayed = br#"{"KeyId":"7f000000-2222-4ccc-9ddd-000000000003","KeyState":"Disabled"}"#;
        c.compare_bodies(recorded, replayed, &mut out);
        let at: Vec<&str> = out.iter().map(|d| d.at.as_str()).collect();
        assert_eq!(at, ["body.Extra", "body.KeyId", "body.KeyState"], "members in order");
    }

    #[test]
    fn short_tokens_are_rewritten_only_where_they_are_a_whole_value() {
        let mut c = Correspondence::new();
        let mut out = Vec::new();
        c.compare_bodies(
            b"<ListBucketResult><NextContinuationToken>ZA==</NextContinuationToken></ListBucketResult>",
            b"<ListBucketResult><NextContinuationToken>b2s=</NextContinuationToken></ListBucketResult>",
            &mut out,
        );
        assert_eq!(out, []);
        assert_eq!(
            c.rewrite_path("/b?list-type=2&continuation-token=ZA%3D%3D"),
            "/b?list-type=2&continuation-token=b2s%3D"
        );
        assert_eq!(
            c.rewrite(r#"{"ExclusiveStartKey":"ZA==","Note":"xZA==y"}"#),
            r#"{"ExclusiveStartKey":"b2s=","Note":"xZA==y"}"#
        );
        assert_eq!(c.rewrite_path("/b/xZA%3D%3Dy"), "/b/xZA%3D%3Dy", "not inside other text");
    }

    #[test]
    fn xml_documents_and_headers_compare_as_trees() {
        let mut c = Correspondence::new();
        let mut out = Vec::new();
        let r = br#"<?xml version="1.0"?><CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:cf-1-t</TopicArn></CreateTopicResult><ResponseMetadata><RequestId>abc-1</RequestId></ResponseMetadata></CreateTopicResponse>"#;
        let p = br#"<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:000000000000:cf-1-t</TopicArn></CreateTopicResult><ResponseMetadata><RequestId>zzz-9</RequestId></ResponseMetadata></CreateTopicResponse>"#;
        c.compare_bodies(r, p, &mut out);
        assert_eq!(out, []);
        let r = br#"<Error><Code>NoSuchKey</Code><Key>k</Key></Error>"#;
        let p = br#"<Error><Code>NoSuchBucket</Code><Key>k</Key><BucketName>b</BucketName></Error>"#;
        c.compare_bodies(r, p, &mut out);
        let at: Vec<&str> = out.iter().map(|d| d.at.as_str()).collect();
        assert_eq!(at, ["body.Error.Code", "body.Error.BucketName"]);

        out.clear();
        c.compare_header(
            "content-type",
            Some("application/x-amz-json-1.1"),
            Some("application/x-amz-json-1.1; charset=utf-8"),
            &mut out,
        );
        c.compare_header(
            "x-amzn-errortype",
            Some("NotFoundException:http://internal"),
            Some("NotFoundException"),
            &mut out,
        );
        c.compare_header("x-amz-server-side-encryption", None, Some("AES256"), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].at, "header x-amz-server-side-encryption");
    }

    #[test]
    fn json_errors_compare_by_code_and_embedded_documents_by_member() {
        let mut c = Correspondence::new();
        let mut out = Vec::new();
        c.compare_bodies(
            br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'x' does not exist"}"#,
            br#"{"__type":"NotFoundException","message":"Key 'x' does not exist"}"#,
            &mut out,
        );
        assert_eq!(out, []);
        c.compare_bodies(
            br#"{"Policy":"{\"Statement\":[{\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Effect\":\"Allow\"}]}"}"#,
            br#"{"Policy":"{\"Statement\":[{\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Effect\":\"Deny\"}]}"}"#,
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].at, "body.Policy.Statement[0].Effect");
    }
}
