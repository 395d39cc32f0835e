//! OSS's XML documents, read and written by `quick-xml` with serde: the answers we use
//! (ListParts, InitiateMultipartUpload, GetBucketLocation, Error) and the one document we
//! send (CompleteMultipartUpload). Answers are read from a body already bounded in size
//! (`MAX_BODY`); fields we cannot use make the part or the field absent, not a panic.

use serde::{Deserialize, Serialize};

use super::ListedPart;

/// `ListPartsResult`: a page of uploaded parts.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPartsResult {
    is_truncated: Option<String>,
    next_part_number_marker: Option<String>,
    #[serde(default, rename = "Part")]
    parts: Vec<PartXml>,
}

/// One `<Part>` as listed; each field kept as text so that one unreadable part is skipped
/// rather than failing the page.
#[derive(Debug, Default, Deserialize)]
struct PartXml {
    #[serde(rename = "PartNumber")]
    number: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
    #[serde(rename = "Size")]
    size: Option<String>,
    #[serde(rename = "HashCrc64ecma")]
    crc64: Option<String>,
}

impl PartXml {
    fn listed(&self) -> Option<ListedPart> {
        Some(ListedPart {
            number: self.number.as_deref()?.trim().parse().ok()?,
            etag: self.etag.as_deref()?.trim().to_string(),
            size: self.size.as_deref()?.trim().parse().ok()?,
            crc64: self.crc64.as_deref().and_then(|c| c.trim().parse().ok()),
        })
    }
}

/// A page of ListParts: its readable parts, whether more follow, and the next marker.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PartsPage {
    pub parts: Vec<ListedPart>,
    pub truncated: bool,
    pub next_marker: Option<u32>,
}

/// A ListParts answer; `None` when the body is not such a document.
pub fn list_parts(body: &str) -> Option<PartsPage> {
    let r: ListPartsResult = quick_xml::de::from_str(body).ok()?;
    Some(PartsPage {
        parts: r.parts.iter().filter_map(PartXml::listed).collect(),
        truncated: r.is_truncated.as_deref().map(str::trim) == Some("true"),
        next_marker: r
            .next_part_number_marker
            .and_then(|m| m.trim().parse().ok()),
    })
}

#[derive(Debug, Deserialize)]
struct InitiateMultipartUploadResult {
    #[serde(rename = "UploadId")]
    upload_id: Option<String>,
}

/// The UploadId of an InitiateMultipartUpload answer, when there is a non-empty one.
pub fn upload_id(body: &str) -> Option<String> {
    let r: InitiateMultipartUploadResult = quick_xml::de::from_str(body).ok()?;
    r.upload_id
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, Deserialize)]
struct LocationConstraint {
    #[serde(rename = "$text")]
    region: Option<String>,
}

/// GetBucketLocation's answer (`oss-cn-hangzhou`); empty when it names none.
pub fn location(body: &str) -> String {
    quick_xml::de::from_str::<LocationConstraint>(body)
        .ok()
        .and_then(|l| l.region)
        .map(|r| r.trim().to_string())
        .unwrap_or_default()
}

/// OSS's error document.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorXml {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The bucket's endpoint, when the request went to another region's.
    pub endpoint: Option<String>,
}

/// An error answer's fields; all absent when the body is not an error document.
pub fn error(body: &str) -> ErrorXml {
    quick_xml::de::from_str(body).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename = "CompleteMultipartUpload")]
struct CompleteMultipartUpload<'a> {
    #[serde(rename = "Part")]
    parts: Vec<CompletePart<'a>>,
}

#[derive(Serialize)]
struct CompletePart<'a> {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: std::borrow::Cow<'a, str>,
}

/// The CompleteMultipartUpload document; ETags are sent quoted, as ListParts and UploadPart
/// give them.
pub fn complete(parts: &[(u32, String)]) -> String {
    let doc = CompleteMultipartUpload {
        parts: parts
            .iter()
            .map(|(n, etag)| CompletePart {
                number: *n,
                etag: if etag.starts_with('"') {
                    etag.as_str().into()
                } else {
                    format!("\"{etag}\"").into()
                },
            })
            .collect(),
    };
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut ser = quick_xml::se::Serializer::new(&mut s);
    // `&`, `<` and `>` escaped in text; the ETag's quotes stay as they are.
    ser.set_quote_level(quick_xml::se::QuoteLevel::Partial);
    // Serializing these two plain structs into a String cannot fail; an empty document
    // would be refused by the server (MalformedXML), never sent silently wrong.
    if doc.serialize(ser).is_err() {
        s.clear();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parts_reads_fields_and_skips_unreadable_parts() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult>\
            <Bucket>b</Bucket><IsTruncated>true</IsTruncated>\
            <NextPartNumberMarker>2</NextPartNumberMarker>\
            <Part><PartNumber>1</PartNumber><ETag>&quot;AB&quot;</ETag><Size>102400</Size>\
            <HashCrc64ecma>42</HashCrc64ecma><LastModified>x</LastModified></Part>\
            <Part><PartNumber>2</PartNumber><ETag>\"CD\"</ETag><Size>5</Size></Part>\
            <Part><PartNumber>x</PartNumber><ETag>\"EF\"</ETag><Size>5</Size></Part>\
            </ListPartsResult>";
        let page = list_parts(doc).unwrap();
        assert_eq!(page.parts.len(), 2);
        assert_eq!(page.parts[0].etag, "\"AB\"");
        assert_eq!(page.parts[0].crc64, Some(42));
        assert_eq!(page.parts[1].crc64, None);
        assert!(page.truncated);
        assert_eq!(page.next_marker, Some(2));
        // One part alone, no truncation flag.
        let page = list_parts(
            "<ListPartsResult><Part><PartNumber>3</PartNumber><ETag>e</ETag><Size>1</Size>\
             </Part></ListPartsResult>",
        )
        .unwrap();
        assert_eq!(page.parts.len(), 1);
        assert!(!page.truncated);
        assert!(list_parts("<a>unclosed").is_none());
    }

    #[test]
    fn answers_and_errors() {
        assert_eq!(
            upload_id(
                "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>0004B9</UploadId></InitiateMultipartUploadResult>"
            ),
            Some("0004B9".into())
        );
        assert_eq!(
            upload_id(
                "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>"
            ),
            None
        );
        assert_eq!(
            location(
                "<?xml version=\"1.0\"?>\n<LocationConstraint>oss-cn-hangzhou</LocationConstraint>"
            ),
            "oss-cn-hangzhou"
        );
        assert_eq!(location("garbage"), "");
        let e = error(
            "<Error><Code>AccessDenied</Code><Message>a &amp; b</Message>\
             <RequestId>R1</RequestId><Bucket>b</Bucket><Endpoint>oss-x.aliyuncs.com</Endpoint></Error>",
        );
        assert_eq!(e.code.as_deref(), Some("AccessDenied"));
        assert_eq!(e.message.as_deref(), Some("a & b"));
        assert_eq!(e.request_id.as_deref(), Some("R1"));
        assert_eq!(e.endpoint.as_deref(), Some("oss-x.aliyuncs.com"));
        assert_eq!(error("not xml <"), ErrorXml::default());
    }

    #[test]
    fn complete_document_quotes_etags_and_escapes() {
        let x = complete(&[(1, "AB".into()), (2, "\"C&D\"".into())]);
        assert!(
            x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>"),
            "{x}"
        );
        assert!(
            x.contains("<Part><PartNumber>1</PartNumber><ETag>\"AB\"</ETag></Part>"),
            "{x}"
        );
        assert!(
            x.contains("<PartNumber>2</PartNumber><ETag>\"C&amp;D\"</ETag>"),
            "{x}"
        );
        assert!(x.ends_with("</CompleteMultipartUpload>"), "{x}");
    }
}
