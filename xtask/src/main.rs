//! `cargo xtask`: the project's checks and benchmarks, the same on a laptop and in CI.
//!
//! - `cargo xtask ci`: format check, clippy (warnings denied), tests with default features,
//!   with each backend feature off (the compile-time fallbacks), with all features, doc
//!   tests, compile-fail tests, the examples, and `cargo publish --dry-run` of every crate.
//! - `cargo xtask lint`, `cargo xtask test`, `cargo xtask package`: the parts of `ci`
//!   (`package` is `cargo publish --dry-run` of every crate).
//! - `cargo xtask bench`: every criterion benchmark, then one table of ns/op with ratios,
//!   and the chart `docs/performance.svg`; `--instructions` counts instructions per memory
//!   hit and miss under callgrind instead (see `instructions.rs`), `--interleaved` times
//!   them in alternating bursts.
//! - `cargo xtask python`: the Python package (lint, then a fresh venv, `pip install`, and
//!   its pytest suite); part of `ci`.

mod chart;
mod instructions;
mod python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "twat-cache project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks: lint, test, then package.
    Ci,
    /// Format check and clippy with warnings denied.
    Lint,
    /// Tests: default features, each backend off, all features, docs, examples.
    Test,
    /// `cargo publish --dry-run` of every crate: metadata, license, readme, and that each
    /// packaged crate builds on its own.
    Package,
    /// The Python package twat-cache-py: lint, build into a fresh venv, run its pytest suite.
    Python,
    /// Criterion benchmarks, then one table with ratios to mcache.
    Bench {
        /// A crate or bench file name (runs that file), or part of a benchmark id (passed
        /// to criterion).
        filter: Option<String>,
        /// Print the table from the last run without running anything.
        #[arg(long)]
        table_only: bool,
        /// Count instructions per memory hit and miss (ours, quick_cache, `cached`) under
        /// `valgrind --tool=callgrind` instead of timing: repeatable on a noisy machine.
        #[arg(long)]
        instructions: bool,
        /// Time the memory hit (1, 2, 4, 8 threads) and miss of ours and the anchors in
        /// alternating bursts, so that the ratios hold on a busy machine.
        #[arg(long)]
        interleaved: bool,
    },
}

/// Crates with backend features, and the test to run with those features off.
const FALLBACK_CRATES: &[&str] = &[
    "twat-mcache",
    "twat-bcache",
    "twat-fcache",
    "twat-acache",
    "twat-ucache",
];

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("\n==> cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    eprintln!("<== {:.1}s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn has_feature(krate: &str, feature: &str) -> bool {
    let manifest = root().join(krate).join("Cargo.toml");
    std::fs::read_to_string(manifest).is_ok_and(|m| m.contains(&format!("\n{feature} = [")))
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    for krate in FALLBACK_CRATES {
        if has_feature(krate, "default") {
            cargo(&[
                "clippy",
                "-p",
                krate,
                "--all-targets",
                "--no-default-features",
                "--",
                "-D",
                "warnings",
            ])?;
        }
    }
    Ok(())
}

fn test() -> Result<(), String> {
    // Default features: unit, integration, compile-fail (trybuild) and doc tests.
    cargo(&["test", "--workspace"])?;
    // Each backend's feature off: the compile-time fallbacks.
    for krate in FALLBACK_CRATES {
        if has_feature(krate, "default") {
            cargo(&[
                "test",
                "-p",
                krate,
                "--no-default-features",
                "--lib",
                "--tests",
            ])?;
        }
    }
    // `#[ucache]` on async fns with the disk engines compiled out: the selection matrix's
    // remaining corner (acache asked for LMDB or files that are not there).
    cargo(&[
        "test",
        "-p",
        "twat-ucache",
        "--no-default-features",
        "--features",
        "async",
        "--lib",
        "--tests",
    ])?;
    // Everything on (Redis included: .ci/run installs redis-server).
    cargo(&["test", "--workspace", "--all-features", "--lib", "--tests"])?;
    // The examples, run as a user would run them (twice: the second run reads the disk
    // caches the first one wrote).
    let dir = std::env::temp_dir().join(format!("twat-cache-ci-{}", std::process::id()));
    // SAFETY: single-threaded at this point; the child processes inherit it.
    unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
    cargo(&["build", "--workspace", "--examples"])?;
    cargo(&["run", "--example", "quickstart"])?;
    cargo(&["run", "--example", "quickstart"])?;
    // The CLI on the caches the quickstart left: what a user sees, and nothing damaged.
    for command in ["list", "verify"] {
        cargo(&[
            "run",
            "-q",
            "-p",
            "twat-ucache",
            "--features",
            "cli",
            "--bin",
            "twat-cache",
            "--",
            command,
        ])?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Every crate as crates.io would receive it: packaged (metadata, license files, readme)
/// and built from the package alone, the workspace crates resolved against each other.
fn package() -> Result<(), String> {
    // Verified in a target dir of its own: see `forget_packaged_sources`.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("publish-check");
    forget_packaged_sources(&target);
    // SAFETY: xtask is single-threaded; the variable is put back right after.
    let before = std::env::var_os("CARGO_TARGET_DIR");
    unsafe { std::env::set_var("CARGO_TARGET_DIR", &target) };
    let result = cargo(&["publish", "--workspace", "--dry-run", "--allow-dirty"]);
    match before {
        Some(v) => unsafe { std::env::set_var("CARGO_TARGET_DIR", v) },
        None => unsafe { std::env::remove_var("CARGO_TARGET_DIR") },
    }
    result
}

/// `cargo publish --workspace --dry-run` verifies each crate against the others through a
/// temporary local registry: it unpacks them under `$CARGO_HOME/registry/src/-<hash>/` and
/// compiles them like any registry crate. Registry crates are taken to be immutable, so
/// with the version unchanged a second run would reuse the first run's sources and build
/// artifacts (a method added since is "not found"). Those are removed first: our crates'
/// unpacked sources in the unnamed local registries, and their artifacts in `target`
/// (used only by this check, so third-party artifacts stay warm). crates.io's sources are
/// not touched.
fn forget_packaged_sources(target: &Path) {
    let ours = |name: &std::ffi::OsStr| {
        let name = name.to_string_lossy();
        name.starts_with("twat-") || name.starts_with("twat_") || name.starts_with("libtwat_")
    };
    let remove_ours = |dir: &Path| {
        for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if ours(&item.file_name()) {
                let p = item.path();
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
    };
    let _ = std::fs::remove_dir_all(target.join("package"));
    for sub in [".fingerprint", "deps", "build", "incremental"] {
        remove_ours(&target.join("debug").join(sub));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(src) = home.map(|h| h.join("registry").join("src")) {
        for registry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            if registry.file_name().to_string_lossy().starts_with('-') {
                remove_ours(&registry.path());
            }
        }
    }
}

/// Reads criterion's estimates: group → (bench id → median ns).
fn read_estimates() -> BTreeMap<String, Vec<(String, f64)>> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut out: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    let Ok(groups) = std::fs::read_dir(target.join("criterion")) else {
        return out;
    };
    for group in groups.flatten() {
        let gname = group.file_name().to_string_lossy().into_owned();
        if gname == "report" {
            continue;
        }
        let mut stack = vec![group.path()];
        while let Some(dir) = stack.pop() {
            let est = dir.join("new/estimates.json");
            if est.is_file() {
                let id = dir
                    .strip_prefix(group.path())
                    .unwrap_or(&dir)
                    .to_string_lossy()
                    .into_owned();
                let json = |name: &str| {
                    std::fs::read_to_string(dir.join("new").join(name))
                        .ok()
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                };
                // A bench that times a batch declares it as throughput (elements per
                // iteration): the table shows time per element, i.e. per operation.
                let per_iter = json("benchmark.json")
                    .and_then(|b| b["throughput"]["Elements"].as_f64())
                    .filter(|&n| n > 0.0)
                    .unwrap_or(1.0);
                if let Some(ns) =
                    json("estimates.json").and_then(|v| v["median"]["point_estimate"].as_f64())
                {
                    out.entry(gname.clone())
                        .or_default()
                        .push((id, ns / per_iter));
                }
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&dir) {
                stack.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_dir() && !p.ends_with("report")),
                );
            }
        }
    }
    for rows in out.values_mut() {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out
}

pub(crate) fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn print_table() {
    let est = read_estimates();
    if est.is_empty() {
        eprintln!("no criterion results under target/criterion: run `cargo xtask bench` first");
        return;
    }
    println!("\n| group | bench | median time/op | ratio to ours |");
    println!("|---|---|---:|---:|");
    for (group, rows) in &est {
        // The reference row of each group is ours: the id starting with a twat crate name.
        let reference = rows
            .iter()
            .find(|(id, _)| id.starts_with("mcache") || id.starts_with("twat"))
            .or_else(|| rows.first())
            .map(|r| r.1);
        for (id, ns) in rows {
            // Rows of a parameter sweep (`<crate>_<n>`, e.g. threads in `hit_threads`)
            // compare with our row of the same `n`.
            let reference = id
                .rsplit_once('_')
                .filter(|(_, n)| n.parse::<u32>().is_ok())
                .and_then(|(_, n)| {
                    rows.iter().find(|(o, _)| {
                        (o.starts_with("mcache") || o.starts_with("twat"))
                            && o.ends_with(&format!("_{n}"))
                    })
                })
                .map(|r| r.1)
                .or(reference);
            let ratio = reference.map_or(String::from("-"), |r| format!("{:.2}×", ns / r));
            println!("| {group} | {id} | {} | {ratio} |", format_ns(*ns));
        }
    }
    println!(
        "\nratio = this row's time / our row's time in the same group: above 1 means ours is faster."
    );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let note = format!("criterion medians from one `cargo xtask bench` run, {cores} cores");
    if let Some(svg) = chart::svg(&est, &note) {
        let path = root().join("docs").join("performance.svg");
        match std::fs::write(&path, svg) {
            Ok(()) => eprintln!("chart: {}", path.display()),
            Err(e) => eprintln!("chart: cannot write {}: {e}", path.display()),
        }
    }
}

fn bench(
    filter: Option<String>,
    table_only: bool,
    instructions: bool,
    interleaved: bool,
) -> Result<(), String> {
    if instructions {
        return instructions::run().map(drop);
    }
    if interleaved {
        return instructions::interleaved();
    }
    if !table_only {
        // Each bench file with the features its comparisons need (Redis benches skip
        // themselves, loudly, when no redis-server binary is installed).
        let benches: &[(&str, &str, &str)] = &[
            ("twat-mcache", "memory", ""),
            ("twat-bcache", "lmdb", "encrypt"),
            ("twat-fcache", "files", "encrypt"),
            ("twat-acache", "async", "redis"),
        ];
        // A filter naming a crate or bench file runs that file; any other filter is passed
        // to criterion, which runs the benchmarks whose id contains it.
        let picks_file = filter.as_deref().is_some_and(|f| {
            benches
                .iter()
                .any(|(k, n, _)| k.contains(f) || n.contains(f))
        });
        for (krate, name, features) in benches {
            if picks_file
                && filter
                    .as_deref()
                    .is_some_and(|f| !name.contains(f) && !krate.contains(f))
            {
                continue;
            }
            let mut args = vec!["bench", "-p", krate, "--bench", name];
            if !features.is_empty() {
                args.extend(["--features", features]);
            }
            if let (false, Some(f)) = (picks_file, filter.as_deref()) {
                args.extend(["--", f]);
            }
            cargo(&args)?;
        }
    }
    print_table();
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let started = Instant::now();
    let result = match cli.task {
        Task::Ci => lint()
            .and_then(|()| test())
            .and_then(|()| python::lint())
            .and_then(|()| python::test())
            .and_then(|()| package()),
        Task::Python => python::lint().and_then(|()| python::test()),
        Task::Lint => lint(),
        Task::Test => test(),
        Task::Package => package(),
        Task::Bench {
            filter,
            table_only,
            instructions,
            interleaved,
        } => bench(filter, table_only, instructions, interleaved),
    };
    match result {
        Ok(()) => {
            eprintln!(
                "\nxtask: all done in {:.0}s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nxtask: {e}");
            ExitCode::FAILURE
        }
    }
}
