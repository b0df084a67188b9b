//! `aws-chunked` request bodies: `hex-size[;chunk-signature=…]\r\n data \r\n … 0\r\n
//! trailer: value\r\n\r\n`. Chunk signatures are not checked (nor are other signatures unless
//! `--strict-auth`); trailing checksums are, by the caller.

use crate::error::{AwsError, Result};

/// Whether the request body is `aws-chunked` framed.
pub fn is_chunked(content_encoding: Option<&str>, content_sha256: Option<&str>) -> bool {
    content_encoding.is_some_and(|ce| ce.split(',').any(|p| p.trim().eq_ignore_ascii_case("aws-chunked")))
        || content_sha256.is_some_and(|h| h.starts_with("STREAMING-"))
}

/// A decoded body and its trailers (lower-case names).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

fn incomplete() -> AwsError {
    AwsError::bad_request("IncompleteBody", "The request body terminated unexpectedly")
}

fn line(input: &[u8], pos: usize) -> Result<(&[u8], usize)> {
    let rest = input.get(pos..).ok_or_else(incomplete)?;
    let end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(incomplete)?;
    Ok((&rest[..end], pos + end + 2))
}

pub fn decode(input: &[u8]) -> Result<Decoded> {
    let mut out = Decoded::default();
    let mut pos = 0;
    loop {
        let (header, next) = line(input, pos)?;
        let header = std::str::from_utf8(header).map_err(|_| incomplete())?;
        let size_hex = header.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| incomplete())?;
        pos = next;
        if size == 0 {
            break;
        }
        let data = input.get(pos..pos.checked_add(size).ok_or_else(incomplete)?).ok_or_else(incomplete)?;
        out.body.extend_from_slice(data);
        pos += size;
        if input.get(pos..pos + 2) != Some(b"\r\n") {
            return Err(incomplete());
        }
        pos += 2;
    }
    // Trailers until an empty line (or the end of the body).
    while pos < input.len() {
        let (l, next) = match line(input, pos) {
            Ok(v) => v,
            Err(_) => (&input[pos..], input.len()),
        };
        pos = next;
        if l.is_empty() {
            break;
        }
        let text = std::str::from_utf8(l).map_err(|_| incomplete())?;
        if let Some((k, v)) = text.split_once(':') {
            out.trailers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_signed_and_unsigned_framing() {
        let d = decode(b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n").unwrap();
        assert_eq!(d.body, b"hello world");
        assert_eq!(d.trailers, vec![("x-amz-checksum-crc32".to_string(), "AAAA".to_string())]);
        let d = decode(b"3;chunk-signature=ab\r\nabc\r\n0;chunk-signature=cd\r\n\r\n").unwrap();
        assert_eq!(d.body, b"abc");
        assert!(d.trailers.is_empty());
        assert_eq!(decode(b"5\r\nhel").unwrap_err().code, "IncompleteBody");
        assert_eq!(decode(b"zz\r\n").unwrap_err().code, "IncompleteBody");
    }
}
