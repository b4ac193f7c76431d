//! A bcache result survives from one run to the next. Run it twice:
//!
//! ```text
//! cargo run -p twat-bcache --example survive    # "computed" (slow)
//! cargo run -p twat-bcache --example survive    # "from the cache" (instant)
//! ```
//!
//! Set `TWAT_CACHE_DIR` to put the cache somewhere else; `TWAT_CACHE_DISABLE=1` to bypass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use twat_bcache::bcache;

static COMPUTED: AtomicBool = AtomicBool::new(false);

#[bcache(folder_name = "twat-bcache-example", ttl = "1h")]
fn slow_square(n: u64) -> u64 {
    COMPUTED.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    n * n
}

fn main() {
    let start = Instant::now();
    let v = slow_square(12);
    let how = if COMPUTED.load(Ordering::Relaxed) {
        "computed"
    } else {
        "from the cache"
    };
    println!("slow_square(12) = {v}: {how} in {:?}", start.elapsed());
    let s = slow_square_cache().stats();
    println!(
        "backend {} · folder {:?} · entries {}",
        s.backend,
        s.folder.unwrap_or_default(),
        s.entries
    );
}
