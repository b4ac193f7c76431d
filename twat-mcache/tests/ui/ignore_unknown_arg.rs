use twat_mcache::mcache;

#[mcache(ignore = [y])]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
