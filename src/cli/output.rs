//! Shared output helpers: escaping untrusted text for a terminal, JSON printing, and whether
//! progress may be shown.

use std::io::{IsTerminal, Write};

pub use crate::text::escape;

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
