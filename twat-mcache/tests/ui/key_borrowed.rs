use twat_mcache::mcache;

// An untyped key must own what it keeps: a borrow of an argument is refused.
#[mcache(key = name.trim())]
fn f(name: &str) -> usize {
    name.len()
}

fn main() {}
