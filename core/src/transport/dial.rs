//! TCP connect with Happy Eyeballs (RFC 8305): resolve the host afresh, then race the addresses,
//! IPv6 first and families interleaved, starting the next attempt [`CONNECTION_ATTEMPT_DELAY`]
//! after the previous one (or at once when it fails). The first connection wins; the others are
//! dropped, which closes them.
//!
//! A host name is looked up with tokio's `lookup_host`, on the runtime's one short-lived blocking
//! thread (`roomlink-dns`, see the engine); an IP literal is parsed without it. Every attempt
//! resolves again, so a changed DNS answer or network is picked up on the next retry.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// RFC 8305 §5's recommended "Connection Attempt Delay": how long an attempt has to connect
/// before the next address is tried alongside it.
pub const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Resolves `host` (a name, or an IP literal without brackets) and connects to one of its
/// addresses, Happy Eyeballs style. Nagle is off: frames are small and latency matters.
pub(crate) async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    let stream = race(order(addrs), CONNECTION_ATTEMPT_DELAY, TcpStream::connect).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// RFC 8305 §4: IPv6 first, then alternate families (v6, v4, v6, v4, ...), each family in the
/// resolver's order. Duplicates are dropped.
pub(crate) fn order(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut unique = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    let (v6, v4): (Vec<_>, Vec<_>) = unique.into_iter().partition(SocketAddr::is_ipv6);
    let mut v6 = v6.into_iter();
    let mut v4 = v4.into_iter();
    let mut out = Vec::new();
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Races `connect` over `addrs` in the given order: attempt n+1 starts `delay` after attempt n
/// started, or at once when no attempt is running any more (they all failed). Returns the first
/// success (dropping the attempts still running), or the last error when all fail. Generic over
/// `connect` so the timing can be tested on virtual time.
pub(crate) async fn race<T, F, Fut>(
    addrs: Vec<SocketAddr>,
    delay: Duration,
    mut connect: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut pending = addrs.into_iter();
    let mut running = FuturesUnordered::new();
    let mut last_error = None;
    let mut next_start = Instant::now();
    loop {
        if running.is_empty() {
            let Some(addr) = pending.next() else {
                return Err(last_error.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host has no address")
                }));
            };
            running.push(connect(addr));
            next_start = Instant::now() + delay;
        }
        let more = !pending.as_slice().is_empty();
        tokio::select! {
            Some(result) = running.next() => match result {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            },
            () = tokio::time::sleep_until(next_start), if more => {
                if let Some(addr) = pending.next() {
                    running.push(connect(addr));
                    next_start = Instant::now() + delay;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_comes_first_and_families_alternate() {
        let got = order(vec![
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
            a("10.0.0.3:1"),
            a("[::1]:1"),
            a("[::2]:1"),
            a("10.0.0.1:1"),
        ]);
        assert_eq!(
            got,
            vec![
                a("[::1]:1"),
                a("10.0.0.1:1"),
                a("[::2]:1"),
                a("10.0.0.2:1"),
                a("10.0.0.3:1"),
            ]
        );
    }

    /// Records which addresses were tried, when (virtual time since the start), and which
    /// attempts were dropped unfinished.
    #[derive(Default)]
    struct Log {
        started: Vec<(SocketAddr, Duration)>,
        dropped: Vec<SocketAddr>,
    }

    struct DropGuard(SocketAddr, std::sync::Arc<std::sync::Mutex<Log>>, bool);

    impl Drop for DropGuard {
        fn drop(&mut self) {
            if !self.2 {
                self.1.lock().unwrap().dropped.push(self.0);
            }
        }
    }

    /// How each fake address behaves.
    #[derive(Clone, Copy)]
    enum Fake {
        /// SYNs vanish: never answers.
        Blackhole,
        /// Refused after this long.
        Refuse(u64),
        /// Connects after this long.
        Accept(u64),
    }

    async fn run(addrs: &[(&str, Fake)]) -> (io::Result<SocketAddr>, Duration, Log) {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Log::default()));
        let plan: Vec<(SocketAddr, Fake)> = addrs.iter().map(|(s, f)| (a(s), *f)).collect();
        let t0 = Instant::now();
        let result = race(
            plan.iter().map(|(addr, _)| *addr).collect(),
            CONNECTION_ATTEMPT_DELAY,
            |addr| {
                let fake = plan.iter().find(|(x, _)| *x == addr).unwrap().1;
                log.lock().unwrap().started.push((addr, t0.elapsed()));
                let log = log.clone();
                async move {
                    let mut guard = DropGuard(addr, log, false);
                    let outcome = match fake {
                        Fake::Blackhole => std::future::pending().await,
                        Fake::Refuse(ms) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                        }
                        Fake::Accept(ms) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            Ok(addr)
                        }
                    };
                    guard.2 = true;
                    outcome
                }
            },
        )
        .await;
        let elapsed = t0.elapsed();
        let log = std::mem::take(&mut *log.lock().unwrap());
        (result, elapsed, log)
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[tokio::test(start_paused = true)]
    async fn a_blackholed_ipv6_address_costs_the_attempt_delay_not_a_timeout() {
        let (result, elapsed, log) = run(&[
            ("[::1]:1", Fake::Blackhole),
            ("127.0.0.1:1", Fake::Accept(0)),
        ])
        .await;
        assert_eq!(result.unwrap(), a("127.0.0.1:1"));
        assert_eq!(elapsed, CONNECTION_ATTEMPT_DELAY);
        assert_eq!(
            log.started,
            vec![
                (a("[::1]:1"), MS(0)),
                (a("127.0.0.1:1"), CONNECTION_ATTEMPT_DELAY)
            ]
        );
        assert_eq!(log.dropped, vec![a("[::1]:1")], "the loser is closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_address_starts_the_next_at_once() {
        let (result, elapsed, log) = run(&[
            ("[::1]:1", Fake::Refuse(10)),
            ("127.0.0.1:1", Fake::Accept(5)),
        ])
        .await;
        assert_eq!(result.unwrap(), a("127.0.0.1:1"));
        assert_eq!(elapsed, MS(15));
        assert_eq!(log.started[1], (a("127.0.0.1:1"), MS(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_first_address_never_starts_the_second() {
        let (result, elapsed, log) = run(&[
            ("[::1]:1", Fake::Accept(100)),
            ("127.0.0.1:1", Fake::Accept(0)),
        ])
        .await;
        assert_eq!(result.unwrap(), a("[::1]:1"));
        assert_eq!(elapsed, MS(100));
        assert_eq!(log.started.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_to_connect_wins_even_if_it_started_later() {
        // v6 is slow (400 ms) but alive; v4 starts at 250 ms and connects at 300 ms.
        let (result, elapsed, log) = run(&[
            ("[::1]:1", Fake::Accept(400)),
            ("127.0.0.1:1", Fake::Accept(50)),
        ])
        .await;
        assert_eq!(result.unwrap(), a("127.0.0.1:1"));
        assert_eq!(elapsed, MS(300));
        assert_eq!(log.dropped, vec![a("[::1]:1")]);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_staggered_and_all_failing_returns_the_last_error() {
        let (result, _, log) = run(&[
            ("[::1]:1", Fake::Refuse(1000)),
            ("10.0.0.1:1", Fake::Refuse(1000)),
            ("[::2]:1", Fake::Refuse(1000)),
        ])
        .await;
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let at: Vec<Duration> = log.started.iter().map(|(_, t)| *t).collect();
        assert_eq!(at, vec![MS(0), MS(250), MS(500)]);
        let (none, _, _) = run(&[]).await;
        assert_eq!(none.unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    /// A loopback listener whose accept queue is full: the kernel drops further SYNs, so a
    /// connect to it hangs like one to a blackholed address. Returns it with the connection that
    /// fills its queue (both must stay alive).
    async fn blackhole_v6() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v6().expect("IPv6 socket");
        socket.bind(a("[::1]:0")).expect("bind [::1]");
        let listener = socket.listen(0).expect("listen");
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        // Fill the queue until a connect no longer completes (one or two, by kernel).
        for _ in 0..8 {
            match tokio::time::timeout(MS(200), TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => queued.push(stream),
                Ok(Err(e)) => panic!("connect to the queue-full listener failed: {e}"),
                Err(_) => return (listener, queued, addr),
            }
        }
        panic!("a listener with a full accept queue still completes connects: no blackhole here");
    }

    #[tokio::test]
    async fn over_real_sockets_a_blackholed_ipv6_address_costs_the_attempt_delay() {
        let (_hole, _queued, hole) = blackhole_v6().await;
        let working = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let working_addr = working.local_addr().unwrap();
        let t0 = std::time::Instant::now();
        let stream = race(
            order(vec![working_addr, hole]),
            CONNECTION_ATTEMPT_DELAY,
            TcpStream::connect,
        )
        .await
        .expect("the IPv4 address connects");
        let took = t0.elapsed();
        assert_eq!(stream.peer_addr().unwrap(), working_addr);
        // IPv6 was tried first (so the IPv4 attempt waited its turn), and the blackhole cost the
        // attempt delay, not a connect timeout: far below the default ping timeout.
        assert!(took >= CONNECTION_ATTEMPT_DELAY, "{took:?}");
        let ping_timeout = crate::EngineConfig::default().ping_timeout;
        assert!(took < ping_timeout / 4, "{took:?}");
        eprintln!("happy eyeballs past a blackholed [::1]: connected in {took:?}");
    }
}
