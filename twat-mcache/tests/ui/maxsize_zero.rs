use twat_mcache::mcache;

#[mcache(maxsize = 0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
