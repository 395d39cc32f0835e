//! Where the cloud code's notices go when the call's session has no sink of its own (see
//! `cloud::retry::set_reporter`): retries ("retrying in N s (attempt k of n): cause") on
//! stderr unless `--quiet` (with `-v` even then), and with `-v` one line per HTTP request (secrets never
//! included; see `cloud::trace`), even under `--quiet`. Shared by `import` and `task`;
//! `import`'s session sends its own to the Printer, which prints them alike.

use std::sync::Arc;

use super::output::escape;
use crate::cloud::retry::Notice;

pub(crate) fn install(quiet: bool, verbose: bool) {
    let show = verbose || !quiet;
    let notices: Notice = Arc::new(move |m| {
        if show {
            print(m);
        }
    });
    let requests: Option<Notice> = verbose.then(|| Arc::new(print) as Notice);
    crate::cloud::retry::set_reporter(notices, requests);
}

/// One notice or request line on stderr.
pub(crate) fn print(m: &str) {
    eprintln!("imgtool: {}", escape(m));
}
