use twat_mcache::mcache;

#[mcache(key = x + 1)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
