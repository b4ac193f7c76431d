// A persistent cache cannot count uses: `policy = "lfu"` is refused where it is written.
use twat_ucache::{bcache, ucache};

#[bcache(policy = "lfu")]
fn on_disk(x: u32) -> u32 {
    x
}

#[ucache(folder_name = "x", policy = "lfu")]
fn chosen_lmdb(x: u32) -> u32 {
    x
}

#[ucache(policy = "lfu")]
fn in_memory_is_fine(x: u32) -> u32 {
    x
}

fn main() {}
