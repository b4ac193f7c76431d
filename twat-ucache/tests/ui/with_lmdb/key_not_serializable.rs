// With LMDB compiled out, naming it is a deprecation warning: not what this case checks.
#![allow(deprecated)]

use twat_ucache::ucache;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Id(u32);

// A persistent cache stores its keys: an untyped key must be `Serialize` too.
#[ucache(folder_name = "x", key = Id(x))]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
