use twat_mcache::mcache;

#[mcache(ttl = 60, early = 0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
