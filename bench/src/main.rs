//! `roomlink-bench`: the figures of `scripts/bench.sh`, side by side with Socket.IO and raw TCP.
//! `run` is the whole benchmark; the other subcommands are the helper processes it starts.

/// Only for the soak's allocator A/B (see Cargo.toml); the shipped server uses the system's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod capacity;
mod cdylib;
mod child;
mod cluster;
mod cluster_fanout;
mod cluster_hold;
mod cluster_kill;
mod cluster_rows;
mod engines;
mod event_rate;
mod fanout;
mod floor;
mod footprint;
mod login;
mod member;
mod reconnect;
mod rows;
mod run;
mod server;
mod soak;
mod socketio;
mod stats;
mod sys;
mod table;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "roomlink-bench",
    about = "roomlink benchmarks (run them with scripts/bench.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every figure; prints the table and writes the raw results as JSON.
    Run {
        /// Fewer samples and shorter holds (CI: under a minute).
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "target/bench/results.json")]
        out: PathBuf,
        /// Where server.js, client.js and their node_modules are.
        #[arg(long, default_value = "bench/socketio")]
        socketio_dir: PathBuf,
        /// Only the parts whose key (as in the JSON) contains this, e.g. `capacity_10000`.
        #[arg(long)]
        only: Option<String>,
        /// The unstripped `libroomlink_ffi.so` whose stripped size is figure 7's first row.
        #[arg(long)]
        cdylib: Option<PathBuf>,
        /// The C event-rate client (bench/ffi/c/event_rate.c, built by scripts/bench.sh).
        #[arg(long, conflicts_with = "skip_c")]
        c_client: Option<PathBuf>,
        /// Why there is no C client (the row says so).
        #[arg(long)]
        skip_c: Option<String>,
        /// The Kotlin/JNA event-rate client's launcher (bench/ffi/kotlin/client.sh).
        #[arg(long, conflicts_with = "skip_kotlin")]
        kotlin_client: Option<PathBuf>,
        /// Why there is no Kotlin client (the row says so).
        #[arg(long)]
        skip_kotlin: Option<String>,
    },
    /// The Rust-handler event-rate client (figure 8's baseline): `--server URL --room ROOM
    /// --streams K`, one "USER_ID TOKEN" line per engine on stdin; prints one JSON line.
    EventRate {
        #[arg(long)]
        server: String,
        #[arg(long)]
        room: String,
        #[arg(long)]
        streams: usize,
    },
    /// The roomlink server under test; prints {"addr"} and serves until stdin closes.
    Serve {
        /// A node of the cluster on this Redis (`redis://…`) instead of the in-memory server.
        #[arg(long)]
        redis: Option<String>,
        /// The server's heartbeat timeout (default: the server's).
        #[arg(long)]
        heartbeat_timeout_ms: Option<u64>,
        /// Events kept per session for a resume (default: the server's).
        #[arg(long)]
        replay_buffer: Option<usize>,
    },
    /// Capacity load: COUNT sessions from SOURCE, pinging every heartbeat, until stdin closes.
    Load {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long)]
        source: IpAddr,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
        #[arg(long, default_value_t = 10_000)]
        heartbeat_ms: u64,
    },
    /// One floor figure; prints {"samples_ns": [...]}.
    Floor {
        #[arg(long, value_enum)]
        kind: floor::Floor,
        #[arg(long)]
        samples: usize,
        /// Pin the measuring and the echoing thread: `--cpus 0 1`.
        #[arg(long, num_args = 2)]
        cpus: Option<Vec<usize>>,
    },
    /// Fan-out floor readers; one JSON line per round of writes.
    TcpReaders {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        bytes: usize,
    },
    /// Soak: SESSIONS held for MINUTES with churn at fixed rates; prints the server's RSS and fds
    /// every minute and, at the end, how many sessions' lists diverged from the server's.
    Soak {
        #[arg(long, default_value_t = 5000)]
        sessions: usize,
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Logouts, each followed by a fresh login of the same user, per second.
        #[arg(long, default_value_t = 5)]
        relogins: u32,
        /// Publishes or unpublishes per second.
        #[arg(long, default_value_t = 20)]
        publishes: u32,
        /// Links cut (and resumed) per second.
        #[arg(long, default_value_t = 5)]
        drops: u32,
        /// The server's replay buffer (events kept per session; default: the server's). 0 makes
        /// every resume a snapshot: the A/B that tells the rings' share of the RSS curve.
        #[arg(long)]
        replay_buffer: Option<usize>,
    },
    /// Threads, RSS and idle wake-ups per engine; prints one JSON line.
    Footprint {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 100)]
        engines: usize,
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let result = match Cli::parse().command {
        Cmd::Run {
            quick,
            out,
            socketio_dir,
            only,
            cdylib,
            c_client,
            skip_c,
            kotlin_client,
            skip_kotlin,
        } => run::run(run::Options {
            quick,
            out,
            socketio_dir,
            only,
            cdylib,
            c_client: run::FfiClient::from_args(c_client, skip_c),
            kotlin_client: run::FfiClient::from_args(kotlin_client, skip_kotlin),
        }),
        Cmd::EventRate {
            server,
            room,
            streams,
        } => event_rate::client(&server, &room, streams).and_then(|r| {
            serde_json::to_string(&r)
                .map(|s| println!("{s}"))
                .map_err(|e| e.to_string())
        }),
        Cmd::Serve {
            redis,
            heartbeat_timeout_ms,
            replay_buffer,
        } => server::serve(server::ServeOptions {
            redis,
            heartbeat_timeout: heartbeat_timeout_ms.map(Duration::from_millis),
            replay_buffer,
        }),
        Cmd::Load {
            server,
            source,
            count,
            prefix,
            heartbeat_ms,
        } => capacity::load(
            server,
            source,
            count,
            &prefix,
            Duration::from_millis(heartbeat_ms),
        ),
        Cmd::Floor {
            kind,
            samples,
            cpus,
        } => floor::run(
            kind,
            samples,
            cpus.and_then(|c| match c[..] {
                [measuring, echoing] => Some((measuring, echoing)),
                _ => None,
            }),
        )
        .map(|s| println!("{}", serde_json::json!({ "samples_ns": s }))),
        Cmd::TcpReaders { addr, count, bytes } => fanout::tcp_readers(addr, count, bytes),
        Cmd::Soak {
            sessions,
            minutes,
            relogins,
            publishes,
            drops,
            replay_buffer,
        } => soak::run(soak::Options {
            sessions,
            minutes,
            replay_buffer,
            rates: soak::Rates {
                relogins,
                publishes,
                drops,
            },
        }),
        Cmd::Footprint {
            url,
            engines,
            idle_secs,
        } => footprint::measure(&url, engines, Duration::from_secs(idle_secs)).and_then(|f| {
            serde_json::to_string(&f)
                .map(|s| println!("{s}"))
                .map_err(|e| e.to_string())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roomlink-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
