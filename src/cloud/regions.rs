//! The ECS regions imgtool knows, in one place, and the closest one to a mistyped name.
//!
//! Source: the ECS API endpoint list (help.aliyun.com/en/ecs/developer-reference/
//! api-ecs-2014-05-26-endpoint, updated 2026-01) and the ECS "Regions and zones" page:
//! public-cloud regions, local regions, and the finance and government clouds. Closed regions
//! (Sydney `ap-southeast-2`, Mumbai `ap-south-1`) are left out: an import there cannot work.
//! A region opened after this list was written is refused with a hint to pass `--force`.

use super::credentials::{self, Credentials};
use super::settings::Env;
use crate::error::{Error, Result};

/// Every known region id, in the order of the vendor's list.
pub const KNOWN: &[&str] = &[
    // China
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-nanjing",
    "cn-fuzhou",
    "cn-wuhan-lr",
    "cn-shenzhen",
    "cn-heyuan",
    "cn-guangzhou",
    "cn-chengdu",
    "cn-zhengzhou-jva",
    "cn-hongkong",
    // Asia Pacific
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-southeast-8",
    // Europe and Americas
    "us-east-1",
    "us-west-1",
    "us-southeast-1",
    "na-south-1",
    "eu-central-1",
    "eu-west-1",
    // Middle East
    "me-east-1",
    "me-central-1",
    // Industry clouds
    "cn-hangzhou-finance",
    "cn-shanghai-finance-1",
    "cn-shenzhen-finance-1",
    "cn-beijing-finance-1",
    "cn-north-2-gov-1",
];

/// The region to use and where it came from: `--region`, else the credentials' source (a
/// profile's `region_id`, or the environment next to an access key), else
/// `ALIBABA_CLOUD_REGION_ID` (and its older spellings) on its own, as the aliyun CLI falls
/// back to it when the profile names no region. Works without credentials (a dry run).
pub fn choose(
    flag: Option<&str>,
    creds: Option<&Credentials>,
    env: Env<'_>,
) -> Result<(String, String)> {
    if let Some(r) = flag {
        return Ok((r.to_string(), "--region".into()));
    }
    if let Some(c) = creds {
        if let Some(r) = &c.region {
            return Ok((r.clone(), c.source.clone()));
        }
    }
    if let Some((var, r)) = credentials::region_from_env(env) {
        return Ok((r, var));
    }
    Err(Error::Usage(
        "no region: pass --region (or set ALIBABA_CLOUD_REGION_ID)".into(),
    ))
}

/// Refuse a region imgtool does not know, naming the closest known one; `force` lets a
/// region newer than this list through.
pub fn check_known(region: &str, force: bool) -> Result<()> {
    if force || is_known(region) {
        return Ok(());
    }
    let hint = match closest(region) {
        Some(c) => format!("did you mean {c}? "),
        None => String::new(),
    };
    Err(Error::Usage(format!(
        "region {region:?} is not a known ECS region; {hint}(the list is in docs/limits.md; \
         pass --force for a region newer than it)"
    )))
}

pub fn is_known(region: &str) -> bool {
    KNOWN.contains(&region)
}

/// The known region closest to `region` by edit distance, when it is close enough to be a
/// typo (at most a third of the name differs).
pub fn closest(region: &str) -> Option<&'static str> {
    let (best, d) = KNOWN
        .iter()
        .map(|k| (*k, distance(region, k)))
        .min_by_key(|(_, d)| *d)?;
    (d <= region.len().max(best.len()) / 3).then_some(best)
}

/// Damerau-Levenshtein (optimal string alignment) distance: a swapped pair of letters, the
/// commonest typo (`hangzhuo`), counts as one edit.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_region() {
        assert!(is_known("cn-hangzhou"));
        assert!(!is_known("cn-hangzhuo"));
        assert_eq!(closest("cn-hangzhuo"), Some("cn-hangzhou"));
        assert_eq!(closest("cn-shanghia"), Some("cn-shanghai"));
        assert_eq!(closest("ap-southeast-9"), Some("ap-southeast-1"));
        assert_eq!(closest("eu-centrl-1"), Some("eu-central-1"));
        // Nothing near: no suggestion rather than a silly one.
        assert_eq!(closest("mars-north-7"), None);
    }

    #[test]
    fn unknown_regions_are_refused_unless_forced() {
        let e = check_known("cn-hangzhuo", false).unwrap_err().to_string();
        assert!(e.contains("did you mean cn-hangzhou?"), "{e}");
        assert!(e.contains("--force"), "{e}");
        assert!(check_known("cn-hangzhuo", true).is_ok());
        assert!(check_known("cn-hangzhou", false).is_ok());
    }

    #[test]
    fn region_falls_back_to_the_environment() {
        let env = |k: &str| (k == "ALIBABA_CLOUD_REGION_ID").then(|| "cn-beijing".to_string());
        let none = |_: &str| None;
        assert_eq!(choose(None, None, &env).unwrap().0, "cn-beijing");
        assert_eq!(
            choose(Some("cn-hangzhou"), None, &env).unwrap().0,
            "cn-hangzhou"
        );
        assert!(choose(None, None, &none).is_err());
    }

    #[test]
    fn the_list_is_well_formed() {
        for r in KNOWN {
            assert!(crate::plan::check_region(r).is_ok(), "{r}");
        }
        let mut sorted = KNOWN.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), KNOWN.len());
    }
}
