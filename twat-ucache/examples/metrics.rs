//! Every cache's counters in Prometheus text format, served on 127.0.0.1 (feature
//! `metrics`):
//!
//! ```text
//! cargo run -p twat-ucache --example metrics --features metrics
//! curl http://127.0.0.1:9898/metrics      # while it runs (10 s by default)
//! ```
//!
//! The caches publish through the `metrics` facade; any recorder works. This one is
//! `metrics-exporter-prometheus` without its HTTP stack: the example answers each request
//! with `PrometheusHandle::render` itself, to keep the dependency tree small.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusBuilder;
use twat_ucache::mcache;

#[mcache(maxsize = 100)]
fn slow_square(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    n * n
}

fn main() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("no other recorder is installed");
    for round in 0..3 {
        for n in 0..20 {
            slow_square(n + round);
        }
    }
    twat_ucache::stats_all(); // publishes now (the background publisher runs every second)

    let listener = TcpListener::bind("127.0.0.1:9898").expect("port 9898 is free");
    listener.set_nonblocking(true).unwrap();
    let serve_for: u64 = std::env::var("SERVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    println!("serving http://127.0.0.1:9898/metrics for {serve_for} s; a sample:\n");
    let text = handle.render();
    for line in text
        .lines()
        .filter(|l| l.starts_with("twat_cache_hits_total"))
    {
        println!("{line}");
    }
    let until = Instant::now() + Duration::from_secs(serve_for);
    while Instant::now() < until {
        match listener.accept() {
            Ok((mut conn, _)) => {
                let mut request = [0u8; 1024];
                let _ = conn.read(&mut request);
                let body = handle.render();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
