use twat_mcache::mcache;

#[mcache(ttl = 60, stale_while_revalidate = -5)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
