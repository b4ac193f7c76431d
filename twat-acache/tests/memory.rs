//! The memory backend: single-flight across tasks, cancellation, panics, and executors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use twat_acache::{AsyncCache, Backend};

/// Yields to the executor `n` times: a computation that takes a while without any runtime.
struct YieldN(usize);
impl Future for YieldN {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_tasks_await_one_computation_under_tokio() {
    let cache = AsyncCache::<u64, u64>::builder().build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_insert_with(7, async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        49
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 49);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one computation for 100 tasks"
    );
    assert_eq!(cache.len(), 1);
}

#[test]
fn hundred_futures_await_one_computation_under_block_on() {
    let cache = AsyncCache::<u64, u64>::builder().build().unwrap();
    let runs = AtomicUsize::new(0);
    let out = futures_executor::block_on(futures_util::future::join_all((0..100).map(|_| {
        cache.get_or_insert_with(1, async {
            runs.fetch_add(1, Ordering::SeqCst);
            YieldN(20).await;
            10
        })
    })));
    assert!(out.iter().all(|&v| v == 10));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.backend(), Backend::Schnellru);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_leader_hands_over_to_one_waiter() {
    let cache = AsyncCache::<u64, u64>::builder().build().unwrap();
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_millis(100),
                cache.get_or_insert_with(1, async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    0
                }),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await; // the leader has claimed the key
    let runs = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..20)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_insert_with(1, async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        2
                    })
                    .await
            })
        })
        .collect();
    assert!(leader.await.unwrap().is_err(), "the leader timed out");
    for w in tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::future::join_all(waiters),
    )
    .await
    .expect("waiters are not left hanging")
    {
        assert_eq!(w.unwrap(), 2);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "exactly one waiter took over"
    );
}

#[test]
fn a_leader_dropped_by_select_hands_over_without_a_runtime() {
    use futures_util::{FutureExt, pin_mut, select};
    let cache = AsyncCache::<u64, u64>::builder().build().unwrap();
    futures_executor::block_on(async {
        // Boxed so that dropping it really drops the computing future.
        let mut leader = Box::pin(
            cache
                .get_or_insert_with(5, async {
                    YieldN(usize::MAX).await;
                    0
                })
                .fuse(),
        );
        // Poll the leader a few times so that it claims the key.
        select! {
            _ = leader => unreachable!("the leader never finishes"),
            _ = YieldN(3).fuse() => {}
        }
        let waiter = cache.get_or_insert_with(5, async { 55 }).fuse();
        pin_mut!(waiter);
        select! {
            _ = waiter => unreachable!("the leader holds the key"),
            _ = YieldN(3).fuse() => {}
        }
        drop(leader); // cancel the leader: the waiter takes over
        assert_eq!(waiter.await, 55);
    });
    assert_eq!(futures_executor::block_on(cache.get(&5)), Some(55));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_leader_poisons_nothing() {
    let cache = AsyncCache::<u64, String>::builder().build().unwrap();
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_insert_with(9, async {
                    tokio::time::sleep(Duration::from_millis(80)).await;
                    panic!("the body failed");
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..20)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_insert_with(9, async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        "nine".to_string()
                    })
                    .await
            })
        })
        .collect();
    assert!(leader.await.unwrap_err().is_panic());
    for w in waiters {
        assert_eq!(w.await.unwrap(), "nine");
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "exactly one waiter recomputed"
    );
    assert_eq!(cache.get(&9).await.as_deref(), Some("nine"));
    assert_eq!(
        cache.get_or_insert_with(10, async { "ten".into() }).await,
        "ten"
    );
}

#[tokio::test]
async fn errors_are_returned_not_stored_and_a_waiter_takes_over() {
    let cache = AsyncCache::<u8, u8>::builder().build().unwrap();
    let failing = cache.try_get_or_insert_with(1, async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Err::<u8, &str>("down")
    });
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache
            .try_get_or_insert_with(1, async { Ok::<u8, &str>(3) })
            .await
    };
    let (a, b) = tokio::join!(failing, waiting);
    assert_eq!(a, Err("down"));
    assert_eq!(b, Ok(3));
    assert_eq!(cache.get(&1).await, Some(3));
}

#[test]
fn futures_are_send_and_need_not_be_static() {
    let cache = AsyncCache::<String, usize>::builder().build().unwrap();
    let local = String::from("borrowed");
    let fut = assert_send(cache.get_or_insert_with("k".into(), async { local.len() }));
    assert_eq!(futures_executor::block_on(fut), 8);
    let key = "k".to_string();
    drop(assert_send(cache.get(&key)));
    drop(assert_send(cache.insert(key.clone(), 1)));
    drop(assert_send(cache.remove(&key)));
    drop(assert_send(cache.clear()));
    drop(assert_send(
        cache.try_get_or_insert_with(key, async { Ok::<_, ()>(1) }),
    ));
}

#[test]
fn ttl_expires_and_stats_count() {
    let cache = AsyncCache::<u8, u8>::builder()
        .ttl(Duration::from_millis(50))
        .maxsize(10)
        .name("ttl-test")
        .build()
        .unwrap();
    futures_executor::block_on(async {
        cache.insert(1, 1).await;
        assert_eq!(cache.get(&1).await, Some(1));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(cache.get(&1).await, None);
    });
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.inserts), (1, 1, 1));
    assert!(s.expired >= 1);
    assert!(
        twat_acache::stats_all()
            .iter()
            .any(|s| s.name == "ttl-test" && s.kind == "memory")
    );
}

#[test]
fn unknown_backend_is_a_config_error_and_compiled_out_ones_fall_back() {
    let err = AsyncCache::<u8, u8>::builder()
        .backend("mongo")
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "backend");
    #[cfg(not(feature = "redis"))]
    {
        let c = AsyncCache::<u8, u8>::builder()
            .backend("redis")
            .build()
            .unwrap();
        assert!(c.backend().is_memory());
        assert!(
            c.stats()
                .fallback_reason
                .unwrap()
                .contains("`redis` feature")
        );
    }
    #[cfg(not(feature = "lmdb"))]
    {
        let c = AsyncCache::<u8, u8>::builder()
            .backend("lmdb")
            .build()
            .unwrap();
        assert!(c.backend().is_memory());
        assert!(
            c.stats()
                .fallback_reason
                .unwrap()
                .contains("`lmdb` feature")
        );
    }
    #[cfg(not(feature = "files"))]
    {
        let c = AsyncCache::<u8, u8>::builder()
            .backend("files")
            .build()
            .unwrap();
        assert!(c.backend().is_memory());
        assert!(
            c.stats()
                .fallback_reason
                .unwrap()
                .contains("`files` feature")
        );
    }
}
