use twat_mcache::mcache;

#[mcache(size = 10)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
