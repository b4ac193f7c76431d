//! Real Redis servers owned by the tests: one `redis-server` on a free loopback port, or
//! a three-node Redis Cluster, with no persistence, killed when dropped. Never connects
//! to a server it did not start. Where no `redis-server` (and for a cluster no
//! `redis-cli`) is on `PATH`, the test says so loudly and is skipped.
//!
//! [`shared_server`] is the conformance suite's: one server for the whole test binary,
//! started on first use, named to the stores through `TWAT_CACHE_REDIS_URL`, and killed
//! with the process (children run by the scenarios inherit the variable and use it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The variable naming the server of [`shared_server`] to child processes.
const SHARED_VAR: &str = "TWAT_TESTKIT_REDIS_URL";

fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn skip_loudly(test: &str, what: &str) {
    eprintln!(
        "\n!!!!! SKIPPED {test}: no `{what}` on PATH; install it (apt-get install \
         redis-server) to run the Redis tests !!!!!\n"
    );
    println!("SKIPPED {test}: no `{what}` on PATH");
}

/// Sends one inline command and reads the start of the answer.
fn ask(port: u16, command: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// One `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
    dir: Option<PathBuf>,
    /// Killed by the kernel when the thread that started it ends (Linux).
    die_with_parent: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port, or says loudly why the test is skipped (`None`).
    pub fn start(test: &str) -> Option<Self> {
        if binary("redis-server").is_none() {
            skip_loudly(test, "redis-server");
            return None;
        }
        Some(Self::spawn_on(free_port(), Vec::new(), None))
    }

    fn spawn_on(port: u16, extra: Vec<String>, dir: Option<PathBuf>) -> Self {
        let mut s = RedisServer {
            port,
            args: extra,
            dir,
            die_with_parent: false,
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = binary("redis-server").expect("redis-server is on PATH");
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        #[cfg(target_os = "linux")]
        if self.die_with_parent {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; it sets the child's parent-death signal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        self.child = Some(cmd.spawn().expect("redis-server starts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Whether it answers `PING`.
    pub fn ping(&self) -> bool {
        ask(self.port, "PING").is_some_and(|a| a.starts_with("+PONG"))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (empty: no persistence; a cluster node keeps its
    /// node id and slots from its config file).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Hands the process over: it is no longer killed on drop.
    fn into_child(mut self) -> Child {
        self.child.take().expect("running")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A three-node Redis Cluster (three primaries, no replicas) on 127.0.0.1, in a temp dir.
#[derive(Debug)]
pub struct RedisCluster {
    /// The nodes, in the order of [`url`](Self::url).
    pub nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts three nodes, joins them with `redis-cli --cluster create`, and waits until
    /// every node says `cluster_state:ok`; or says loudly why the test is skipped.
    pub fn start(test: &str) -> Option<Self> {
        for bin in ["redis-server", "redis-cli"] {
            if binary(bin).is_none() {
                skip_loudly(test, bin);
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let node_dir = dir.path().join(format!("node{i}"));
                std::fs::create_dir(&node_dir).unwrap();
                let args = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ];
                RedisServer::spawn_on(
                    free_port(),
                    args.iter().map(|s| s.to_string()).collect(),
                    Some(node_dir),
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(binary("redis-cli").unwrap())
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes, _dir: dir };
        cluster.wait_ok();
        Some(cluster)
    }

    /// Waits until every running node says `cluster_state:ok`.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for n in &self.nodes {
            loop {
                let info = ask(n.port, "CLUSTER INFO").unwrap_or_default();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {} never said cluster_state:ok: {info}",
                    n.port
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The nodes as a cache url: `redis://127.0.0.1:P1,redis://127.0.0.1:P2,...`.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Moves `slot` (and its keys) to node `to`, the way `redis-cli --cluster reshard`
    /// does: `IMPORTING` on the target, `MIGRATING` on the source, `MIGRATE` of every key,
    /// then `SETSLOT .. NODE` on every node.
    pub fn move_slot(&self, slot: u16, to: usize) {
        let from = self.node_of_slot(slot);
        if from == to {
            return;
        }
        let (src, dst) = (self.nodes[from].port, self.nodes[to].port);
        let id = |port: u16| cli(port, &["CLUSTER", "MYID"]).trim().to_owned();
        let (src_id, dst_id) = (id(src), id(dst));
        let slot = slot.to_string();
        cli(dst, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &src_id]);
        cli(src, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &dst_id]);
        loop {
            let listed = cli(src, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"]);
            let keys: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let port = dst.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            let out = cli(src, &args);
            assert!(out.contains("OK"), "MIGRATE: {out}");
        }
        for n in &self.nodes {
            cli(n.port, &["CLUSTER", "SETSLOT", &slot, "NODE", &dst_id]);
        }
    }

    /// The index of the node serving `slot`.
    pub fn node_of_slot(&self, slot: u16) -> usize {
        self.nodes
            .iter()
            .position(|node| owns(node.port, slot))
            .expect("some node serves the slot")
    }
}

/// Runs `redis-cli -p port args..`; its standard output.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(binary("redis-cli").expect("redis-cli is on PATH"))
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the node on `port` owns `slot`, from its own `CLUSTER NODES` line (`myself`).
fn owns(port: u16, slot: u16) -> bool {
    let Some(bin) = binary("redis-cli") else {
        return false;
    };
    let out = Command::new(bin)
        .args(["-p", &port.to_string(), "CLUSTER", "NODES"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(me) = text.lines().find(|l| l.contains("myself")) else {
        return false;
    };
    me.split_whitespace().skip(8).any(|range| {
        let mut ends = range.split('-').filter_map(|p| p.parse::<u16>().ok());
        match (ends.next(), ends.next()) {
            (Some(a), Some(b)) => (a..=b).contains(&slot),
            (Some(a), None) => a == slot,
            _ => false,
        }
    })
}

/// The Redis Cluster slot of `key` (CRC16/XMODEM of its hash tag, mod 16384).
pub fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = match key.find('{') {
        Some(open) => match key[open + 1..].find('}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    let mut crc: u16 = 0;
    for b in tagged {
        crc ^= (*b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// The conformance suite's server: started once per test binary on a free port, named to
/// the stores by `TWAT_CACHE_REDIS_URL` (and to child processes, which inherit it), and
/// killed when this process ends (it is started by a thread that lives as long as the
/// process, with `PR_SET_PDEATHSIG` on Linux). False, after a loud `SKIPPED`, where no
/// `redis-server` is installed.
pub fn shared_server(test: &str) -> bool {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    let url = URL.get_or_init(|| {
        if let Ok(url) = std::env::var(SHARED_VAR) {
            return Some(url); // a child of a test that started it
        }
        binary("redis-server")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("testkit-redis".into())
            .spawn(move || {
                let mut server = RedisServer {
                    port: free_port(),
                    args: Vec::new(),
                    dir: None,
                    die_with_parent: true,
                    child: None,
                };
                server.spawn();
                let url = server.url();
                let mut child = server.into_child();
                tx.send(url).unwrap();
                let _ = child.wait(); // lives as long as the process
            })
            .unwrap();
        let url = rx.recv().ok()?;
        // SAFETY: set once, before any cache of this binary reads it (every reader calls
        // this function first and waits on the `OnceLock`).
        unsafe {
            std::env::set_var(SHARED_VAR, &url);
            std::env::set_var("TWAT_CACHE_REDIS_URL", &url);
        }
        Some(url)
    });
    if url.is_none() {
        skip_loudly(test, "redis-server");
    }
    url.is_some()
}
