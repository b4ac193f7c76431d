//! `lock = true`: cross-process single-flight, with real processes (the test binary run
//! again in child mode) sharing one cache folder. Written once for every persistent
//! cache; a test file runs them all with [`lock_tests!`](crate::lock_tests).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cache::{CacheStats, PersistentBuilder, PersistentCache};
use crate::child::{as_child, child, echo, in_child};

/// The body every racer runs: one line per computation in `$TWAT_CACHE_DIR/computed`,
/// then a slow 300 ms.
pub fn slow_body(n: u64) -> u64 {
    let dir = std::env::var_os("TWAT_CACHE_DIR").unwrap();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(Path::new(&dir).join("computed"))
        .unwrap();
    writeln!(f, "{}", std::process::id()).unwrap();
    drop(f);
    std::thread::sleep(Duration::from_millis(300));
    n * n
}

/// The two decorated functions of the test binary that [`racer`] calls: `square(true, n)`
/// is `#[attr(folder_name = "race", lock = true)]`, `square(false, n)` the same on folder
/// `race-unlocked` without the lock, both with [`slow_body`] for a body.
pub trait Racers {
    /// Calls the locked or the unlocked function.
    fn square(locked: bool, n: u64) -> u64;
    /// The statistics of its cache.
    fn stats(locked: bool) -> CacheStats;
}

fn wait_for(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// Child test `racer`: says it is ready, waits for the start signal, then calls the
/// decorated function; the value must be right and its cache on disk.
pub fn racer<R: Racers, C: PersistentCache<u64>>() {
    let Some(dir) = as_child("racer") else { return };
    let locked = std::env::var("RACE_LOCKED").unwrap() == "1";
    fs::write(dir.join(format!("ready-{}", std::process::id())), b"").unwrap();
    wait_for(&dir.join("go"), "the start signal");
    let v = R::square(locked, 12);
    assert_eq!(v, 144);
    let s = R::stats(locked);
    assert_eq!(s.backend, C::BACKEND, "{:?}", s.fallback_reason);
}

/// Starts four racers that all call the same function with the same argument at once;
/// returns how many times its body ran.
fn race(locked: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut kids: Vec<_> = (0..4)
        .map(|_| {
            let mut c = child("racer", dir.path());
            c.env("TWAT_CACHE_DIR", dir.path())
                .env("RACE_LOCKED", if locked { "1" } else { "0" });
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let start = Instant::now();
    while fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ready-"))
        .count()
        < 4
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "racers never got ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    fs::write(dir.path().join("go"), b"").unwrap();
    for k in kids.drain(..) {
        let out = k.wait_with_output().unwrap();
        echo("racer", &out);
        assert!(out.status.success(), "a racer failed");
    }
    if locked {
        let left = fs::read_dir(dir.path().join("race/locks"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "lock files are removed after use");
    }
    lines(&dir.path().join("computed"))
}

/// Four processes missing the same key at once compute it once with the lock, and more
/// than once without (the control).
pub fn four_processes_missing_one_key_compute_it_once() {
    if in_child() {
        return;
    }
    assert_eq!(race(true), 1, "with lock = true the body runs once in all");
    // The control: the same race without the lock computes in several processes, so the
    // assertion above is not vacuous.
    let unlocked = race(false);
    eprintln!("OBSERVED without lock: {unlocked} computations by 4 racing processes");
    assert!(unlocked > 1, "without the lock, {unlocked} computation(s)");
}

fn builder_cache<C: PersistentCache<u64>>(dir: &Path) -> C {
    C::builder()
        .cache_dir(dir)
        .folder_name("kill")
        .name("kill")
        .lock(true)
        .build()
        .unwrap()
}

/// Child test `holder`: takes the lock of key 5 and computes for two minutes (it is
/// killed long before).
pub fn holder<C: PersistentCache<u64>>() {
    let Some(dir) = as_child("holder") else {
        return;
    };
    let c = builder_cache::<C>(&dir);
    c.get_or_insert_with(5, || {
        fs::write(dir.join("holding"), b"").unwrap();
        std::thread::sleep(Duration::from_secs(120));
        unreachable!("killed before this")
    });
}

/// Child test `taker`: asks for key 5 and computes it once the holder's lock is gone.
pub fn taker<C: PersistentCache<u64>>() {
    let Some(dir) = as_child("taker") else { return };
    let c = builder_cache::<C>(&dir);
    let v = c.get_or_insert_with(5, || {
        fs::write(dir.join("taker-computed"), b"").unwrap();
        25
    });
    assert_eq!(v, 25);
}

/// A holder SIGKILLed while computing releases its lock (the kernel drops the `flock`):
/// the waiting taker computes, and the lock file is reused and removed.
pub fn a_holder_killed_mid_compute_does_not_wedge_the_others<C: PersistentCache<u64>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut holder = child("holder", dir.path()).spawn().unwrap();
    wait_for(&dir.path().join("holding"), "the holder to start computing");
    let mut taker = child("taker", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        taker.try_wait().unwrap().is_none(),
        "the taker waits for the holder's lock"
    );
    assert!(!dir.path().join("taker-computed").exists());
    holder.kill().unwrap(); // SIGKILL: no destructor runs, the kernel drops the flock
    holder.wait().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = taker.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the taker is wedged after the holder died"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    assert!(
        dir.path().join("taker-computed").exists(),
        "the taker computed"
    );
    let c = builder_cache::<C>(dir.path());
    assert_eq!(c.get(&5), Some(25));
    // The killed holder's lock file was reused and removed by the taker.
    assert_eq!(
        fs::read_dir(dir.path().join("kill/locks")).unwrap().count(),
        0
    );
}

/// Hits never touch the lock; a lock folder that cannot be used makes misses compute
/// without the lock, and say why.
pub fn hits_take_no_lock_and_an_unusable_lock_folder_costs_nothing_but_the_lock<
    C: PersistentCache<u64>,
>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = C::builder()
        .cache_dir(dir.path())
        .folder_name("nolock")
        .name("nolock")
        .lock(true)
        .build()
        .unwrap();
    assert_eq!(c.get_or_insert_with(1, || 10), 10);
    // Make the lock folder impossible: a regular file where it should be.
    let locks = dir.path().join("nolock/locks");
    let _ = fs::remove_dir_all(&locks);
    fs::write(&locks, b"not a folder").unwrap();
    for _ in 0..100 {
        assert_eq!(c.get_or_insert_with(1, || unreachable!("a hit")), 10);
    }
    assert_eq!(c.stats().last_error, None, "hits never touch the lock");
    // A miss computes anyway, and says why it could not lock.
    assert_eq!(c.get_or_insert_with(2, || 20), 20);
    assert_eq!(c.get_or_insert_with(3, || 30), 30);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.write_errors), (100, 3, 0));
    let why = s.last_error.unwrap();
    assert!(why.contains("cross-process lock"), "{why}");
    assert_eq!(c.get(&2), Some(20), "still stored");
}

/// A body that asks for its own key again (same thread) computes directly, with
/// single-flight on and off.
pub fn same_key_recursion_under_lock_does_not_deadlock<C: PersistentCache<u64>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for single_flight in [true, false] {
        let c = C::builder()
            .cache_dir(dir.path())
            .folder_name(&format!("rec-{single_flight}"))
            .lock(true)
            .single_flight(single_flight)
            .build()
            .unwrap();
        let inner = c.clone();
        // The body asks for its own key again (same thread): computes directly.
        let v = c.get_or_insert_with(1, move || inner.get_or_insert_with(1, || 7) + 1);
        assert_eq!(v, 8);
    }
}

/// Expands to the lock tests of a test file, under their usual names (`racer`, `holder`
/// and `taker` are child tests; the others start them): the two decorated functions of
/// [`Racers`] made with the given attribute, and one `#[test]` per scenario of this
/// module, run on the given cache type (`Tested<u64>` from
/// the test file's `type Tested<V> = twat_bcache::LmdbCache<u64, V>`). The scenarios' assertions are in this
/// module, so a failure points here.
///
/// ```ignore
/// type Tested<V> = twat_bcache::LmdbCache<u64, V>;
/// twat_cache_testkit::lock_tests!(twat_bcache::bcache, Tested<u64>);
/// ```
#[macro_export]
macro_rules! lock_tests {
    ($krate:ident :: $attr:ident, $cache:ty) => {
        #[$krate::$attr(folder_name = "race", lock = true)]
        fn locked_square(n: u64) -> u64 {
            $crate::lock::slow_body(n)
        }

        #[$krate::$attr(folder_name = "race-unlocked")]
        fn unlocked_square(n: u64) -> u64 {
            $crate::lock::slow_body(n)
        }

        /// `locked_square` and `unlocked_square`, for the racers.
        struct Racers;

        impl $crate::lock::Racers for Racers {
            fn square(locked: bool, n: u64) -> u64 {
                if locked {
                    locked_square(n)
                } else {
                    unlocked_square(n)
                }
            }
            fn stats(locked: bool) -> $crate::cache::CacheStats {
                if locked {
                    locked_square_cache().stats()
                } else {
                    unlocked_square_cache().stats()
                }
            }
        }

        #[test]
        fn racer() {
            $crate::lock::racer::<Racers, $cache>();
        }

        #[test]
        fn four_processes_missing_one_key_compute_it_once() {
            $crate::lock::four_processes_missing_one_key_compute_it_once();
        }

        #[test]
        fn holder() {
            $crate::lock::holder::<$cache>();
        }

        #[test]
        fn taker() {
            $crate::lock::taker::<$cache>();
        }

        #[test]
        fn a_holder_killed_mid_compute_does_not_wedge_the_others() {
            $crate::lock::a_holder_killed_mid_compute_does_not_wedge_the_others::<$cache>();
        }

        #[test]
        fn hits_take_no_lock_and_an_unusable_lock_folder_costs_nothing_but_the_lock() {
            $crate::lock::hits_take_no_lock_and_an_unusable_lock_folder_costs_nothing_but_the_lock::<
                $cache,
            >();
        }

        #[test]
        fn same_key_recursion_under_lock_does_not_deadlock() {
            $crate::lock::same_key_recursion_under_lock_does_not_deadlock::<$cache>();
        }
    };
}
