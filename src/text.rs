//! Text helpers shared by every layer. Lives below `cli` so that `disk` can escape the
//! strings it renders without knowing about the command line; `cli::output` re-exports it.

/// Escape what could change how a terminal shows text that came from an image, a server or
/// a file name: control characters (newline and tab included, so a name cannot forge lines or
/// columns of its own) and the invisible Unicode formatting characters that reorder or hide
/// text (bidi overrides and isolates such as U+202E, zero-width joiners, line separators).
/// The one escaping function of imgtool: every layer calls this one.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_invisible_format(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape each line of a message composed of several lines, keeping the line breaks; the
/// parts that came from outside must have been escaped with [`escape`] where they were put
/// in (a file name with a newline is then one line).
pub fn escape_lines(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// A path for a line of text: [`escape`]d.
pub fn path(p: &std::path::Path) -> String {
    escape(&p.display().to_string())
}

/// "1 problem", "2 problems", "0 problems": `one` is the singular, an `s` makes the plural
/// (pass irregular plurals through [`count_with`]).
pub fn count(n: u64, one: &str) -> String {
    count_with(n, one, &format!("{one}s"))
}

pub fn count_with(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Rows of "name: value" for a text report, values aligned in one column. Names and values
/// are kept raw and escaped here, once, when the table is rendered: a row's name can come
/// from a file too (a VMDK descriptor's keys, a VHDX parent locator's).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    pub fn row(&mut self, name: &str, value: String) {
        self.rows.push((escape(name), escape(&value)));
    }

    /// The rows, each indented by `indent` spaces.
    pub fn render(&self, indent: usize) -> String {
        let w = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
        self.rows
            .iter()
            .map(|(k, v)| format!("{:indent$}{:<w$} {v}\n", "", format!("{k}:")))
            .collect()
    }
}

/// Unicode "format" characters that reorder or hide text: bidi embeddings, overrides and
/// isolates, marks, zero-width characters, line and paragraph separators, the BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{061c}'
        | '\u{feff}'
        | '\u{00ad}')
}

/// Human sizes like qemu-img's: "1 GiB", "2.5 MiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if (v - v.round()).abs() < 0.005 {
        format!("{} {}", v.round(), UNITS[u])
    } else {
        let n = format!("{v:.3}");
        format!(
            "{} {}",
            n.trim_end_matches('0').trim_end_matches('.'),
            UNITS[u]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{count, escape, escape_lines, human};

    #[test]
    fn escape_controls_newlines_and_bidi() {
        assert_eq!(escape("ok\u{1b}[31mred"), "ok\\u{1b}[31mred");
        assert_eq!(escape("a\u{7}b"), "a\\u{7}b");
        assert_eq!(escape("name\twith tab"), "name\\twith tab");
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(escape("caf\u{e9} \u{4e2d}"), "caf\u{e9} \u{4e2d}");
        assert_eq!(escape_lines("a\u{1b}\nb"), "a\\u{1b}\nb");
    }

    #[test]
    fn plurals() {
        assert_eq!(count(0, "problem"), "0 problems");
        assert_eq!(count(1, "warning"), "1 warning");
        assert_eq!(count(2, "warning"), "2 warnings");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1 << 30), "1 GiB");
        assert_eq!(human(1536 << 10), "1.5 MiB");
        assert_eq!(human(24064), "23.5 KiB");
        assert_eq!(human(1_073_479_680), "1023.75 MiB");
    }
}
