//! Text helpers shared by every layer. Lives below `cli` so that `disk` can escape the
//! strings it renders without knowing about the command line; `cli::output` re-exports it.

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
