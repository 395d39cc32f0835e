//! `imgtool completions bash|zsh|fish` and `imgtool man`: generated from the same clap
//! definitions as the parser, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use super::Cli;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool completions bash > ~/.local/share/bash-completion/completions/imgtool
  imgtool completions zsh > ~/.zfunc/_imgtool      (with fpath+=~/.zfunc in ~/.zshrc)
  imgtool completions fish > ~/.config/fish/completions/imgtool.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
    /// Accepted for uniformity with the other subcommands: there is nothing to quieten
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool man | man -l -
  imgtool man > /usr/local/share/man/man1/imgtool.1")]
pub struct ManArgs {
    /// Accepted for uniformity with the other subcommands: there is nothing to quieten
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn completions(a: CompletionsArgs) -> Result<i32> {
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "imgtool", &mut out);
    write_stdout(&out)
}

/// The manual page: imgtool(1), then a section per subcommand (and per `task` action) with
/// its full `--help`: usage, every option, the examples.
pub fn man(_: ManArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    let io = |e| Error::io("(standard output)", e);
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    man.render_subcommands_section(&mut out).map_err(io)?;
    for sub in cmd.get_subcommands_mut() {
        sub_section(sub, &mut out);
    }
    man.render_version_section(&mut out).map_err(io)?;
    write_stdout(&out)
}

/// `.SH "imgtool NAME"` and the subcommand's long help as preformatted text.
fn sub_section(sub: &mut clap::Command, out: &mut Vec<u8>) {
    if sub.get_name() == "help" {
        return;
    }
    let name = sub
        .get_bin_name()
        .map_or_else(|| sub.get_name().to_string(), str::to_string);
    let help = sub.render_long_help().to_string();
    out.extend_from_slice(format!(".SH \"{}\"\n.nf\n", name.to_uppercase()).as_bytes());
    for line in help.lines() {
        out.extend_from_slice(roff_line(line).as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b".fi\n");
    for s in sub.get_subcommands_mut() {
        sub_section(s, out);
    }
}

/// A line of text for roff: backslashes doubled, a leading `.` or `'` made literal.
fn roff_line(l: &str) -> String {
    let l = l.replace('\\', "\\e").replace('-', "\\-");
    if l.starts_with('.') || l.starts_with('\'') {
        format!("\\&{l}")
    } else {
        l
    }
}

fn write_stdout(b: &[u8]) -> Result<i32> {
    let mut o = std::io::stdout().lock();
    o.write_all(b)
        .and_then(|_| o.flush())
        .map_err(|e| Error::io("(standard output)", e))?;
    Ok(0)
}
