use twat_mcache::mcache;

#[mcache(stale_while_revalidate = "10s")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
