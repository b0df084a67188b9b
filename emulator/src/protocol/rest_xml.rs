//! restXml (S3): operations are chosen by method, path and query; members travel in headers,
//! the path, the query and an XML body. Errors are a bare `<Error>` document (no envelope);
//! HEAD responses carry the status only.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{AwsError, Result};

pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Serialises `value` as the root element `root` with the XML declaration AWS sends.
pub fn to_xml<T: Serialize>(root: &str, value: &T) -> Result<Vec<u8>> {
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let ser = quick_xml::se::Serializer::with_root(&mut body, Some(root))
        .map_err(|e| AwsError::internal(format!("xml: {e}")))?;
    value.serialize(ser).map_err(|e| AwsError::internal(format!("xml: {e}")))?;
    Ok(body.into_bytes())
}

/// A 200 XML response.
pub fn xml<T: Serialize>(root: &str, value: &T) -> Result<Response> {
    let body = to_xml(root, value)?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], body).into_response())
}

/// Parses a request body; anything unparsable is S3's `MalformedXML`.
pub fn from_xml<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(body).map_err(|_| malformed_xml())?;
    quick_xml::de::from_str(text).map_err(|_| malformed_xml())
}

pub fn malformed_xml() -> AwsError {
    AwsError::bad_request(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub fn error_response(err: &AwsError, request_id: &str, head: bool) -> Response {
    if head {
        return Response::builder().status(err.status).body(Body::empty()).expect("static response");
    }
    let mut w = Writer::new(Vec::new());
    let el = |w: &mut Writer<Vec<u8>>, name: &str, text: &str| {
        w.write_event(Event::Start(BytesStart::new(name))).expect("write to Vec");
        w.write_event(Event::Text(BytesText::from_escaped(partial_escape(text)))).expect("write to Vec");
        w.write_event(Event::End(BytesEnd::new(name))).expect("write to Vec");
    };
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect("write to Vec");
    w.get_mut().push(b'\n');
    w.write_event(Event::Start(BytesStart::new("Error"))).expect("write to Vec");
    el(&mut w, "Code", &err.code);
    el(&mut w, "Message", &err.message);
    for (k, v) in &err.extra {
        el(&mut w, k, v);
    }
    el(&mut w, "RequestId", request_id);
    el(&mut w, "HostId", &host_id(request_id));
    w.write_event(Event::End(BytesEnd::new("Error"))).expect("write to Vec");
    (err.status, [(header::CONTENT_TYPE, "application/xml")], w.into_inner()).into_response()
}

/// The `x-amz-id-2` / `HostId` value that goes with a request id.
pub fn host_id(request_id: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(request_id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Thing {
        #[serde(rename = "@xmlns")]
        xmlns: String,
        name: String,
    }

    #[test]
    fn round_trip_and_malformed() {
        let v = Thing { xmlns: S3_XMLNS.into(), name: "a&b".into() };
        let bytes = to_xml("Thing", &v).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("<?xml"), "{text}");
        assert!(text.contains("<Name>a&amp;b</Name>"), "{text}");
        assert_eq!(from_xml::<Thing>(&bytes).unwrap(), v);
        assert_eq!(from_xml::<Thing>(b"<Thing><Name>").unwrap_err().code, "MalformedXML");
    }
}
