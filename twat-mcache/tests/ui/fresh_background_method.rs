use twat_mcache::mcache;

struct Api;

impl Api {
    #[mcache(ignore = [self], ttl = 60, stale_while_revalidate = 60)]
    fn get(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
