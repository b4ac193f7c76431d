use twat_mcache::mcache;

#[mcache(ttl = "10 parsecs")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
