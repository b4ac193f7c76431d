#![deny(deprecated)]
use twat_ucache::ucache;

#[ucache(preferred_engine = "redis")]
fn shared(x: u32) -> u32 {
    x
}

fn main() {}
