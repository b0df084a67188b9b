//! awsQuery: form-encoded `Action=Op&Version=…&Member=…` in, XML out.
//!
//! Inputs are flat key/value pairs; lists and maps are spelled with numbered members
//! (`Tags.member.1.Key`, `Attributes.entry.1.key`). [`QueryInput`] reads those shapes; an
//! [`XmlBody`] writes the `<OpResponse><OpResult>…</OpResult><ResponseMetadata>` envelope.

use std::collections::{BTreeMap, HashMap};

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::error::{AwsError, Result};

/// What differs between query services: the XML namespace of responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    pub xmlns: &'static str,
}

/// The decoded parameters of one query request.
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    params: HashMap<String, String>,
}

impl QueryInput {
    /// Parses an `application/x-www-form-urlencoded` body (or a URL query string).
    pub fn parse(form: &[u8]) -> Result<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(form)
            .map_err(|e| AwsError::bad_request("MalformedQueryString", format!("Malformed query string: {e}")))?;
        Ok(Self { params: pairs.into_iter().collect() })
    }

    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A required parameter; absent → AWS's `ValidationError` naming it.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| {
            AwsError::bad_request(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    crate::error::lower_first(name)
                ),
            )
        })
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(AwsError::bad_request(
                "InvalidParameter",
                format!("Invalid parameter: {name} must be a boolean, got {v}"),
            )),
        }
    }

    /// `Prefix.member.N` values in order of N.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.numbered(&format!("{prefix}.member."))
            .into_iter()
            .filter_map(|(_, fields)| fields.get("").cloned())
            .collect()
    }

    /// `Prefix.entry.N.key` / `Prefix.entry.N.value` pairs as a map.
    pub fn map(&self, prefix: &str) -> BTreeMap<String, String> {
        self.numbered(&format!("{prefix}.entry."))
            .into_iter()
            .filter_map(|(_, f)| Some((f.get("key")?.clone(), f.get("value").cloned().unwrap_or_default())))
            .collect()
    }

    /// Structures under `Prefix.N.…` (or `Prefix.member.N.…`, `Prefix.entry.N.…`): for each N,
    /// the sub-fields by their dotted remainder (`""` for the value at `Prefix.N` itself).
    pub fn numbered(&self, prefix: &str) -> Vec<(u32, BTreeMap<String, String>)> {
        let mut out: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.params {
            let Some(rest) = k.strip_prefix(prefix) else {
                continue;
            };
            let (n, field) = match rest.split_once('.') {
                Some((n, field)) => (n, field),
                None => (rest, ""),
            };
            if let Ok(n) = n.parse::<u32>() {
                out.entry(n).or_default().insert(field.to_string(), v.clone());
            }
        }
        out.into_iter().collect()
    }
}

/// Writer for a query response body.
pub struct XmlBody {
    w: Writer<Vec<u8>>,
}

impl Default for XmlBody {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlBody {
    pub fn new() -> Self {
        Self { w: Writer::new(Vec::new()) }
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.w.write_event(Event::Start(BytesStart::new(name))).expect("write to Vec");
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.w.write_event(Event::End(BytesEnd::new(name))).expect("write to Vec");
        self
    }

    /// `<name>text</name>` with `text` escaped.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        self.w.write_event(Event::Text(BytesText::from_escaped(partial_escape(text)))).expect("write to Vec");
        self.close(name)
    }

    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.text(name, t);
        }
        self
    }

    /// `<Prefix><entry><key>k</key><value>v</value></entry>…</Prefix>`.
    pub fn map<'a>(&mut self, name: &str, entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> &mut Self {
        self.open(name);
        for (k, v) in entries {
            self.open("entry").text("key", k).text("value", v).close("entry");
        }
        self.close(name)
    }

    fn into_inner(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// The 200 response for `action`: `result` writes the inside of `<{action}Result>`.
pub fn respond(flavor: Flavor, action: &str, request_id: &str, result: impl FnOnce(&mut XmlBody)) -> Response {
    let mut x = XmlBody::new();
    let root = format!("{action}Response");
    let mut start = BytesStart::new(root.as_str());
    start.push_attribute(("xmlns", flavor.xmlns));
    x.w.write_event(Event::Start(start)).expect("write to Vec");
    let result_name = format!("{action}Result");
    x.open(&result_name);
    result(&mut x);
    x.close(&result_name);
    x.open("ResponseMetadata").text("RequestId", request_id).close("ResponseMetadata");
    x.close(&root);
    xml_response(StatusCode::OK, x.into_inner())
}

pub fn error_response(flavor: Flavor, err: &AwsError, request_id: &str) -> Response {
    let mut x = XmlBody::new();
    let mut start = BytesStart::new("ErrorResponse");
    start.push_attribute(("xmlns", flavor.xmlns));
    x.w.write_event(Event::Start(start)).expect("write to Vec");
    x.open("Error")
        .text("Type", if err.sender_fault { "Sender" } else { "Receiver" })
        .text("Code", &err.code)
        .text("Message", &err.message);
    for (k, v) in &err.extra {
        x.text(k, v);
    }
    x.close("Error").text("RequestId", request_id).close("ErrorResponse");
    xml_response(err.status, x.into_inner())
}

fn xml_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut out = Writer::new(Vec::with_capacity(body.len() + 40));
    out.write_event(Event::Decl(BytesDecl::new("1.0", None, None))).expect("write to Vec");
    let mut bytes = out.into_inner();
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    (status, [(header::CONTENT_TYPE, "text/xml")], bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_maps_and_structures() {
        let q = QueryInput::parse(
            b"Action=CreateTopic&Name=t&Attributes.entry.2.key=B&Attributes.entry.2.value=2&Attributes.entry.1.key=A&Attributes.entry.1.value=1&Tags.member.1.Key=k&Tags.member.1.Value=v&Ids.member.2=y&Ids.member.1=x",
        )
        .unwrap();
        assert_eq!(q.action(), Some("CreateTopic"));
        assert_eq!(
            q.map("Attributes").into_iter().collect::<Vec<_>>(),
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        let tags = q.numbered("Tags.member.");
        assert_eq!(tags[0].1["Key"], "k");
        assert_eq!(q.list("Ids"), vec!["x", "y"]);
        assert_eq!(q.required("Nope").unwrap_err().code, "ValidationError");
    }

    #[test]
    fn text_is_escaped() {
        let mut x = XmlBody::new();
        x.text("M", "a<b&c");
        assert_eq!(String::from_utf8(x.into_inner()).unwrap(), "<M>a&lt;b&amp;c</M>");
        let mut y = XmlBody::new();
        y.text("M", "it's \"q\"");
        assert_eq!(String::from_utf8(y.into_inner()).unwrap(), "<M>it's \"q\"</M>");
    }
}
