//! The small pieces `inspect`'s text is made of: an aligned table whose values are escaped,
//! and readers of JSON values for it.

use serde_json::Value;

use super::output::escape;
use crate::text::human;

pub(super) fn yes(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        "yes"
    } else {
        "no"
    }
}

/// Rows of "name: value", values aligned in one column, untrusted text escaped.
#[derive(Default)]
pub struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    pub fn row(&mut self, k: &str, v: String) {
        self.rows.push((k.to_string(), v));
    }

    pub fn render(&self, indent: usize) -> String {
        let w = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        self.rows
            .iter()
            .map(|(k, v)| {
                format!(
                    "{:indent$}{:<w$} {}\n",
                    "",
                    format!("{k}:"),
                    escape(v),
                    w = w + 1
                )
            })
            .collect()
    }
}

pub(super) fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub(super) fn quoted(v: &Value) -> String {
    format!("\"{}\"", s(v))
}

pub(super) fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

pub(super) fn size_both(v: &Value) -> String {
    let b = u(v);
    format!("{} ({b} bytes)", human(b))
}
