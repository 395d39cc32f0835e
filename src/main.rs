//! The binary: parse arguments, call the library, print, map errors to exit codes
//! (0 ok, 1 findings or a failed operation, 2 error).

use clap::Parser;

fn main() {
    // A closed pipe (`imgtool inspect x | head`) ends us quietly instead of panicking in println!.
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = imgtool::cli::Cli::parse();
    let code = match imgtool::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imgtool: {}", imgtool::cli::output::escape(&e.to_string()));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
