//! ImportImage parameters beyond the disk and the guest, as the current API reference has
//! them: `Features.NvmeSupport`, `Features.ImdsSupport`, `ResourceGroupId`, `Tag.N`,
//! `DetectionStrategy`. Each value is checked here, before any request, and an error names
//! the code the API would have answered with.

use crate::error::{Error, Result};

/// At most this many tags (`Tag.1..20`).
pub const MAX_TAGS: usize = 20;
/// Tag keys and values: at most this many characters.
pub const MAX_TAG_LEN: usize = 128;

/// What the user asked for; `None` or empty means "not sent".
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `supported` or `unsupported`.
    pub nvme: Option<String>,
    /// `v1` or `v2`.
    pub imds: Option<String>,
    pub resource_group: Option<String>,
    /// `KEY=VALUE` as given.
    pub tags: Vec<String>,
    /// `DetectionStrategy=Standard`: the service checks the image after import.
    pub detect: bool,
}

fn usage(code: &str, msg: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{msg} (the API would answer {code})"))
}

/// The checked parameters, in a stable order.
pub fn params(o: &Options) -> Result<Vec<(String, String)>> {
    let mut p = Vec::new();
    if let Some(n) = &o.nvme {
        let v = match n.trim().to_ascii_lowercase().as_str() {
            "supported" => "supported",
            "unsupported" => "unsupported",
            _ => {
                return Err(usage(
                    "InvalidParameter",
                    format!("--nvme {n:?} is not supported or unsupported"),
                ));
            }
        };
        p.push(("Features.NvmeSupport".to_string(), v.to_string()));
    }
    if let Some(i) = &o.imds {
        let v = match i.trim().to_ascii_lowercase().as_str() {
            "v1" => "v1",
            "v2" => "v2",
            _ => {
                return Err(usage(
                    "InvalidParameter.FeaturesImdsSupport",
                    format!("--imds {i:?} is not v1 or v2"),
                ));
            }
        };
        p.push(("Features.ImdsSupport".to_string(), v.to_string()));
    }
    if let Some(rg) = &o.resource_group {
        p.push(("ResourceGroupId".to_string(), check_resource_group(rg)?));
    }
    for (n, (k, v)) in check_tags(&o.tags)?.into_iter().enumerate() {
        p.push((format!("Tag.{}.Key", n + 1), k));
        p.push((format!("Tag.{}.Value", n + 1), v));
    }
    if o.detect {
        p.push(("DetectionStrategy".to_string(), "Standard".to_string()));
    }
    Ok(p)
}

/// Resource group ids look like `rg-acfmxazb4ph6aiy`: ASCII letters, digits and `-`.
pub fn check_resource_group(rg: &str) -> Result<String> {
    let ok = !rg.is_empty()
        && rg.len() <= 64
        && rg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(usage(
            "InvalidResourceGroup.NotFound",
            format!("--resource-group {rg:?} is not a resource group id like rg-acfm..."),
        ));
    }
    Ok(rg.to_string())
}

fn reserved(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("acs:") || l.starts_with("aliyun")
}

/// `KEY=VALUE` pairs: at most 20, keys 1..128 characters, values at most 128, neither
/// starting with `acs:` or `aliyun` nor containing `http://` or `https://`, no key twice.
pub fn check_tags(tags: &[String]) -> Result<Vec<(String, String)>> {
    if tags.len() > MAX_TAGS {
        return Err(usage(
            "InvalidTagCount",
            format!("{} tags given; at most {MAX_TAGS}", tags.len()),
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for t in tags {
        let Some((k, v)) = t.split_once('=') else {
            return Err(Error::Usage(format!("--tag {t:?} is not KEY=VALUE")));
        };
        let code = "InvalidTagKey.Malformed";
        let klen = k.chars().count();
        if !(1..=MAX_TAG_LEN).contains(&klen) {
            return Err(usage(
                code,
                format!("tag key {k:?} has {klen} characters; 1..128 allowed"),
            ));
        }
        if reserved(k) {
            return Err(usage(
                code,
                format!("tag key {k:?} must not start with acs: or aliyun"),
            ));
        }
        let code_v = "InvalidTagValue.Malformed";
        if v.chars().count() > MAX_TAG_LEN {
            return Err(usage(
                code_v,
                format!("the value of tag {k:?} is over 128 characters"),
            ));
        }
        if reserved(v) {
            return Err(usage(
                code_v,
                format!("the value of tag {k:?} must not start with acs: or aliyun"),
            ));
        }
        let web = |s: &str| s.contains("http://") || s.contains("https://");
        if web(k) || web(v) {
            return Err(usage(
                code,
                format!("tag {k:?} must not contain http:// or https://"),
            ));
        }
        if k.chars().chain(v.chars()).any(char::is_control) {
            return Err(usage(
                code,
                format!("tag {k:?} contains control characters"),
            ));
        }
        if out.iter().any(|(seen, _)| seen == k) {
            return Err(usage(
                "TagKey.Duplication",
                format!("tag key {k:?} is given twice"),
            ));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn features_group_tags_detection() {
        let o = Options {
            nvme: Some("Supported".into()),
            imds: Some("v2".into()),
            resource_group: Some("rg-acfm2x".into()),
            tags: tags(&["env=prod", "team=a=b", "empty="]),
            detect: true,
        };
        let p = params(&o).unwrap();
        let want: Vec<(String, String)> = [
            ("Features.NvmeSupport", "supported"),
            ("Features.ImdsSupport", "v2"),
            ("ResourceGroupId", "rg-acfm2x"),
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "prod"),
            ("Tag.2.Key", "team"),
            ("Tag.2.Value", "a=b"),
            ("Tag.3.Key", "empty"),
            ("Tag.3.Value", ""),
            ("DetectionStrategy", "Standard"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p, want);
        assert!(params(&Options::default()).unwrap().is_empty());
    }

    #[test]
    fn bad_values_name_the_code() {
        let e = |o: Options| params(&o).unwrap_err().to_string();
        assert!(
            e(Options {
                imds: Some("v3".into()),
                ..Options::default()
            })
            .contains("InvalidParameter.FeaturesImdsSupport")
        );
        assert!(
            e(Options {
                nvme: Some("yes".into()),
                ..Options::default()
            })
            .contains("--nvme")
        );
        assert!(
            e(Options {
                resource_group: Some("rg x".into()),
                ..Options::default()
            })
            .contains("InvalidResourceGroup.NotFound")
        );
        for bad in [
            "acs:x=1",
            "Aliyun-x=1",
            "=v",
            "k=acs:v",
            "k=https://x",
            "noequals",
        ] {
            assert!(check_tags(&tags(&[bad])).is_err(), "{bad}");
        }
        let long = format!("{}=v", "k".repeat(129));
        assert!(check_tags(&[long]).is_err());
        assert!(check_tags(&[format!("{}=v", "k".repeat(128))]).is_ok());
        let dup = check_tags(&tags(&["a=1", "a=2"])).unwrap_err().to_string();
        assert!(dup.contains("TagKey.Duplication"), "{dup}");
        let many: Vec<String> = (0..21).map(|i| format!("k{i}=v")).collect();
        assert!(check_tags(&many).is_err());
        assert!(check_tags(&many[..20]).is_ok());
    }
}
