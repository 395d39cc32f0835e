//! Subcommands, one file each. Each returns the process exit code on success.

pub mod check;
mod cloud_log;
pub mod convert;
pub mod docs;
mod follow;
pub mod import;
pub mod import_args;
pub mod import_report;
pub mod inputs;
pub mod inspect;
pub mod output;
pub mod task;

use clap::{Parser, Subcommand};

use crate::error::Result;

#[derive(Debug, Parser)]
#[command(
    name = "imgtool",
    version,
    about = "Inspect, check, convert and import disk images (RAW, VHD) into Alibaba Cloud ECS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Say what an image is: format, every header field, sizes, allocation
    Inspect(inspect::Args),
    /// Verify an image's structure; exit 0 clean, 1 problems found, 2 unreadable
    Check(check::Args),
    /// Import an image into Alibaba Cloud ECS (ImportImage) and follow it to Available
    Import(Box<import::Args>),
    /// Follow, show or cancel an import task
    Task(task::Args),
    /// Convert RAW <-> VHD (dynamic or fixed), sparse and atomic; exit 1 when --verify fails
    Convert(convert::Args),
    /// Print a shell completion script (bash, zsh, fish) on stdout
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man(docs::ManArgs),
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Check(a) => check::run(a),
        Command::Import(a) => import::run(*a),
        Command::Task(a) => task::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}
