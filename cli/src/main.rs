//! The `roomlink` command: `serve`, `token`, `join`, `demo`.

mod checks;
mod cluster_demo;
mod demo;
mod join;
mod key;
mod logging;
mod serve;
mod token;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "roomlink",
    version,
    about = "Room connection layer for real-time audio/video apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference room server.
    Serve(serve::Args),
    /// Mint a token for a user and room.
    Token(token::Args),
    /// Join a room as a live client and print every state change.
    Join(join::Args),
    /// Run the whole story on an embedded server, with injected faults.
    Demo(demo::Args),
}

fn main() -> std::process::ExitCode {
    logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::Join(args) => join::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roomlink: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
