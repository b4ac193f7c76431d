//! Feature `metrics`: every registered cache's counters through the [`metrics`] facade,
//! for Prometheus, StatsD, OpenTelemetry or whatever recorder the program installs.
//!
//! Names (labelled `cache`, `kind`, `backend`): counters `twat_cache_hits_total`,
//! `twat_cache_misses_total`, `twat_cache_inserts_total`, `twat_cache_evictions_total`,
//! `twat_cache_errors_total` (write and read errors absorbed), `twat_cache_l1_hits_total`;
//! gauges `twat_cache_entries`, `twat_cache_bytes`; histogram `twat_cache_compute_seconds`
//! (the decorated body's run time, recorded on each computation).
//!
//! The hit path pays nothing for them: counters and gauges are copied from each cache's
//! own counters by the background sweeper at least once a second, and on every
//! [`stats_all`](crate::stats_all). Without the feature every function here is empty.

use std::time::Instant;

use crate::{Backend, CacheStats};

/// Copies one cache's counters and sizes to the installed recorder.
///
/// ```
/// use twat_cache_common::{Backend, CacheStats, metrics};
/// let mut s = CacheStats::new("geo", Backend::Lmdb);
/// s.hits = 3;
/// metrics::publish(&s); // no recorder installed: nothing happens, nothing fails
/// ```
pub fn publish(s: &CacheStats) {
    #[cfg(feature = "metrics")]
    {
        let labels = labels(&s.name, &s.kind, s.backend);
        let counters = [
            ("twat_cache_hits_total", s.hits),
            ("twat_cache_misses_total", s.misses),
            ("twat_cache_inserts_total", s.inserts),
            ("twat_cache_evictions_total", s.evictions),
            ("twat_cache_errors_total", s.write_errors + s.read_errors),
            ("twat_cache_l1_hits_total", s.l1_hits),
        ];
        for (name, value) in counters {
            ::metrics::counter!(name, labels.iter()).absolute(value);
        }
        ::metrics::gauge!("twat_cache_entries", labels.iter()).set(s.entries as f64);
        ::metrics::gauge!("twat_cache_bytes", labels.iter()).set(s.bytes as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = s;
}

/// Runs `body` and, with the feature on, records its run time in
/// `twat_cache_compute_seconds` for the cache `name` of `kind` served by `backend`.
///
/// ```
/// use twat_cache_common::{Backend, metrics};
/// assert_eq!(metrics::timed("fib", "memory", Backend::Std, || 55), 55);
/// ```
#[inline]
pub fn timed<T>(name: &str, kind: &str, backend: Backend, body: impl FnOnce() -> T) -> T {
    #[cfg(feature = "metrics")]
    {
        let started = Instant::now();
        let out = body();
        ::metrics::histogram!(
            "twat_cache_compute_seconds",
            labels(name, kind, backend).iter()
        )
        .record(started.elapsed().as_secs_f64());
        out
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = (name, kind, backend, Instant::now);
        body()
    }
}

#[cfg(feature = "metrics")]
fn labels(name: &str, kind: &str, backend: Backend) -> [::metrics::Label; 3] {
    [
        ::metrics::Label::new("cache", name.to_owned()),
        ::metrics::Label::new("kind", kind.to_owned()),
        ::metrics::Label::new("backend", backend.to_string()),
    ]
}
