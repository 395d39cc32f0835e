//! Parsers for the boot loader's files: `grub.cfg` (menu entries and submenus, `set
//! default`, the `blscfg` command), Boot Loader Specification entries
//! (`/boot/loader/entries/*.conf`) and `grubenv`. Pure text in, facts out: no file access
//! (fuzzed by `fuzzing::readiness_parsers`).

/// Nesting deeper than this (braces in a grub.cfg) is not followed.
const MAX_DEPTH: usize = 16;
/// Menu entries kept at most.
const MAX_ENTRIES: usize = 1024;

/// A boot entry: where its kernel and initramfs are, and the kernel's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootEntry {
    pub title: String,
    pub id: Option<String>,
    /// The `linux` path as written (relative to the file system grub reads it from).
    pub kernel: Option<String>,
    pub args: String,
    /// The `initrd` paths as written; the last is the initramfs (earlier ones are microcode).
    pub initrd: Vec<String>,
    /// Where it was found: `grub.cfg line N` or the BLS file name.
    pub at: String,
    /// For grub.cfg: the submenu path (`[]` at top level) and index within its menu.
    pub path: Vec<usize>,
}

/// What a grub.cfg holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrubCfg {
    pub entries: Vec<BootEntry>,
    /// The `set default=` values in order (the last literal one wins).
    pub defaults: Vec<String>,
    /// The config hands the menu to BLS entries (`blscfg`, Fedora/RHEL 8+).
    pub blscfg: bool,
}

/// Words of a grub.cfg line, with '...' and "..." quoting (no escapes but `\"` in "...").
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.extend(chars.next()),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, '#') if !has && cur.is_empty() => break,
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[derive(Clone, Copy)]
enum Block {
    Entry(usize),
    Submenu,
    Other,
}

/// Parse a grub.cfg.
pub fn parse_grub_cfg(text: &str) -> GrubCfg {
    let mut cfg = GrubCfg::default();
    // The open blocks, and per menu level the number of items seen.
    let mut stack: Vec<Block> = Vec::new();
    let mut menu_path: Vec<usize> = Vec::new();
    let mut counts: Vec<usize> = vec![0];
    for (n, line) in text.lines().enumerate() {
        let w = words(line.trim());
        let Some(first) = w.first().map(String::as_str) else {
            continue;
        };
        match first {
            "menuentry" | "submenu" if stack.len() < MAX_DEPTH => {
                let title = w.get(1).cloned().unwrap_or_default();
                let id = w
                    .iter()
                    .position(|x| x == "--id" || x == "$menuentry_id_option")
                    .and_then(|i| w.get(i + 1))
                    .cloned();
                let level = menu_path.len();
                let index = counts.get(level).copied().unwrap_or(0);
                if let Some(c) = counts.get_mut(level) {
                    *c += 1;
                }
                let mut path = menu_path.clone();
                path.push(index);
                if cfg.entries.len() >= MAX_ENTRIES {
                    stack.push(Block::Other);
                } else if first == "submenu" {
                    stack.push(Block::Submenu);
                    menu_path.push(index);
                    counts.push(0);
                    cfg.entries.push(BootEntry {
                        title,
                        id,
                        at: format!("grub.cfg line {} (submenu)", n + 1),
                        path,
                        ..BootEntry::default()
                    });
                } else {
                    stack.push(Block::Entry(cfg.entries.len()));
                    cfg.entries.push(BootEntry {
                        title,
                        id,
                        at: format!("grub.cfg line {}", n + 1),
                        path,
                        ..BootEntry::default()
                    });
                }
            }
            "}" => {
                if let Some(Block::Submenu) = stack.pop() {
                    menu_path.pop();
                    counts.pop();
                }
            }
            "linux" | "linux16" | "linuxefi" | "initrd" | "initrd16" | "initrdefi" => {
                let Some(Block::Entry(i)) = stack.last().copied() else {
                    continue;
                };
                let Some(e) = cfg.entries.get_mut(i) else {
                    continue;
                };
                if first.starts_with("linux") {
                    e.kernel = w.get(1).cloned();
                    e.args = w.get(2..).unwrap_or_default().join(" ");
                    e.at = format!("grub.cfg line {}", n + 1);
                } else {
                    e.initrd = w.get(1..).unwrap_or_default().to_vec();
                }
            }
            "set" => {
                if let Some(v) = w.get(1).and_then(|a| a.strip_prefix("default=")) {
                    cfg.defaults.push(v.to_string());
                }
            }
            "blscfg" => cfg.blscfg = true,
            _ if w.last().is_some_and(|l| l == "{") && stack.len() < MAX_DEPTH => {
                stack.push(Block::Other);
            }
            _ => {}
        }
    }
    cfg
}

impl GrubCfg {
    /// The entry grub boots by default: `default` is an index path (`1>2`), an id or a
    /// title; anything unknown falls back to the first entry, as grub does. `saved` replaces
    /// `${saved_entry}`.
    pub fn default_entry(&self, saved: Option<&str>) -> Option<(&BootEntry, String)> {
        let raw = self.defaults.iter().rev().find_map(|d| {
            if d.contains("saved_entry") {
                saved.map(str::to_string)
            } else if d.contains('$') {
                None
            } else {
                Some(d.clone())
            }
        });
        let bootable = |e: &&BootEntry| e.kernel.is_some();
        if let Some(d) = &raw {
            let mut path = Vec::new();
            let mut prefix: Vec<usize> = Vec::new();
            for part in d.split('>') {
                let idx = part.parse::<usize>().ok().or_else(|| {
                    self.entries
                        .iter()
                        .find(|e| {
                            e.path.len() == prefix.len() + 1
                                && e.path.starts_with(&prefix)
                                && (e.id.as_deref() == Some(part) || e.title == part)
                        })
                        .and_then(|e| e.path.last().copied())
                });
                let Some(idx) = idx else {
                    path.clear();
                    break;
                };
                prefix.push(idx);
                path.push(idx);
            }
            if let Some(e) = self
                .entries
                .iter()
                .filter(bootable)
                .find(|e| e.path == path)
            {
                return Some((e, format!("set default=\"{d}\"")));
            }
        }
        let first = self.entries.iter().find(bootable)?;
        let why = match raw {
            Some(d) => format!("default \"{d}\" names no entry; grub falls back to the first"),
            None => "the first entry (no literal default)".to_string(),
        };
        Some((first, why))
    }
}

/// `key=value` lines of a grubenv (a 1 KiB block padded with `#`).
pub fn parse_grubenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A BLS entry file (`key value` lines).
pub fn parse_bls(name: &str, text: &str) -> BootEntry {
    let mut e = BootEntry {
        at: name.to_string(),
        id: Some(name.trim_end_matches(".conf").to_string()),
        ..BootEntry::default()
    };
    for line in text.lines().take(256) {
        let line = line.trim();
        let (k, v) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(k, v)| (k, v.trim()));
        match k {
            "title" => e.title = v.to_string(),
            "linux" => e.kernel = Some(v.to_string()),
            "initrd" => e.initrd.extend(v.split_whitespace().map(str::to_string)),
            "options" => {
                if !e.args.is_empty() {
                    e.args.push(' ');
                }
                e.args.push_str(v);
            }
            _ => {}
        }
    }
    e
}

/// The value of `root=` on a kernel command line (the last one wins, as in the kernel).
pub fn root_arg(args: &str) -> Option<&str> {
    args.split_whitespace()
        .filter_map(|a| a.strip_prefix("root="))
        .next_back()
}

/// Compare two kernel versions by their numeric runs (`6.1.0-13` < `6.1.0-28`).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let nums = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|x| !x.is_empty())
            .map(|x| x.get(..18).unwrap_or(x).parse().unwrap_or(0))
            .collect()
    };
    nums(a).cmp(&nums(b)).then_with(|| a.cmp(b))
}

/// The kernel version in a kernel image's file name: `vmlinuz-6.1.0-13-amd64` -> `6.1.0-13-amd64`.
pub fn kernel_version(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    ["vmlinuz-", "vmlinux-", "Image-", "kernel-", "bzImage-"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "set default=\"0\"\nfunction f {\n  true\n}\nmenuentry 'A' --id a {\n  linux /vmlinuz-1 root=UUID=x\n  initrd /ucode.img /initrd-1\n}\nsubmenu 'S' --id s {\n  menuentry 'B' --id b {\n    linux /vmlinuz-2 root=/dev/sda1\n  }\n  menuentry 'C' $menuentry_id_option 'c' {\n    linux16 /vmlinuz-3 root=LABEL=r\n  }\n}\nmenuentry 'D' {\n  linuxefi /vmlinuz-4\n}\n";

    fn pick(default: &str, saved: Option<&str>) -> String {
        let mut c = parse_grub_cfg(CFG);
        c.defaults = vec![default.to_string()];
        c.default_entry(saved).unwrap().0.title.clone()
    }

    #[test]
    fn default_by_index_path_id_title_and_saved_entry() {
        assert_eq!(pick("0", None), "A");
        assert_eq!(pick("1>1", None), "C");
        assert_eq!(pick("s>b", None), "B");
        assert_eq!(pick("D", None), "D");
        assert_eq!(pick("2", None), "D");
        assert_eq!(pick("${saved_entry}", Some("s>c")), "C");
        // Unknown names fall back to the first entry, as grub does.
        assert_eq!(pick("nosuch", None), "A");
        assert_eq!(pick("${next_entry}", None), "A");
        let c = parse_grub_cfg(CFG);
        let a = &c.entries[0];
        assert_eq!(a.initrd.last().map(String::as_str), Some("/initrd-1"));
        assert_eq!(root_arg(&a.args), Some("UUID=x"));
        assert_eq!(a.at, "grub.cfg line 6");
    }

    #[test]
    fn bls_versions_and_kernel_names() {
        let e = parse_bls(
            "x.conf",
            "title T\nlinux /vmlinuz-5.14.0-362.el9.x86_64\noptions root=UUID=u ro\noptions quiet\n",
        );
        assert_eq!(e.args, "root=UUID=u ro quiet");
        assert_eq!(
            kernel_version(e.kernel.as_deref().unwrap()).as_deref(),
            Some("5.14.0-362.el9.x86_64")
        );
        assert_eq!(
            version_cmp("6.1.0-9-amd64", "6.1.0-13-amd64"),
            std::cmp::Ordering::Less
        );
        assert_eq!(kernel_version("/boot/vmlinuz"), None);
    }

    #[test]
    fn unbalanced_braces_and_deep_nesting_stay_bounded() {
        let deep = "submenu 'x' {\n".repeat(100)
            + &"}\n".repeat(300)
            + "menuentry 'z' {\nlinux /vmlinuz-9\n}\n";
        let c = parse_grub_cfg(&deep);
        assert!(c.entries.len() <= MAX_DEPTH + 1);
        assert!(c.default_entry(None).is_some());
    }
}
