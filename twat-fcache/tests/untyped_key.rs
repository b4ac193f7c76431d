//! `#[fcache(key = <expr>)]` without the key's type: inferred, stored in files, and read back
//! by another process.
#![cfg(feature = "files")]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_fcache::{Backend, fcache};

/// The child process of `a_second_process_reads_what_the_first_stored` gets its parent's root.
const ROOT_VAR: &str = "TWAT_FCACHE_UNTYPED_ROOT";

/// Points `TWAT_CACHE_DIR` at one directory per process (the parent's, in the child).
fn init() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = match std::env::var_os(ROOT_VAR) {
            Some(d) => PathBuf::from(d),
            None => tempfile::tempdir().unwrap().keep(),
        };
        // SAFETY: set inside the OnceLock, before any test thread reads the environment
        // through a cache (every test calls `init` first).
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
        dir
    })
}

static BUCKETS: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "untyped", key = id % 10)]
fn bucket(id: u64) -> String {
    BUCKETS.fetch_add(1, Ordering::SeqCst);
    format!("bucket of {id}")
}

#[test]
fn ids_with_the_same_key_share_one_file() {
    init();
    assert_eq!(bucket(2), "bucket of 2");
    assert_eq!(bucket(12), "bucket of 2", "12 % 10 == 2: 2's entry");
    assert_eq!(bucket(9), "bucket of 9");
    assert_eq!(BUCKETS.load(Ordering::SeqCst), 2);
    let cache = bucket_cache();
    assert_eq!(cache.backend(), Backend::Files);
    assert_eq!(cache.len(), 2, "two files");
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 2, 2));
    assert!(s.folder.unwrap().ends_with("untyped"));
    assert_eq!(cache.namespace().function_name(), "bucket");
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(bucket(22), "bucket of 22", "cleared: the body runs again");
}

struct Tile {
    zoom: u8,
}

static RENDERS: AtomicUsize = AtomicUsize::new(0);

impl Tile {
    #[fcache(folder_name = "untyped", compress = true, key = (self.zoom, x, y))]
    fn render(&self, x: u32, y: u32) -> Vec<u8> {
        RENDERS.fetch_add(1, Ordering::SeqCst);
        vec![self.zoom; (x + y) as usize * 100]
    }
}

#[test]
fn methods_key_on_self_fields() {
    init();
    let (a, twin) = (Tile { zoom: 3 }, Tile { zoom: 3 });
    assert_eq!(a.render(1, 2).len(), 300);
    assert_eq!(twin.render(1, 2).len(), 300);
    assert_eq!(Tile { zoom: 4 }.render(1, 2)[0], 4);
    assert_eq!(RENDERS.load(Ordering::SeqCst), 2, "the twin hit a's entry");
    assert_eq!(Tile::render_cache().len(), 2);
    assert_eq!(Tile::render_cache().stats().hits, 1);
}

static SHARED: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "untyped-shared", key = (word.to_lowercase(), n))]
fn shout(word: &str, n: usize) -> String {
    SHARED.fetch_add(1, Ordering::SeqCst);
    word.to_uppercase().repeat(n)
}

/// The parent stores an entry; a child process (same root, its own `static`s) finds it
/// under an argument that differs but makes the same key: the inferred key is stored and
/// looked up alike in both.
#[test]
fn a_second_process_reads_what_the_first_stored() {
    let root = init();
    if std::env::var_os(ROOT_VAR).is_some() {
        assert_eq!(shout("HeLLo", 2), "HELLOHELLO");
        assert_eq!(
            SHARED.load(Ordering::SeqCst),
            0,
            "read from the parent's file"
        );
        assert_eq!(shout_cache().stats().hits, 1);
        return;
    }
    assert_eq!(shout("hello", 2), "HELLOHELLO");
    assert_eq!(SHARED.load(Ordering::SeqCst), 1);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_second_process_reads_what_the_first_stored",
            "--nocapture",
        ])
        .env(ROOT_VAR, root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
