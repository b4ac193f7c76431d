use twat_mcache::mcache;

struct S;

impl S {
    #[mcache]
    fn f(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
