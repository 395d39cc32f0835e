//! The house's order, enforced. Data flows one way (STYLE.md, README "Layout"):
//!
//!     image -> disk -> convert -> plan -> cloud -> import -> cli -> main
//!
//! (`plan` holds the API's vocabulary and rules and decides the ImportImage parameters;
//! `cloud` speaks the services' protocols and carries out a finished plan; `import` runs the
//! steps through `cloud`, so it comes after it.)
//!
//! and each room may use only the rooms before it (and the ground floor: `sys`, then
//! `error` and `text`). Inside a room, files must not import each other in a circle. This test reads every
//! `crate::`, `super::` and `self::` path in `src/` (outside `#[cfg(test)]` modules) and fails
//! naming the file, the line and the rule. A change that needs a forbidden import needs a
//! better place for its code, not an exception here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by floor; a module may use any module on a lower floor, and its own.
const FLOORS: &[&[&str]] = &[
    &["sys"],
    &["error", "text"],
    &["bytes"],
    &["image"],
    &["disk"],
    &["convert"],
    &["plan"],
    &["cloud"],
    &["import"],
    &["cli"],
    &["lib", "main", "fuzzing"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// One source file: its module path (`["image", "vhd", "footer"]`) and its code lines.
struct SourceFile {
    rel: PathBuf,
    module: Vec<String>,
    /// Whether the file is a `mod.rs`/`lib.rs`/`main.rs` (its `super` is one level higher).
    is_mod: bool,
    lines: Vec<(usize, String)>,
}

fn module_path(rel: &Path) -> (Vec<String>, bool) {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.last().cloned().unwrap_or_default();
    let is_mod = last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main"));
    if last == "mod" {
        parts.pop();
    }
    (parts, is_mod)
}

fn read_tree(src: &Path) -> Vec<SourceFile> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).expect("under src").to_path_buf();
                let (module, is_mod) = module_path(&rel);
                let text = std::fs::read_to_string(&p).expect("read source");
                out.push(SourceFile {
                    rel,
                    module,
                    is_mod,
                    lines: code_lines(&text),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// The lines that count: before the first `#[cfg(test)]`, without comments. `use` groups
/// spread over several lines are joined onto their first line.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open_use: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = raw.split("//").next().unwrap_or("").to_string();
        if let Some((n, mut acc)) = open_use.take() {
            acc.push_str(line.trim());
            if line.contains(';') {
                out.push((n, acc));
            } else {
                open_use = Some((n, acc));
            }
            continue;
        }
        let t = line.trim_start();
        if (t.starts_with("use ") || t.starts_with("pub use ") || t.starts_with("pub(crate) use "))
            && !t.contains(';')
        {
            open_use = Some((i + 1, t.to_string()));
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

/// Every module path a line names: `crate::a::b`, `super::x`, `self::y`, and the members of a
/// `use` group (`use crate::image::{self, vhd::footer}` names `image` and `image::vhd::footer`).
fn named_paths(file: &SourceFile, line: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // A `use` of a child module without `self::` (2018 paths): `pub use stream::RawStream;`.
    let t = line.trim_start();
    for lead in ["pub use ", "pub(crate) use ", "use "] {
        if let Some(rest) = t.strip_prefix(lead) {
            let first = rest.split("::").next().unwrap_or("");
            if children.contains(first) {
                let line = format!("{lead}self::{rest}");
                return named_paths(file, &line, &BTreeSet::new());
            }
        }
    }
    let bytes = line.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = line[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            let prev = begin.checked_sub(1).map(|i| bytes[i]);
            if prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
                continue;
            }
            let base = match start {
                "crate::" => Vec::new(),
                "self::" => own_module(file),
                _ => {
                    let mut m = own_module(file);
                    m.pop();
                    m
                }
            };
            let mut extra = String::new();
            for c in line[from..].chars() {
                if c.is_alphanumeric()
                    || c == '_'
                    || c == ':'
                    || c == '{'
                    || c == '}'
                    || c == ','
                    || c == ' '
                {
                    extra.push(c);
                } else {
                    break;
                }
            }
            for tail in expand(&extra) {
                let mut p = base.clone();
                for seg in tail.split("::").filter(|s| !s.is_empty()) {
                    match seg {
                        "super" => {
                            p.pop();
                        }
                        "self" => {}
                        s => p.push(s.to_string()),
                    }
                }
                out.push(p);
            }
        }
    }
    out
}

/// The module a file's `self::` means.
fn own_module(file: &SourceFile) -> Vec<String> {
    let mut m = file.module.clone();
    // `main.rs` is the binary's own crate root: it reaches the library as `imgtool::`.
    if file.is_mod && m.len() == 1 && m[0] == "lib" {
        m.clear();
    }
    m
}

/// `a::{b, c::d}` -> `a::b`, `a::c::d` (one level of braces is what rustfmt leaves us).
fn expand(s: &str) -> Vec<String> {
    let s = s.trim();
    match s.find('{') {
        None => {
            let end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(s.len());
            vec![s[..end].trim_end_matches(':').to_string()]
        }
        Some(open) => {
            let head = &s[..open];
            let close = s.rfind('}').unwrap_or(s.len());
            let inner = &s[open + 1..close];
            let mut depth = 0;
            let mut parts = Vec::new();
            let mut cur = String::new();
            for c in inner.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(std::mem::take(&mut cur));
                        continue;
                    }
                    _ => {}
                }
                cur.push(c);
            }
            parts.push(cur);
            parts
                .into_iter()
                .filter(|p| !p.trim().is_empty())
                .flat_map(|p| expand(&format!("{head}{}", p.trim())))
                .collect()
        }
    }
}

/// The file a module path lands in: the longest prefix that is a file of the tree, followed
/// through that file's `pub use` re-exports to where the name is defined (a `mod.rs` that only
/// re-exports is a facade, not a room of its own).
fn resolve(
    files: &BTreeMap<Vec<String>, usize>,
    reexports: &[BTreeMap<String, Vec<String>>],
    path: &[String],
) -> Option<(usize, Vec<String>)> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let (n, j) = (0..=path.len())
            .rev()
            .find_map(|n| files.get(&path[..n].to_vec()).map(|&j| (n, j)))?;
        match path.get(n).and_then(|name| reexports[j].get(name)) {
            Some(target) if target != &path => {
                let mut next = target.clone();
                next.extend(path[n + 1..].iter().cloned());
                path = next;
            }
            _ => return Some((j, path)),
        }
    }
    None
}

/// The module path of each name a file re-exports with `pub use`.
fn reexports_of(file: &SourceFile, children: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (_, line) in &file.lines {
        let t = line.trim_start();
        if t.starts_with("pub use ") || t.starts_with("pub(crate) use ") {
            for p in named_paths(file, t, children) {
                if let Some(name) = p.last() {
                    out.insert(name.clone(), p.clone());
                }
            }
        }
    }
    out
}

/// The child modules a file declares (`mod x;`, `pub mod x;`).
fn children_of(file: &SourceFile) -> BTreeSet<String> {
    file.lines
        .iter()
        .filter_map(|(_, l)| {
            let t = l.trim();
            let rest = t
                .strip_prefix("pub mod ")
                .or_else(|| t.strip_prefix("pub(crate) mod "))
                .or_else(|| t.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(|n| n.trim().to_string())
        })
        .collect()
}

#[derive(Debug)]
struct Violation(String);

/// Check the tree under `src`; every broken rule, one line each.
fn check(src: &Path) -> Vec<Violation> {
    let files = read_tree(src);
    let by_module: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (own_module(f), i))
        .collect();
    let children: Vec<BTreeSet<String>> = files.iter().map(children_of).collect();
    let reexports: Vec<BTreeMap<String, Vec<String>>> = files
        .iter()
        .zip(&children)
        .map(|(f, c)| reexports_of(f, c))
        .collect();
    let mut bad = Vec::new();
    let mut edges: Vec<BTreeMap<usize, (usize, String)>> = vec![BTreeMap::new(); files.len()];
    for (i, f) in files.iter().enumerate() {
        let me = own_module(f);
        let my_top = me.first().cloned().unwrap_or_else(|| f.module[0].clone());
        for (n, line) in &f.lines {
            for p in named_paths(f, line, &children[i]) {
                let resolved = resolve(&by_module, &reexports, &p);
                // The room named is the one used, even when it re-exports a lower room's item;
                // only a name the crate root re-exports (`crate::VirtualDisk`) is followed.
                let p = match &resolved {
                    Some((_, q)) if p.first().is_none_or(|t| floor_of(t).is_none()) => q.clone(),
                    _ => p,
                };
                let Some(top) = p.first() else { continue };
                if top != &my_top {
                    match (floor_of(&my_top), floor_of(top)) {
                        (Some(a), Some(b)) if b < a => {}
                        (Some(_), Some(_)) => bad.push(Violation(format!(
                            "{}:{n}: `{}` uses `{}`, which comes later in the flow (image -> \
                             disk -> convert -> plan -> cloud -> import -> cli)",
                            f.rel.display(),
                            my_top,
                            p.join("::")
                        ))),
                        _ => bad.push(Violation(format!(
                            "{}:{n}: module `{}` or `{}` has no floor in tests/it/architecture.rs",
                            f.rel.display(),
                            my_top,
                            top
                        ))),
                    }
                }
                let t = line.trim_start();
                let reexport = t.starts_with("pub use ") || t.starts_with("pub(crate) use ");
                match resolved {
                    // A facade's own re-export is not an arrow: the users of the name are.
                    Some((j, _)) if j != i && !reexport && !files[j].module.is_empty() => {
                        edges[i].entry(j).or_insert((*n, p.join("::")));
                    }
                    _ => {}
                }
            }
        }
    }
    for cycle in cycles(&edges) {
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| {
                let ties: Vec<String> = cycle
                    .iter()
                    .filter_map(|&j| edges[i].get(&j).map(|(n, p)| format!("line {n} `{p}`")))
                    .collect();
                format!("{} ({})", files[i].rel.display(), ties.join(", "))
            })
            .collect();
        bad.push(Violation(format!(
            "files import each other in a circle: {}",
            names.join(" <-> ")
        )));
    }
    bad
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(edges: &[BTreeMap<usize, (usize, String)>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a [BTreeMap<usize, (usize, String)>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        let succ: Vec<usize> = t.edges[v].keys().copied().collect();
        for w in succ {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let n = edges.len();
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_source_follows_the_flow_and_has_no_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = check(&src);
    let text: Vec<String> = bad.iter().map(|v| v.0.clone()).collect();
    assert!(
        bad.is_empty(),
        "the house's order is broken:\n{}",
        text.join("\n")
    );
}

/// The checker itself: a small tree with one import against the flow and one circle is
/// reported for both, and the same tree without them is clean.
#[test]
fn a_forbidden_import_and_a_circle_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("lib.rs", "pub mod cli;\npub mod disk;\npub mod image;\n");
    write("cli/mod.rs", "use crate::image::open;\n");
    write(
        "disk/mod.rs",
        "mod a;\nmod b;\nuse crate::image::{self, raw::Raw};\n",
    );
    write("disk/a.rs", "use super::b::B;\n");
    write("disk/b.rs", "pub struct B;\n");
    write("image/mod.rs", "pub mod raw;\npub fn open() {}\n");
    write("image/raw.rs", "pub struct Raw;\n");
    assert!(check(src).is_empty(), "{:?}", check(src));

    write("image/raw.rs", "use crate::cli::escape;\npub struct Raw;\n");
    write(
        "cli/mod.rs",
        "use crate::image::open;\npub use crate::text::escape;\n",
    );
    write("text.rs", "pub fn escape() {}\n");
    write("disk/b.rs", "use super::a::A;\npub struct B;\n");
    let found: Vec<String> = check(src).into_iter().map(|v| v.0).collect();
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("image/raw.rs:1:") && v.contains("`cli::escape`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|v| v.contains("circle") && v.contains("disk/a.rs") && v.contains("disk/b.rs")),
        "{found:?}"
    );
    assert_eq!(found.len(), 2, "{found:?}");
}
