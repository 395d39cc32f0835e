//! Shared output helpers: escaping untrusted text for a terminal, JSON printing, and whether
//! progress may be shown.

use std::io::{IsTerminal, Write};

/// Escape control characters (and the escape character itself) in text that came from an
/// image or a server, so it cannot move the cursor or change colours when printed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else if c.is_control() || c == '\u{1b}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Print a JSON value to stdout, pretty, with a trailing newline.
pub fn print_json(v: &serde_json::Value) {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    let _ = std::io::stdout().write_all(s.as_bytes());
}

/// Progress is shown only on a terminal and never with --quiet.
pub fn progress_allowed(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_removes_terminal_controls() {
        assert_eq!(escape("ok\u{1b}[31mred"), "ok\\u{1b}[31mred");
        assert_eq!(escape("a\u{7}b"), "a\\u{7}b");
        assert_eq!(escape("name\twith tab"), "name\twith tab");
    }
}
