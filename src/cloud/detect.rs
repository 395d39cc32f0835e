//! What the service's image check (`DetectionStrategy=Standard`) found: `DescribeImages`
//! `DetectionOptions` of the imported image, read once it is Available and followed while the
//! check is still Processing.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::ecs::find_image;
use super::rpc::{CallError, Client, Service};

/// Polls while the check says Processing before giving up on waiting for it.
pub const MAX_POLLS: u32 = 60;

/// One finding of the check; the import document's `detection.items[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Item {
    pub name: String,
    pub value: String,
    /// `High` or `Medium`.
    pub risk_level: String,
    pub risk_code: String,
}

/// The import document's `detection`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// `Processing` or `Finished` (empty: the service gave none).
    pub status: String,
    pub items: Vec<Item>,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `DetectionOptions` from one image of a DescribeImages answer. Items come as a list or,
/// in the API's usual JSON shape, as `{"Item": [...]}`.
pub fn parse(image: &Value) -> Detection {
    let Some(d) = image.get("DetectionOptions") else {
        return Detection::default();
    };
    let items = d.get("Items");
    let list = items
        .and_then(|i| i.get("Item"))
        .or(items)
        .and_then(Value::as_array);
    Detection {
        status: s(d, "Status"),
        items: list
            .map(|l| {
                l.iter()
                    .map(|i| Item {
                        name: s(i, "Name"),
                        value: s(i, "Value"),
                        risk_level: s(i, "RiskLevel"),
                        risk_code: s(i, "RiskCode"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Read the check's result, waiting `poll` between reads while it is Processing.
pub fn read(
    c: &Client,
    ecs: &Service,
    region: &str,
    image_id: &str,
    poll: Duration,
) -> Result<Detection, CallError> {
    let mut last = Detection::default();
    for i in 0..MAX_POLLS {
        let image = find_image(c, ecs, region, image_id)?;
        last = image.as_ref().map(parse).unwrap_or_default();
        if last.status != "Processing" || i + 1 == MAX_POLLS {
            break;
        }
        std::thread::sleep(poll);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_item_shapes() {
        let wrapped: Value = serde_json::from_str(
            r#"{"DetectionOptions":{"Status":"Finished","Items":{"Item":[
                {"Name":"virtio","Value":"not installed","RiskLevel":"High","RiskCode":"ImageNotSupported.Virtio"}]}}}"#,
        )
        .unwrap();
        let d = parse(&wrapped);
        assert_eq!(d.status, "Finished");
        assert_eq!(d.items[0].risk_code, "ImageNotSupported.Virtio");
        let flat: Value = serde_json::from_str(
            r#"{"DetectionOptions":{"Status":"Processing","Items":[{"Name":"n","Value":"v","RiskLevel":"Medium","RiskCode":"c"}]}}"#,
        )
        .unwrap();
        assert_eq!(parse(&flat).items.len(), 1);
        assert_eq!(parse(&serde_json::json!({})), Detection::default());
    }
}
