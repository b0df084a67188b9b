//! AWS Signature Version 4: who signed a request, and (with `--strict-auth`, or always for
//! presigned URLs whose key is known) whether the signature is right.
//!
//! The signature is recomputed from the request exactly as the client computed it: canonical
//! request → string to sign → HMAC-SHA256 chain over date/region/service. The hashing is done
//! by the `hmac`/`sha2` crates; this module only arranges the canonical text.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Everything the signature says about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub access_key: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `X-Amz-Date` (header or query).
    pub amz_date: Option<String>,
    /// Set for presigned URLs: seconds of validity (`X-Amz-Expires`).
    pub expires: Option<i64>,
}

impl Signature {
    pub fn is_presigned(&self) -> bool {
        self.expires.is_some()
    }

    /// When the signature was made.
    pub fn signed_at(&self) -> Option<DateTime<Utc>> {
        let d = self.amz_date.as_deref()?;
        NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").ok().map(|n| Utc.from_utc_datetime(&n))
    }

    fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// Reads the signature from the `Authorization` header or, failing that, the presigned query.
pub fn parse(headers: &HeaderMap, query: Option<&str>) -> Option<Signature> {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return parse_header(auth, headers);
    }
    parse_query(query?)
}

fn parse_header(auth: &str, headers: &HeaderMap) -> Option<Signature> {
    let rest = auth.strip_prefix(ALGORITHM)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (access_key, date, region, service) = split_credential(credential?)?;
    Some(Signature {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.unwrap_or_default().split(';').map(str::to_string).collect(),
        signature: signature?.to_string(),
        amz_date: headers.get("x-amz-date").and_then(|v| v.to_str().ok()).map(str::to_string),
        expires: None,
    })
}

fn parse_query(query: &str) -> Option<Signature> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if get("X-Amz-Algorithm")? != ALGORITHM {
        return None;
    }
    let (access_key, date, region, service) = split_credential(get("X-Amz-Credential")?)?;
    Some(Signature {
        access_key,
        date,
        region,
        service,
        signed_headers: get("X-Amz-SignedHeaders").unwrap_or("host").split(';').map(str::to_string).collect(),
        signature: get("X-Amz-Signature")?.to_string(),
        amz_date: get("X-Amz-Date").map(str::to_string),
        expires: Some(get("X-Amz-Expires").and_then(|e| e.parse().ok()).unwrap_or(0)),
    })
}

/// An `Authorization` header with its signature replaced by `replacement`; the credential
/// scope (who signed, for which service and region) stays readable. `None`: not SigV4.
pub fn redact_authorization(auth: &str, replacement: &str) -> Option<String> {
    let rest = auth.strip_prefix(ALGORITHM)?.trim_start();
    let parts: Vec<String> = rest
        .split(',')
        .map(|part| match part.trim().split_once('=') {
            Some(("Signature", _)) => format!("Signature={replacement}"),
            _ => part.trim().to_string(),
        })
        .collect();
    Some(format!("{ALGORITHM} {}", parts.join(", ")))
}

/// `AKID/20260101/us-east-1/s3/aws4_request` → its parts.
fn split_credential(c: &str) -> Option<(String, String, String, String)> {
    let mut it = c.split('/');
    let (ak, date, region, service, term) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    (term == "aws4_request").then(|| (ak.into(), date.into(), region.into(), service.into()))
}

/// The characters SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The parts of a request the signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as it came on the wire (still percent-encoded).
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// Hex SHA-256 of the body, or the literal the client signed (`UNSIGNED-PAYLOAD`, …).
    pub payload_hash: &'a str,
    /// S3 signs the path as sent; every other service signs it encoded once more.
    pub double_encode_path: bool,
}

/// Recomputes the signature with `secret` and compares.
pub fn verify(sig: &Signature, secret: &str, req: &SignedRequest<'_>) -> bool {
    let Some(amz_date) = sig.amz_date.as_deref() else {
        return false;
    };
    let canonical = canonical_request(sig, req);
    let string_to_sign =
        format!("{ALGORITHM}\n{amz_date}\n{}\n{}", sig.scope(), hex::encode(Sha256::digest(canonical)));
    let key = signing_key(secret, &sig.date, &sig.region, &sig.service);
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    constant_time_eq(expected.as_bytes(), sig.signature.as_bytes())
}

fn canonical_request(sig: &Signature, req: &SignedRequest<'_>) -> String {
    let path = if req.raw_path.is_empty() { "/" } else { req.raw_path };
    let path = if req.double_encode_path {
        path.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
    } else {
        path.to_string()
    };
    let mut query: Vec<(String, String)> = req
        .raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (uri_encode(&dec(k)), uri_encode(&dec(v)))
        })
        .filter(|(k, _)| !(sig.is_presigned() && k == "X-Amz-Signature"))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers = String::new();
    for name in &sig.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!("{}\n{path}\n{query}\n{headers}\n{}\n{}", req.method, sig.signed_headers.join(";"), req.payload_hash)
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "get-vanilla" case of AWS's published SigV4 test suite.
    #[test]
    fn verifies_the_published_get_vanilla_vector() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                .parse()
                .unwrap(),
        );
        let sig = parse(&headers, None).unwrap();
        assert_eq!(sig.access_key, "AKIDEXAMPLE");
        assert_eq!(sig.service, "service");
        let empty = hex::encode(Sha256::digest(b""));
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: None,
            headers: &headers,
            payload_hash: &empty,
            double_encode_path: true,
        };
        assert!(verify(&sig, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &req));
        assert!(!verify(&sig, "wrong-secret", &req));
    }

    #[test]
    fn parses_presigned_query() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
        let sig = parse(&HeaderMap::new(), Some(q)).unwrap();
        assert_eq!(sig.expires, Some(60));
        assert_eq!(sig.service, "s3");
        assert_eq!(sig.signed_at().unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }
}
