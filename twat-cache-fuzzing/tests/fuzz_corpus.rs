//! Replays the fuzz corpus and crash reproducers under `../fuzz/` with the same checks the
//! fuzz targets run (`twat_cache_fuzzing`), so stable CI keeps every input the fuzzer found
//! interesting passing without nightly or cargo-fuzz.
#![allow(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use twat_cache_fuzzing::{self as fuzzing, CountingAlloc, TARGETS};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the folder does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(read) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, files: &[PathBuf]) {
    for file in files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let outcome = std::panic::catch_unwind(|| fuzzing::check(target, &data));
        match outcome {
            Ok(Some(())) => {}
            Ok(None) => panic!("no check for target {target}"),
            Err(_) => panic!("{target}: {} fails its check", file.display()),
        }
    }
}

#[test]
fn the_counting_allocator_is_installed() {
    assert!(
        fuzzing::counting_installed(),
        "allocation limits would pass vacuously"
    );
}

#[test]
fn every_target_has_a_corpus_and_it_passes() {
    assert!(fuzz_dir().is_dir(), "{} is missing", fuzz_dir().display());
    for target in TARGETS {
        let files = inputs("corpus", target);
        assert!(
            !files.is_empty(),
            "fuzz/corpus/{target} is missing or empty: the replay would test nothing"
        );
        replay(target, &files);
    }
}

#[test]
fn every_regression_passes() {
    let dir = fuzz_dir().join("regressions");
    let read = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for sub in read {
        let sub = sub.expect("readable directory entry").path();
        let target = sub
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 name");
        assert!(
            TARGETS.contains(&target),
            "fuzz/regressions/{target}: no such target"
        );
        let files = inputs("regressions", target);
        count += files.len();
        replay(target, &files);
    }
    assert!(count > 0, "fuzz/regressions holds no reproducer");
}

#[test]
fn the_seeds_pass() {
    for target in TARGETS {
        let seeds = fuzzing::seeds(target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for seed in seeds {
            fuzzing::check(target, &seed).expect("known target");
        }
    }
}

/// Writes the seeds into `fuzz/corpus/<target>/seed-N` (see `fuzz/README.md`).
#[test]
#[ignore = "writes files; run by hand to seed a fresh corpus"]
fn write_seeds() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).expect("create corpus folder");
        for (i, seed) in fuzzing::seeds(target).into_iter().enumerate() {
            fs::write(dir.join(format!("seed-{i}")), seed).expect("write seed");
        }
    }
}
