//! `prov completions SHELL` and `prov man`: shell completion scripts (clap_complete) and man
//! pages (clap_mangen), generated from the clap definitions the parser uses ([`crate::cli`]),
//! so they name exactly the commands and flags prov accepts.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};

/// The name the scripts complete and the pages document.
const BIN: &str = "prov";

/// The completion script for one shell.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut out);
    out
}

/// The man pages, as (file name, roff text): prov.1 first, then, with `all`, one page per
/// visible command and subcommand (prov-apply.1, prov-image.1, prov-image-build.1, ...).
pub fn man_pages(all: bool) -> Result<Vec<(String, String)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    add_pages(&cmd, all, &mut pages)?;
    Ok(pages)
}

fn add_pages(cmd: &clap::Command, all: bool, pages: &mut Vec<(String, String)>) -> Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let man = clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    man.render(&mut roff)
        .map_err(|e| Error::runtime(format!("rendering the man page {name}: {e}")))?;
    let text = String::from_utf8(roff)
        .map_err(|e| Error::runtime(format!("the man page {name} is not UTF-8: {e}")))?;
    pages.push((man.get_filename(), text));
    if all {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            add_pages(sub, all, pages)?;
        }
    }
    Ok(())
}

/// `prov completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    to_stdout(&completion_script(args.shell))?;
    Ok(0)
}

/// `prov man`: prov(1) on stdout, or every page written into `--dir` (each whole or not at
/// all: a temporary name, then a rename), one path per line on stdout.
pub fn man(args: &ManArgs) -> Result<i32> {
    match &args.dir {
        None => {
            for (_, text) in man_pages(false)? {
                to_stdout(text.as_bytes())?;
            }
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            let mut written = String::new();
            for (file, text) in man_pages(true)? {
                let path = dir.join(file);
                crate::image::compress::write_atomically(&path, &text)?;
                written.push_str(&format!("{}\n", path.display()));
            }
            to_stdout(written.as_bytes())?;
        }
    }
    Ok(0)
}

/// Write to stdout. A reader that stopped early (`prov man | head`) ends the output quietly,
/// as it does for other tools; any other write error is an error, never a panic.
fn to_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io(Path::new("<stdout>"), e))
        }
        _ => Ok(()),
    }
}
