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
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1 << 30), "1 GiB");
        assert_eq!(human(1536 << 10), "1.5 MiB");
        assert_eq!(human(24064), "23.5 KiB");
        assert_eq!(human(1_073_479_680), "1023.75 MiB");
    }
}
