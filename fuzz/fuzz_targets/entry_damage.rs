//! `entry_damage`: see `twat_cache_fuzzing::check_entry_damage` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twat_cache_fuzzing::{self as fuzzing, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fuzz_target!(|data: &[u8]| fuzzing::check_entry_damage(data));
