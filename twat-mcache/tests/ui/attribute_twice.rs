use twat_mcache::mcache;

#[mcache(maxsize = 1, maxsize = 2)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
