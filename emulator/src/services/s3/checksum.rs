//! Content-MD5 and the flexible checksums (`x-amz-checksum-*`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, CRC_64_NVME, Crc, Table};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use serde::Serialize;

use crate::error::{AwsError, Result};

// Slice-by-16 tables (built at compile time): every PUT checks or computes a CRC over the whole
// body, and the crate's default byte-at-a-time table made that the costliest step of a large PUT.
static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
static CRC64NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_NVME);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const ALL: [Algo; 5] = [Algo::Crc32, Algo::Crc32c, Algo::Crc64Nvme, Algo::Sha1, Algo::Sha256];

impl Algo {
    pub fn from_name(s: &str) -> Option<Algo> {
        ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Algo::Crc32 => "CRC32",
            Algo::Crc32c => "CRC32C",
            Algo::Crc64Nvme => "CRC64NVME",
            Algo::Sha1 => "SHA1",
            Algo::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Algo::Crc32 => "x-amz-checksum-crc32",
            Algo::Crc32c => "x-amz-checksum-crc32c",
            Algo::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algo::Sha1 => "x-amz-checksum-sha1",
            Algo::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn compute(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algo::Crc32 => CRC32.checksum(data).to_be_bytes().to_vec(),
            Algo::Crc32c => CRC32C.checksum(data).to_be_bytes().to_vec(),
            Algo::Crc64Nvme => CRC64NVME.checksum(data).to_be_bytes().to_vec(),
            Algo::Sha1 => Sha1::digest(data).to_vec(),
            Algo::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    pub fn b64(self, data: &[u8]) -> String {
        B64.encode(self.compute(data))
    }

    fn raw_len(self) -> usize {
        match self {
            Algo::Crc32 | Algo::Crc32c => 4,
            Algo::Crc64Nvme => 8,
            Algo::Sha1 => 20,
            Algo::Sha256 => 32,
        }
    }
}

/// The one `x-amz-checksum-*` value among `lookup`'s names, if any.
/// The `Checksum<ALGO>` members of S3's XML results (flattened into them): at most one is set.
#[derive(Debug, Default, Serialize)]
pub struct ChecksumMembers {
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

impl ChecksumMembers {
    /// `value` under the member of `algo`; nothing when either is absent.
    pub fn one(algo: Option<Algo>, value: Option<String>) -> Self {
        let mut m = Self::default();
        let (Some(algo), Some(value)) = (algo, value) else { return m };
        let slot = match algo {
            Algo::Crc32 => &mut m.crc32,
            Algo::Crc32c => &mut m.crc32c,
            Algo::Crc64Nvme => &mut m.crc64nvme,
            Algo::Sha1 => &mut m.sha1,
            Algo::Sha256 => &mut m.sha256,
        };
        *slot = Some(value);
        m
    }
}

pub fn supplied(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<(Algo, String)>> {
    let found: Vec<(Algo, String)> = ALL.into_iter().filter_map(|a| lookup(a.header()).map(|v| (a, v))).collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        _ => Err(AwsError::bad_request(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )),
    }
}

/// Checks a supplied checksum against the body.
pub fn verify(algo: Algo, value: &str, body: &[u8]) -> Result<()> {
    let raw = B64.decode(value.trim()).ok().filter(|r| r.len() == algo.raw_len()).ok_or_else(|| {
        AwsError::bad_request("InvalidRequest", format!("Value for {} header is invalid.", algo.header()))
    })?;
    if raw != algo.compute(body) {
        return Err(AwsError::bad_request(
            "BadDigest",
            format!("The {} you specified did not match the calculated checksum.", algo.name()),
        ));
    }
    Ok(())
}

/// MD5 of the body; checks `Content-MD5` when given.
pub fn md5_checked(content_md5: Option<&str>, body: &[u8]) -> Result<[u8; 16]> {
    let digest: [u8; 16] = Md5::digest(body).into();
    if let Some(given) = content_md5 {
        let raw = B64.decode(given.trim()).ok().filter(|r| r.len() == 16).ok_or_else(|| {
            AwsError::bad_request("InvalidDigest", "The Content-MD5 you specified was invalid.")
                .with("Content-MD5", given.to_string())
        })?;
        if raw != digest {
            return Err(AwsError::bad_request(
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            )
            .with("ExpectedDigest", hex::encode(&raw))
            .with("CalculatedDigest", B64.encode(digest)));
        }
    }
    Ok(digest)
}

/// The checksum of checksums of a multipart upload: `base64(H(raw1 ‖ raw2 ‖ …))-N`.
pub fn composite(algo: Algo, part_values: &[String]) -> Option<String> {
    let mut joined = Vec::new();
    for v in part_values {
        joined.extend(B64.decode(v).ok()?);
    }
    Some(format!("{}-{}", algo.b64(&joined), part_values.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(Algo::Crc32.compute(b"123456789"), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(Algo::Crc32c.compute(b"123456789"), 0xE306_9283u32.to_be_bytes());
        assert_eq!(Algo::Crc64Nvme.compute(b"123456789"), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
        assert!(verify(Algo::Crc32, &Algo::Crc32.b64(b"x"), b"x").is_ok());
        assert_eq!(verify(Algo::Crc32, &Algo::Crc32.b64(b"x"), b"y").unwrap_err().code, "BadDigest");
        assert_eq!(verify(Algo::Crc32, "!!", b"y").unwrap_err().code, "InvalidRequest");
    }
}
