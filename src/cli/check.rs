use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image file
    pub file: std::path::PathBuf,
    /// Print a JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: Args) -> Result<i32> {
    Ok(0)
}
