//! Where the cloud code's notices go: retries ("retrying in N s (attempt k of n): cause")
//! on stderr unless `--quiet`, and with `-v` one line per HTTP request (secrets never
//! included; see `cloud::trace`). Shared by `import` and `task`.

use super::output::escape;

pub(crate) fn install(quiet: bool, verbose: bool) {
    crate::cloud::trace::set_verbose(verbose);
    let show = verbose || !quiet;
    crate::cloud::retry::set_reporter(move |m| {
        if show {
            eprintln!("imgtool: {}", escape(m));
        }
    });
}
