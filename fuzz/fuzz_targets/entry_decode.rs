//! `entry_decode`: see `twat_cache_common::fuzzing::check_entry` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twat_cache_common::fuzzing::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fuzz_target!(|data: &[u8]| fuzzing::check_entry(data));
