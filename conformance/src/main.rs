//! `roomlink-conformance`: runs scenarios (data) against drivers (one per binding) and compares
//! each run's trace with the canonical one. See `conformance/README.md`.

mod diff;
mod driver;
mod nodes;
mod pattern;
mod run;
mod scenario;
mod table;
mod tokens;
mod trace;
mod world;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::time::Instant;

use scenario::Scenario;
use table::{Cell, Table};

#[derive(Parser, Debug)]
#[command(about = "Runs roomlink's conformance scenarios against binding drivers")]
struct Cli {
    /// A driver to run, as NAME=COMMAND (COMMAND is run with `sh -c`). Repeatable.
    #[arg(long = "driver", value_name = "NAME=COMMAND")]
    drivers: Vec<String>,
    /// A driver that cannot run here, as NAME=REASON; listed as skipped. Repeatable.
    #[arg(long = "skipped", value_name = "NAME=REASON")]
    skipped: Vec<String>,
    /// Run only these scenarios (file stems). Repeatable; default: every scenario.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    #[arg(long, default_value = "conformance/scenarios")]
    scenarios_dir: PathBuf,
    #[arg(long, default_value = "conformance/expected")]
    expected_dir: PathBuf,
    /// Where actual traces and driver logs go (`<driver>/<scenario>.trace`).
    #[arg(long, default_value = "target/conformance")]
    out_dir: PathBuf,
    /// Run every scenario this many times per driver.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Multiplies every duration of a scenario (for slow drivers).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// A driver's own factor on top of --time-scale, as NAME=F (e.g. the C driver under
    /// valgrind). Repeatable.
    #[arg(long = "driver-time-scale", value_name = "NAME=F")]
    driver_time_scales: Vec<String>,
    /// Write expected/<scenario>.trace from the (single) driver given.
    #[arg(long)]
    bless: bool,
    /// A skipped driver counts as a failure.
    #[arg(long)]
    require_all: bool,
    /// Run every scenario on a cluster of this many nodes on one Redis (started and stopped by
    /// the run) instead of one in-memory server; client i connects to node i mod N. The
    /// canonical traces are the same: a cluster must not be told from one server.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=8))]
    cluster: Option<u16>,
}

fn split_pair(arg: &str, what: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, rest)) if !name.is_empty() && !rest.is_empty() => {
            Ok((name.to_string(), rest.to_string()))
        }
        _ => Err(format!("--{what} wants NAME=VALUE, got {arg:?}")),
    }
}

/// The scenario names to run: the ones asked for, or every `*.json` in the directory.
fn scenario_names(cli: &Cli) -> Result<Vec<String>, String> {
    if !cli.scenarios.is_empty() {
        return Ok(cli.scenarios.clone());
    }
    let dir = &cli.scenarios_dir;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// A positive, finite time scale.
fn parse_scale(text: &str, what: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("{what} must be a positive number, got {text}")),
    }
}

struct Settings {
    scale: f64,
    /// Per driver: a factor on `scale`.
    driver_scales: HashMap<String, f64>,
    repeat: u32,
    bless: bool,
    expected_dir: PathBuf,
    out_dir: PathBuf,
    cluster: Option<usize>,
}

/// Why `scenario` is left out of this run, if it is: a cluster-only scenario needs `--cluster`
/// with enough nodes, and `--bless --cluster` blesses only cluster-only scenarios (the canonical
/// trace of every other scenario comes from one server; a cluster must match it, never rewrite it).
fn not_run(scenario: &Scenario, s: &Settings) -> Option<String> {
    match (scenario.cluster_nodes, s.cluster) {
        (Some(need), None) => Some(format!("cluster only (--cluster {need})")),
        (Some(need), Some(have)) if have < need => Some(format!(
            "needs a cluster of {need} nodes, this run has {have}"
        )),
        (None, Some(_)) if s.bless => Some(
            "--bless --cluster blesses only cluster-only scenarios: this one's canonical trace \
             comes from one server"
                .into(),
        ),
        _ => None,
    }
}

/// Runs one scenario on one driver `repeat` times; prints each run's result.
async fn cell(
    scenario: &Result<Scenario, String>,
    name: &str,
    driver: &(String, String),
    s: &Settings,
) -> Cell {
    let (driver_name, command) = driver;
    let scenario = match scenario {
        Ok(sc) => sc,
        Err(e) => {
            println!("FAIL {name} on {driver_name}: {e}");
            return Cell::Ran {
                passed: 0,
                failed: s.repeat as usize,
            };
        }
    };
    let dir = s.out_dir.join(driver_name);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!("FAIL {name} on {driver_name}: {}: {e}", dir.display());
        return Cell::Ran {
            passed: 0,
            failed: s.repeat as usize,
        };
    }
    let expected_path = s.expected_dir.join(format!("{name}.trace"));
    let expected = std::fs::read_to_string(&expected_path).ok();
    let (mut passed, mut failed) = (0, 0);
    let mut blessed: Option<String> = None;
    for k in 1..=s.repeat {
        let stem = if s.repeat == 1 {
            name.to_string()
        } else {
            format!("{name}.{k}")
        };
        let log = dir.join(format!("{stem}.stderr.log"));
        let started = Instant::now();
        let scale = s.scale * s.driver_scales.get(driver_name).copied().unwrap_or(1.0);
        let outcome = run::run(scenario, command, &log, scale, s.cluster).await;
        let took = run::seconds(started.elapsed());
        let trace_path = dir.join(format!("{stem}.trace"));
        let wrote = std::fs::write(&trace_path, &outcome.trace)
            .map_err(|e| format!("{}: {e}", trace_path.display()));
        let verdict = match (outcome.error, wrote) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(())) if s.bless => match &blessed {
                Some(first) if *first != outcome.trace => Err(diff::unified(first, &outcome.trace)
                    .map_or_else(String::new, |d| {
                        format!("the trace differs from run 1, not blessing:\n{d}")
                    })),
                _ => {
                    blessed = Some(outcome.trace.clone());
                    Ok(())
                }
            },
            (None, Ok(())) => match &expected {
                None => Err(format!(
                    "no canonical trace; run with --bless and review it ({})",
                    expected_path.display()
                )),
                Some(exp) => match diff::unified(exp, &outcome.trace) {
                    None => Ok(()),
                    Some(d) => Err(format!(
                        "the trace differs from {}:\n{d}",
                        expected_path.display()
                    )),
                },
            },
        };
        let run_label = if s.repeat == 1 {
            String::new()
        } else {
            format!(" run {k}/{}", s.repeat)
        };
        match verdict {
            Ok(()) => {
                passed += 1;
                println!("pass {name} on {driver_name}{run_label} ({took})");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name} on {driver_name}{run_label} ({took}): {e}");
                println!(
                    "     trace: {}  driver log: {}",
                    trace_path.display(),
                    log.display()
                );
            }
        }
    }
    if s.bless && failed == 0 {
        if let Some(trace) = blessed {
            match std::fs::write(&expected_path, trace) {
                Ok(()) => println!(
                    "blessed {} (review it before committing)",
                    expected_path.display()
                ),
                Err(e) => {
                    println!("FAIL {name}: cannot write {}: {e}", expected_path.display());
                    return Cell::Ran { passed, failed: 1 };
                }
            }
        }
    }
    Cell::Ran { passed, failed }
}

async fn main_inner(cli: Cli) -> Result<bool, String> {
    let drivers: Vec<(String, String)> = cli
        .drivers
        .iter()
        .map(|d| split_pair(d, "driver"))
        .collect::<Result<_, _>>()?;
    let skipped: Vec<(String, String)> = cli
        .skipped
        .iter()
        .map(|d| split_pair(d, "skipped"))
        .collect::<Result<_, _>>()?;
    if drivers.is_empty() && skipped.is_empty() {
        return Err("no drivers: give --driver NAME=COMMAND".into());
    }
    if !(cli.time_scale.is_finite() && cli.time_scale > 0.0) {
        return Err(format!(
            "--time-scale must be a positive number, got {}",
            cli.time_scale
        ));
    }
    let driver_scales: HashMap<String, f64> = (cli.driver_time_scales.iter())
        .map(|arg| {
            let (name, factor) = split_pair(arg, "driver-time-scale")?;
            Ok((name, parse_scale(&factor, "--driver-time-scale")?))
        })
        .collect::<Result<_, String>>()?;
    if cli.bless && drivers.len() != 1 {
        return Err(format!(
            "--bless needs exactly one driver to run, got {}",
            drivers.len()
        ));
    }
    let names = scenario_names(&cli)?;
    if names.is_empty() {
        return Err(format!("no scenarios in {}", cli.scenarios_dir.display()));
    }
    let settings = Settings {
        scale: cli.time_scale,
        driver_scales,
        repeat: cli.repeat,
        bless: cli.bless,
        expected_dir: cli.expected_dir.clone(),
        out_dir: cli.out_dir.clone(),
        cluster: cli.cluster.map(usize::from),
    };
    if let Some(n) = settings.cluster {
        println!("cluster mode: every scenario on {n} nodes sharing one Redis");
    }
    for (name, reason) in &skipped {
        println!("skip {name}: {reason}");
    }
    let mut columns: Vec<String> = drivers.iter().map(|(n, _)| n.clone()).collect();
    columns.extend(skipped.iter().map(|(n, _)| n.clone()));
    let mut table = Table::new(columns);
    for name in &names {
        let scenario = Scenario::load(&cli.scenarios_dir.join(format!("{name}.json")));
        if let Ok(sc) = &scenario {
            if let Some(reason) = not_run(sc, &settings) {
                println!("== {name} not run: {reason}");
                continue;
            }
        }
        let mut cells = Vec::new();
        for driver in &drivers {
            cells.push(cell(&scenario, name, driver, &settings).await);
        }
        cells.extend(skipped.iter().map(|_| Cell::Skipped));
        table.row(name, cells);
    }
    print!("{}", table.render(cli.require_all));
    Ok(table.totals(cli.require_all).1 == 0)
}

/// Runs `work` until SIGINT or SIGTERM. On a signal, every driver's process group is killed and
/// `work` is dropped, which stops its servers and proxies, and the result is an error.
async fn until_signal(work: impl Future<Output = Result<bool, String>>) -> Result<bool, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => return Err(format!("cannot install signal handlers: {e}")),
    };
    let name = tokio::select! {
        result = work => return result,
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    // `work` is dropped by now (its drivers' Drop killed their groups); this catches any group a
    // half-finished spawn registered.
    driver::kill_all();
    Err(format!("stopped by {name}; drivers killed"))
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roomlink-conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(until_signal(main_inner(cli))) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("roomlink-conformance: {e}");
            println!("0 passed, 1 failed");
            ExitCode::from(2)
        }
    }
}
