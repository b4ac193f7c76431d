//! Feature `metrics`: the caches' counters reach a real recorder (metrics-util's
//! debugging recorder), with the names and labels of DESIGN.md, from `stats_all()` and from
//! the background publisher, and the body's run time reaches the histogram.
#![allow(missing_docs)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use twat_ucache::{LmdbCache, MemoryCache};

/// The recorder drains on every snapshot: the tests take turns.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn snapshotter() -> &'static Snapshotter {
    static S: OnceLock<Snapshotter> = OnceLock::new();
    S.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let s = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this test binary");
        s
    })
}

type Snapshot = Vec<(String, Vec<(String, String)>, DebugValue)>;

/// Everything recorded since the last snapshot (the debugging recorder drains on read).
fn snapshot() -> Snapshot {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

/// The value of metric `name` labelled `cache = cache` in `snap`, with its labels.
fn metric<'a>(
    snap: &'a Snapshot,
    name: &str,
    cache: &str,
) -> Option<(&'a DebugValue, &'a [(String, String)])> {
    snap.iter().find_map(|(n, labels, value)| {
        (n == name && labels.iter().any(|(k, v)| k == "cache" && v == cache))
            .then_some((value, labels.as_slice()))
    })
}

#[test]
fn counters_gauges_and_compute_time_reach_the_recorder() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    snapshotter();
    let dir = tempfile::tempdir().unwrap();
    let disk = LmdbCache::<u64, u64>::builder()
        .cache_dir(dir.path())
        .name("metrics-disk")
        .build()
        .unwrap();
    for _ in 0..3 {
        disk.get_or_insert_with(7, || {
            std::thread::sleep(Duration::from_millis(5));
            49
        });
    }
    twat_ucache::stats_all();
    let snap = snapshot();
    let (hits, labels) = metric(&snap, "twat_cache_hits_total", "metrics-disk").expect("published");
    assert_eq!(hits, &DebugValue::Counter(2));
    assert!(
        labels.contains(&("kind".to_owned(), "lmdb".to_owned())),
        "{labels:?}"
    );
    assert!(
        labels.contains(&("backend".to_owned(), "lmdb".to_owned())),
        "{labels:?}"
    );
    let counter = |n| metric(&snap, n, "metrics-disk").map(|(v, _)| v);
    assert_eq!(
        counter("twat_cache_misses_total"),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("twat_cache_inserts_total"),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("twat_cache_errors_total"),
        Some(&DebugValue::Counter(0))
    );
    let Some(DebugValue::Gauge(entries)) = counter("twat_cache_entries") else {
        panic!("no entries gauge")
    };
    assert_eq!(entries.into_inner(), 1.0);
    let Some(DebugValue::Histogram(runs)) = counter("twat_cache_compute_seconds") else {
        panic!("no compute histogram")
    };
    assert_eq!(runs.len(), 1, "one computation");
    assert!(runs[0].into_inner() >= 0.005, "{runs:?}");
}

#[test]
fn the_background_publisher_needs_no_stats_call() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    snapshotter();
    let memory = MemoryCache::<u64, u64>::builder()
        .name("metrics-memory")
        .build()
        .unwrap();
    memory.insert(1, 1);
    for _ in 0..5 {
        memory.get(&1);
    }
    // Published at least once a second by the sweeper thread; polled for up to 10 s on a
    // loaded machine.
    let since = Instant::now();
    loop {
        let snap = snapshot();
        let seen = metric(&snap, "twat_cache_hits_total", "metrics-memory").map(|(v, _)| v);
        if seen == Some(&DebugValue::Counter(5)) {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "not published: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
