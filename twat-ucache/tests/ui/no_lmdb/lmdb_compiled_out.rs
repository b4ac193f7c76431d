#![deny(deprecated)]
use twat_ucache::ucache;

#[ucache(folder_name = "geo")]
fn geocode(x: u32) -> u32 {
    x
}

fn main() {}
