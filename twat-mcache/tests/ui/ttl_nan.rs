use twat_mcache::mcache;

#[mcache(ttl = "NaN")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
