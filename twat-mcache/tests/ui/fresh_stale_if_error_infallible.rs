use twat_mcache::mcache;

#[mcache(ttl = 60, stale_if_error = "5m")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
