//! A small TCP proxy that injects link faults between a client and the server.
//!
//! Tests, the demo and the conformance kit put one proxy in front of each client so they can break
//! that client's link alone:
//! - [`Fault::Pass`]: bytes flow both ways.
//! - [`Fault::Blackhole`]: bytes are silently dropped both ways, as when a phone walks out of
//!   coverage: nobody sees a close, both ends must notice the silence. A connection that has been
//!   blackholed stays dead after the fault is lifted (its byte stream has holes); new connections work.
//!   Connections accepted during a blackhole hang (the handshake never completes). A close by
//!   either end of a blackholed connection is not passed on either.
//! - [`Fault::Reset`]: every open connection is reset (RST to the client, close to the server), and
//!   new connections are reset as soon as they are accepted.
//! - [`Fault::Delay`]: bytes flow, each chunk delivered after the given extra latency.
//!
//! Besides the fault, [`FaultProxy::hold_next`] holds the next new connection (whatever the
//! fault): its client→server bytes are kept in the proxy, nothing is answered and its close is not
//! passed on, until [`FaultProxy::release_held`] delivers them to the server. That is a connection
//! attempt stuck in the network (an overloaded server's accept queue, a mobile network holding
//! packets) that the client gives up on and that still reaches the server later, after a newer
//! attempt of the same client got through.
//!
//! The proxy runs on the tokio runtime it is started on; [`FaultProxy::set`] is synchronous so it can
//! be called from any thread.

#[cfg(feature = "tls")]
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The fault applied to the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Blackhole,
    Reset,
    Delay(Duration),
}

/// A running proxy. Dropping it stops accepting and closes every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    open: Arc<AtomicUsize>,
    hold: Arc<Hold>,
    accept_task: JoinHandle<()>,
}

/// Connections to hold, and the ones held until released.
struct Hold {
    /// How many of the next accepted connections to hold.
    armed: AtomicUsize,
    /// Bumped by every release; a held connection is delivered when it changes. Dropped with
    /// the proxy, which ends every held connection.
    release: watch::Sender<u64>,
    /// Held connections not yet fully delivered.
    pending: AtomicUsize,
    delivered: Notify,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 with an ephemeral port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), upstream).await
    }

    pub async fn bind(listen: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::Pass);
        let open = Arc::new(AtomicUsize::new(0));
        let hold = Arc::new(Hold {
            armed: AtomicUsize::new(0),
            release: watch::channel(0).0,
            pending: AtomicUsize::new(0),
            delivered: Notify::new(),
        });
        let accept_task = tokio::spawn(accept_loop(
            listener,
            upstream,
            fault.clone(),
            open.clone(),
            hold.clone(),
        ));
        Ok(FaultProxy {
            addr,
            fault,
            open,
            hold,
            accept_task,
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies a fault now, to open connections and to new ones.
    pub fn set(&self, fault: Fault) {
        log::info!("fault proxy {}: {:?}", self.addr, fault);
        self.fault.send_replace(fault);
    }

    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// Holds the next new connection, whatever the fault, until [`release_held`](Self::release_held):
    /// its client→server bytes stay in the proxy, the client gets nothing (its attempt times out)
    /// and its close is not passed on. Connections after it are treated as the fault says.
    pub fn hold_next(&self) {
        log::info!("fault proxy {}: holding the next connection", self.addr);
        self.hold.armed.fetch_add(1, Ordering::SeqCst);
    }

    /// Delivers every held connection's bytes to the server now, then its close if the client
    /// closed meanwhile. Returns once each one is delivered and, where the client had closed,
    /// the server has closed it too (so the server has processed what it was sent); one whose
    /// client is still there goes on as a normal connection.
    pub async fn release_held(&self) {
        log::info!("fault proxy {}: releasing held connections", self.addr);
        self.hold.release.send_modify(|g| *g = g.wrapping_add(1));
        loop {
            let delivered = self.hold.delivered.notified();
            tokio::pin!(delivered);
            delivered.as_mut().enable();
            if self.hold.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            delivered.await;
        }
    }

    /// Client connections currently held open by the proxy (in any state).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        // Connection tasks watch this channel; Reset tears them all down.
        self.fault.send_replace(Fault::Reset);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    open: Arc<AtomicUsize>,
    hold: Arc<Hold>,
) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or similar: keep serving rather than dying, but pause so a
                // persistent error does not spin.
                log::warn!("fault proxy accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let rx = fault.subscribe();
        let open = open.clone();
        let take = |n: usize| n.checked_sub(1);
        if hold
            .armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
            .is_ok()
        {
            hold.pending.fetch_add(1, Ordering::SeqCst);
            let release = hold.release.subscribe();
            let hold = hold.clone();
            tokio::spawn(async move {
                open.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = held(client, upstream, release, rx).await {
                    log::debug!("fault proxy held connection from {peer} ended: {e}");
                }
                open.fetch_sub(1, Ordering::SeqCst);
                hold.pending.fetch_sub(1, Ordering::SeqCst);
                hold.delivered.notify_waiters();
            });
            continue;
        }
        tokio::spawn(async move {
            open.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = handle(client, upstream, rx).await {
                log::debug!("fault proxy connection from {peer} ended: {e}");
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Sends RST instead of FIN when the socket is dropped.
fn reset(stream: TcpStream) {
    #[allow(deprecated)]
    // set_linger blocks only on close with a non-zero linger; zero is immediate.
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn handle(
    client: TcpStream,
    upstream: SocketAddr,
    mut fault: watch::Receiver<Fault>,
) -> io::Result<()> {
    let initial = *fault.borrow_and_update();
    match initial {
        Fault::Reset => {
            reset(client);
            return Ok(());
        }
        Fault::Blackhole => return hang(client, fault).await,
        Fault::Pass | Fault::Delay(_) => {}
    }
    let server = TcpStream::connect(upstream).await?;
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Each direction pumps until EOF or a fault ends the connection. A blackhole marks the
    // connection dead for good; a reset tears both sockets down with RST.
    let finished = Arc::new(Finished::default());
    let up = tokio::spawn(pump(cr, sw, fault.clone(), finished.clone()));
    let down = tokio::spawn(pump(sr, cw, fault.clone(), finished));
    let (up, down) = (up.await, down.await);
    let halves = [up, down];
    let mut client_parts = (None, None);
    let mut server_parts = (None, None);
    for (i, h) in halves.into_iter().enumerate() {
        if let Ok(Ended::Reset(r, w)) = h {
            if i == 0 {
                client_parts.0 = Some(r);
                server_parts.1 = Some(w);
            } else {
                server_parts.0 = Some(r);
                client_parts.1 = Some(w);
            }
        }
    }
    if let (Some(r), Some(w)) = client_parts {
        if let Ok(s) = r.reunite(w) {
            reset(s);
        }
    }
    if let (Some(r), Some(w)) = server_parts {
        if let Ok(s) = r.reunite(w) {
            reset(s);
        }
    }
    Ok(())
}

/// A connection accepted during a blackhole: read and drop everything until the client gives up
/// or a reset is ordered. It never reaches the server.
async fn hang(mut client: TcpStream, mut fault: watch::Receiver<Fault>) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            r = client.read(&mut buf) => if r? == 0 { return Ok(()) },
            changed = fault.changed() => {
                if changed.is_err() || *fault.borrow() == Fault::Reset {
                    reset(client);
                    return Ok(());
                }
            }
        }
    }
}

/// A held connection: keeps what the client sends (and its close) until a release, then
/// delivers it to the server. A client that closed meanwhile gets nothing of the answer; one
/// still there continues as a normal connection under the current fault.
async fn held(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut release: watch::Receiver<u64>,
    fault: watch::Receiver<Fault>,
) -> io::Result<()> {
    release.borrow_and_update();
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut client_closed = false;
    loop {
        tokio::select! {
            r = client.read(&mut buf), if !client_closed => match r {
                Ok(0) | Err(_) => client_closed = true,
                Ok(n) => kept.extend_from_slice(&buf[..n]),
            },
            changed = release.changed() => {
                // The proxy is gone: the held bytes never arrive.
                changed.map_err(|_| io::Error::other("proxy dropped"))?;
                break;
            }
        }
    }
    let mut server = TcpStream::connect(upstream).await?;
    let _ = server.set_nodelay(true);
    server.write_all(&kept).await?;
    if !client_closed {
        // Delivered: from now on it is an ordinary connection (the release waits no longer).
        tokio::spawn(async move {
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let finished = Arc::new(Finished::default());
            tokio::spawn(pump(cr, sw, fault.clone(), finished.clone()));
            pump(sr, cw, fault, finished).await;
        });
        return Ok(());
    }
    // The client is long gone: pass its close on and drop whatever the server answers until the
    // server closes too, which it does once it has handled the request.
    server.shutdown().await?;
    while server.read(&mut buf).await? != 0 {}
    Ok(())
}

enum Ended {
    /// EOF or an I/O error: the halves are dropped normally.
    Closed,
    /// A reset was ordered: the caller reunites the halves and sends RST.
    Reset(OwnedReadHalf, OwnedWriteHalf),
}

/// Counts the directions of one connection whose reading side has ended.
#[derive(Default)]
struct Finished {
    count: AtomicUsize,
    both: Notify,
}

impl Finished {
    /// Marks one direction finished; true if it was the second.
    fn finish(&self) -> bool {
        let both = self.count.fetch_add(1, Ordering::SeqCst) + 1 >= 2;
        if both {
            self.both.notify_waiters();
        }
        both
    }
}

/// A dead (blackholed) direction whose source closed. Out of coverage a close is not seen
/// either, so the close is not passed on: the write half is held (dropping it would send FIN)
/// until the other direction has ended too, or a reset is ordered.
async fn hold(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    finished: Arc<Finished>,
) -> Ended {
    // Registered before counting, so the other direction's notify cannot be missed.
    let both = finished.both.notified();
    tokio::pin!(both);
    if finished.finish() {
        return Ended::Closed;
    }
    loop {
        tokio::select! {
            _ = &mut both => return Ended::Closed,
            changed = fault.changed() => match changed {
                Err(_) => return Ended::Reset(from, to),
                Ok(()) if *fault.borrow() == Fault::Reset => return Ended::Reset(from, to),
                Ok(()) => {}
            },
        }
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    finished: Arc<Finished>,
) -> Ended {
    let mut buf = vec![0u8; 16 * 1024];
    let mut dead = false;
    // Delayed chunks go through a queue so order is kept while each waits out its latency.
    let (delay_tx, mut delay_rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let mut pending: Option<(Instant, Vec<u8>)> = None;
    loop {
        if pending.is_none() {
            pending = delay_rx.try_recv().ok();
        }
        let due = pending.as_ref().map(|(t, _)| *t);
        tokio::select! {
            r = from.read(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) if dead || *fault.borrow() == Fault::Blackhole => {
                        return hold(from, to, fault, finished).await;
                    }
                    Ok(0) | Err(_) => {
                        let _ = to.shutdown().await;
                        finished.finish();
                        return Ended::Closed;
                    }
                    Ok(n) => n,
                };
                let current = *fault.borrow();
                if current == Fault::Blackhole {
                    dead = true;
                }
                if dead {
                    continue;
                }
                match current {
                    Fault::Delay(d) => { let _ = delay_tx.send((Instant::now() + d, buf[..n].to_vec())); }
                    _ if pending.is_some() => { let _ = delay_tx.send((Instant::now(), buf[..n].to_vec())); }
                    _ => if to.write_all(&buf[..n]).await.is_err() { finished.finish(); return Ended::Closed },
                }
            }
            _ = async { tokio::time::sleep_until(due.unwrap_or_else(Instant::now)).await }, if due.is_some() => {
                if let Some((_, bytes)) = pending.take() {
                    if !dead && to.write_all(&bytes).await.is_err() {
                        finished.finish();
                        return Ended::Closed;
                    }
                }
            }
            changed = fault.changed() => {
                match changed {
                    Err(_) => return Ended::Reset(from, to),
                    Ok(()) => match *fault.borrow() {
                        Fault::Reset => return Ended::Reset(from, to),
                        Fault::Blackhole => dead = true,
                        Fault::Pass | Fault::Delay(_) => {}
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(msg).await?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).await?;
        Ok(got)
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn pass_forwards_both_ways() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut c, b"hello").await.unwrap(), b"hello");
    }

    #[tokio::test]
    async fn blackhole_drops_silently_and_the_connection_stays_dead() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut c, b"a").await.unwrap(), b"a");
        proxy.set(Fault::Blackhole);
        c.write_all(b"lost").await.unwrap();
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await;
        assert!(r.is_err(), "a blackholed link must be silent, got {r:?}");
        proxy.set(Fault::Pass);
        c.write_all(b"still lost").await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await;
        assert!(r.is_err(), "a once-blackholed connection stays dead");
        // A new connection works again.
        let mut c2 = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(
            tokio::time::timeout(WAIT, round_trip(&mut c2, b"new"))
                .await
                .unwrap()
                .unwrap(),
            b"new"
        );
    }

    #[tokio::test]
    async fn a_close_behind_a_blackhole_is_not_passed_on() {
        // The upstream accepts, answers once, then closes (as a server does at its heartbeat
        // timeout). Behind a blackhole the client must not see that close: out of coverage,
        // no FIN arrives either.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = l.local_addr().unwrap();
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 1];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            let _ = close_rx.await;
            drop(s);
        });
        let proxy = FaultProxy::start(upstream).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut c, b"a").await.unwrap(), b"a");
        proxy.set(Fault::Blackhole);
        tokio::time::sleep(Duration::from_millis(50)).await;
        close_tx.send(()).unwrap();
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await;
        assert!(
            r.is_err(),
            "the upstream's close leaked through the blackhole: {r:?}"
        );
        assert_eq!(proxy.open_connections(), 1);
        // Once the client gives up too, the proxy lets the connection go.
        drop(c);
        let deadline = Instant::now() + WAIT;
        while proxy.open_connections() != 0 {
            assert!(Instant::now() < deadline, "connection never released");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn reset_kills_open_connections_and_new_ones() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut c, b"a").await.unwrap(), b"a");
        proxy.set(Fault::Reset);
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(WAIT, c.read(&mut buf))
            .await
            .expect("reset must be noticed at once");
        assert!(matches!(r, Ok(0) | Err(_)), "got {r:?}");
        let mut c2 = TcpStream::connect(proxy.local_addr()).await.unwrap();
        let r = tokio::time::timeout(WAIT, round_trip(&mut c2, b"x"))
            .await
            .expect("no hang");
        assert!(r.is_err(), "new connections are reset too");
        proxy.set(Fault::Pass);
        let mut c3 = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(
            tokio::time::timeout(WAIT, round_trip(&mut c3, b"back"))
                .await
                .unwrap()
                .unwrap(),
            b"back"
        );
    }

    #[tokio::test]
    async fn delay_keeps_order_and_adds_latency() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        proxy.set(Fault::Delay(Duration::from_millis(50)));
        let start = Instant::now();
        c.write_all(b"one").await.unwrap();
        c.write_all(b"two").await.unwrap();
        let mut got = vec![0u8; 6];
        tokio::time::timeout(WAIT, c.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, b"onetwo");
        // Both directions are delayed: at least two latencies for the round trip.
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_held_connection_reaches_the_server_only_when_released_after_the_client_left() {
        // The upstream records what each connection sent, then closes it once the client has.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = l.local_addr().unwrap();
        let (got_tx, mut got_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let got_tx = got_tx.clone();
                tokio::spawn(async move {
                    let mut all = Vec::new();
                    let _ = s.read_to_end(&mut all).await;
                    let _ = got_tx.send(all);
                });
            }
        });
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.hold_next();
        let mut first = TcpStream::connect(proxy.local_addr()).await.unwrap();
        first.write_all(b"old attempt").await.unwrap();
        // The next connection is not held: it reaches the server while the first waits.
        let mut second = TcpStream::connect(proxy.local_addr()).await.unwrap();
        second.write_all(b"new attempt").await.unwrap();
        drop(second);
        let got = tokio::time::timeout(WAIT, got_rx.recv()).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"new attempt"[..]));
        // The client gives up on the held one; its bytes still arrive, once released.
        drop(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            got_rx.try_recv().is_err(),
            "held bytes leaked before release"
        );
        tokio::time::timeout(WAIT, proxy.release_held())
            .await
            .expect("release finishes once the server closed");
        assert_eq!(got_rx.try_recv().ok().as_deref(), Some(&b"old attempt"[..]));
        assert_eq!(proxy.open_connections(), 0);
    }

    #[tokio::test]
    async fn connections_during_blackhole_hang_until_reset() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.set(Fault::Blackhole);
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        assert!(
            tokio::time::timeout(Duration::from_millis(150), c.read(&mut buf))
                .await
                .is_err()
        );
        proxy.set(Fault::Reset);
        let r = tokio::time::timeout(WAIT, c.read(&mut buf))
            .await
            .expect("reset ends the hang");
        assert!(matches!(r, Ok(0) | Err(_)));
    }
}
