//! `cargo xtask bench --instructions`: instructions per operation of the memory hit and
//! miss, ours against quick_cache and `cached`, counted by `valgrind --tool=callgrind`.
//!
//! A count does not move with the load of the machine, so a change of a few instructions on
//! the hot path shows up in one run where a time would drown in noise. Each contender runs
//! twice (`SMALL` and `LARGE` operations after the same setup, see
//! `twat-mcache/benches/instructions.rs`); the difference divided by `LARGE - SMALL` is the
//! cost of one operation, setup and process start-up cancelled out.

use std::path::PathBuf;
use std::process::Command;

const SMALL: u64 = 20_000;
const LARGE: u64 = 220_000;

/// (workload, contender) in the order of the table.
const RUNS: &[(&str, &str)] = &[
    ("hit", "mcache"),
    ("hit", "mcache_std"),
    ("hit", "quick_cache"),
    ("hit", "cached"),
    ("miss", "mcache"),
    ("miss", "mcache_std"),
    ("miss", "quick_cache"),
    ("miss", "cached"),
];

/// `cargo xtask bench --interleaved`: the same executable timing every contender in
/// alternating bursts (see `twat-mcache/benches/instructions.rs`); prints its table.
pub(crate) fn interleaved() -> Result<(), String> {
    let exe = build()?;
    let status = Command::new(&exe)
        .arg("interleaved")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} interleaved failed ({status})", exe.display()))
    }
}

/// Builds the `instructions` bench of twat-mcache and returns its executable.
fn build() -> Result<PathBuf, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "bench",
            "-p",
            "twat-mcache",
            "--bench",
            "instructions",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(crate::root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err("building twat-mcache's `instructions` bench failed".into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "instructions")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no `instructions` executable".into())
}

/// Total instructions of one run, from callgrind's "Collected : N" summary.
fn count(exe: &PathBuf, contender: &str, workload: &str, ops: u64) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--cache-sim=no",
        ])
        .arg(exe)
        .args([contender, workload, &ops.to_string()])
        .output()
        .map_err(|e| {
            format!("cannot run valgrind ({e}): install it (e.g. `apt-get install valgrind`)")
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "valgrind on {contender} {workload} failed:\n{stderr}"
        ));
    }
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no `Collected :` line in callgrind's output:\n{stderr}"))
}

/// One row: workload, contender, instructions per operation.
pub(crate) type Row = (String, String, f64);

/// Counts every contender, prints the table, and returns the rows.
pub(crate) fn run() -> Result<Vec<Row>, String> {
    let exe = build()?;
    let mut rows = Vec::new();
    for (workload, contender) in RUNS {
        eprintln!("callgrind: {workload} {contender}");
        let small = count(&exe, contender, workload, SMALL)?;
        let large = count(&exe, contender, workload, LARGE)?;
        let per_op = large.saturating_sub(small) as f64 / (LARGE - SMALL) as f64;
        rows.push(((*workload).to_owned(), (*contender).to_owned(), per_op));
    }
    println!("\n| workload | contender | instructions/op | ratio to mcache |");
    println!("|---|---|---:|---:|");
    for (workload, contender, per_op) in &rows {
        let ours = rows
            .iter()
            .find(|(w, c, _)| w == workload && c == "mcache")
            .map_or(f64::NAN, |r| r.2);
        println!(
            "| {workload} | {contender} | {per_op:.0} | {:.2}× |",
            per_op / ours
        );
    }
    println!(
        "\ninstructions per operation, counted by callgrind ({} − {} operations, setup \
         cancelled out); the same on any machine load.",
        LARGE, SMALL
    );
    Ok(rows)
}
