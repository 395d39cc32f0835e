//! The binary: parse arguments, call the library, print, map errors to exit codes
//! (0 ok, 1 findings or a failed operation, 2 error).

use clap::Parser;

fn main() {
    imgtool::sys::default_sigpipe();
    let cli = imgtool::cli::Cli::parse();
    let code = match imgtool::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imgtool: {}", imgtool::cli::output::error_message(&e));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
