//! Shared output helpers: escaping untrusted text for a terminal, JSON printing, and whether
//! progress may be shown.

use std::io::{IsTerminal, Write};

pub use crate::text::escape;

/// An error's message for a terminal: the file it names escaped whole (a newline in a file
/// name stays on the line), the rest line by line.
pub fn error_message(e: &crate::error::Error) -> String {
    let msg = e.to_string();
    if let Some(p) = e.path() {
        if let Some(rest) = msg.strip_prefix(&p.display().to_string()) {
            return format!(
                "{}{}",
                crate::text::path(p),
                crate::text::escape_lines(rest)
            );
        }
    }
    crate::text::escape_lines(&msg)
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
