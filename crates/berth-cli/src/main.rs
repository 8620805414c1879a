//! The `berth` binary: parses the command line and hands each verb to its module.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Rendering builds and drops hundreds of thousands of small values; mimalloc
/// does that markedly faster than the system allocator (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `berth` alone in a terminal opens the menu; anywhere else it prints help.
    let outcome = if std::env::args_os().len() == 1 && commands::menu::available() {
        berth_local::without_huge_pages();
        commands::menu::run()
    } else {
        let cli = cli::Cli::parse();
        if cli.command.only_prints() {
            end_quietly_when_the_reader_goes();
        }
        if cli.command.runs_long() {
            berth_local::without_huge_pages();
        }
        commands::run(&cli)
    };
    ExitCode::from(outcome as u8)
}

/// `berth render | head` ends berth as it ends `cat`, without a panic about a
/// broken pipe. Only for commands that just print: the others keep SIGPIPE
/// ignored, so that a closed socket or pipe is an error they handle.
fn end_quietly_when_the_reader_goes() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: restores the default disposition before any thread starts.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.expect("SIGPIPE has a default");
}
