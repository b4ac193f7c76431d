use twat_ucache::ucache;

#[ucache(preferred_engine = "redis")]
fn plain(x: u32) -> u32 {
    x
}

fn main() {}
