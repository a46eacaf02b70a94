//! The server's edge: the accept loop, the connection caps and the deadline on the HTTP request.
//!
//! Everything a client can do before it has a session costs the server a socket, so this is
//! where an attacker without a token is stopped: a connection over a cap is refused at accept
//! (before a byte of it is read) with a best-effort `503`, and a connection whose HTTP request is
//! not complete within `request_timeout` of the accept is dropped — however slowly its bytes
//! trickle in, since the deadline is fixed at accept and never pushed back. Connections are
//! served with hyper's HTTP/1 machinery driven here rather than by `axum::serve`, because axum's
//! loop has neither a deadline nor caps; one request per connection (no keep-alive), so the
//! deadline bounds every connection's whole HTTP phase.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::ResolvedLimits;
use crate::drain::Lifecycle;
use crate::ratelog::{LOG_INTERVAL, RateLog, warn_limited};

/// How long the accept loop backs off after an accept error that is not about one connection
/// (out of descriptors): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a refused connection is told, written without waiting (a full socket buffer just means
/// the client sees the close alone).
const REFUSED_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 32\r\nRetry-After: 1\r\n\r\n{\"error\":\"too many connections\"}";

/// What the edge has counted since start (see [`crate::ServerHandle::edge_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EdgeStats {
    /// TCP connections held now, in any phase.
    pub connections: usize,
    /// Connections whose HTTP request is not complete yet.
    pub pending: usize,
    /// Refused at accept: `max_connections` reached.
    pub refused_connections: u64,
    /// Refused at accept: `max_pending` reached.
    pub refused_pending: u64,
    /// Refused at accept: the source address held `max_per_ip` connections.
    pub refused_per_ip: u64,
    /// Dropped because the HTTP request was not complete within `request_timeout`.
    pub request_timeouts: u64,
    /// WebSocket connections closed for holding no session `login_timeout` after the upgrade.
    pub sessionless_closed: u64,
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Connections,
    Pending,
    PerIp,
}

/// The address a per-source cap counts under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64, since one host commonly holds a whole /64 and could otherwise take a slot per address.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

#[derive(Debug, Default)]
struct Held {
    connections: usize,
    pending: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// The caps and counters, shared by the accept loop, every connection's slots and `ws.rs`.
#[derive(Debug)]
pub(crate) struct Edge {
    limits: ResolvedLimits,
    held: Mutex<Held>,
    refused_connections: RateLog,
    refused_pending: RateLog,
    refused_per_ip: RateLog,
    request_timeouts: RateLog,
    sessionless: RateLog,
    accept_errors: RateLog,
    /// Woken when the last connection is dropped (a drain waits for it).
    emptied: tokio::sync::Notify,
}

/// A connection's place under `max_connections` and `max_per_ip`; freed when the socket is
/// dropped, which for an upgraded connection is when its WebSocket ends.
#[derive(Debug)]
pub(crate) struct ConnSlot {
    edge: Arc<Edge>,
    /// `None` when the source is not counted (loopback under a derived per-IP cap).
    source: Option<IpAddr>,
}

/// A connection's place under `max_pending`; freed when its HTTP phase ends.
#[derive(Debug)]
struct PendingSlot(Arc<Edge>);

impl Edge {
    pub(crate) fn new(limits: ResolvedLimits) -> Self {
        Edge {
            limits,
            held: Mutex::default(),
            refused_connections: RateLog::new(LOG_INTERVAL),
            refused_pending: RateLog::new(LOG_INTERVAL),
            refused_per_ip: RateLog::new(LOG_INTERVAL),
            request_timeouts: RateLog::new(LOG_INTERVAL),
            sessionless: RateLog::new(LOG_INTERVAL),
            accept_errors: RateLog::new(LOG_INTERVAL),
            emptied: tokio::sync::Notify::new(),
        }
    }

    /// Resolves once no connection is held (in any phase). Registers for the wake-up before
    /// reading the count, so a last connection dropped in between is not missed.
    pub(crate) async fn until_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.lock().connections == 0 {
                return;
            }
            emptied.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // Nothing panics while holding it; the counts stay consistent either way.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot under every cap for a connection from `ip`, or names the cap it is over.
    /// All three are checked and taken under one lock, so a burst cannot overshoot a cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<(ConnSlot, PendingSlot), Refusal> {
        let source = source_key(ip);
        let mut held = self.lock();
        if held.connections >= self.limits.max_connections {
            return Err(Refusal::Connections);
        }
        if held.pending >= self.limits.max_pending {
            return Err(Refusal::Pending);
        }
        let counted = self.limits.per_ip_on_loopback || !source.is_loopback();
        if counted {
            let from_source = held.per_ip.get(&source).copied().unwrap_or(0);
            if from_source >= self.limits.max_per_ip {
                return Err(Refusal::PerIp);
            }
            held.per_ip.insert(source, from_source + 1);
        }
        held.connections += 1;
        held.pending += 1;
        drop(held);
        Ok((
            ConnSlot {
                edge: self.clone(),
                source: counted.then_some(source),
            },
            PendingSlot(self.clone()),
        ))
    }

    /// Counts a refusal and reports it at most once per [`LOG_INTERVAL`] per cap.
    fn refused(&self, why: Refusal, peer: SocketAddr) {
        let l = &self.limits;
        match why {
            Refusal::Connections => warn_limited!(
                self.refused_connections,
                "connection from {peer} refused: max_connections ({}) reached",
                l.max_connections
            ),
            Refusal::Pending => warn_limited!(
                self.refused_pending,
                "connection from {peer} refused: max_pending ({}) requests in progress",
                l.max_pending
            ),
            Refusal::PerIp => warn_limited!(
                self.refused_per_ip,
                "connection from {peer} refused: its address holds max_per_ip ({}) connections",
                l.max_per_ip
            ),
        }
    }

    /// A WebSocket connection was closed for holding no session (`ws.rs`).
    pub(crate) fn sessionless_closed(&self, after: Duration) {
        warn_limited!(
            self.sessionless,
            "closed a connection that held no session {after:?} after its upgrade"
        );
    }

    pub(crate) fn stats(&self) -> EdgeStats {
        let held = self.lock();
        EdgeStats {
            connections: held.connections,
            pending: held.pending,
            refused_connections: self.refused_connections.total(),
            refused_pending: self.refused_pending.total(),
            refused_per_ip: self.refused_per_ip.total(),
            request_timeouts: self.request_timeouts.total(),
            sessionless_closed: self.sessionless.total(),
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut held = self.edge.lock();
        held.connections -= 1;
        if held.connections == 0 {
            self.edge.emptied.notify_waiters();
        }
        if let Some(source) = self.source {
            if let Some(n) = held.per_ip.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    held.per_ip.remove(&source);
                }
            }
        }
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.0.lock().pending -= 1;
    }
}

/// The socket plus its [`ConnSlot`], so the slot lives exactly as long as the socket: through
/// the upgrade, hyper hands this same value to the WebSocket.
struct Tracked {
    stream: TcpStream,
    _slot: ConnSlot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Errors of one connection (it was reset before `accept` took it): just take the next one.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Accepts while the server is serving (a drain or a shutdown ends it and drops the listener,
/// closing the port), serving each admitted connection on a task of its own.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    edge: Arc<Edge>,
    request_timeout: Duration,
    mut shutdown: watch::Receiver<Lifecycle>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s != Lifecycle::Serving) => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                warn_limited!(edge.accept_errors, "accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match edge.admit(peer.ip()) {
            Err(why) => {
                edge.refused(why, peer);
                // Best effort and never waits: the accept loop must not be held by a client.
                let _ = stream.try_write(REFUSED_RESPONSE);
            }
            Ok((slot, pending)) => {
                // Frames are small and latency-bound: Nagle would hold one back until the
                // previous one is acknowledged (e.g. `joined` right behind the upgrade response).
                if let Err(e) = stream.set_nodelay(true) {
                    log::debug!("TCP_NODELAY: {e}");
                }
                let io = Tracked {
                    stream,
                    _slot: slot,
                };
                tokio::spawn(serve_connection(
                    io,
                    pending,
                    router.clone(),
                    request_timeout,
                    shutdown.clone(),
                ));
            }
        }
    }
}

/// One connection's HTTP phase: a single request, which must be complete (upgraded, or answered
/// and written) within `request_timeout` of the accept.
async fn serve_connection(
    io: Tracked,
    pending: PendingSlot,
    router: Router,
    request_timeout: Duration,
    mut shutdown: watch::Receiver<Lifecycle>,
) {
    let edge = pending.0.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut router = router.clone();
        let answer = tower_service::Service::call(&mut router, req.map(axum::body::Body::new));
        async move {
            let mut response = answer.await?;
            // One request per connection: a kept-alive connection would idle outside any
            // deadline. Not hyper's `keep_alive(false)`, which would also turn the upgrade's
            // `Connection: upgrade` into `close`; hyper closes after a response saying `close`.
            if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .with_upgrades();
    tokio::select! {
        biased;
        // A drain lets a request under way finish (an upgrade gets the drain's goodbye).
        _ = shutdown.wait_for(|s| *s == Lifecycle::Stopped) => {}
        r = conn => {
            if let Err(e) = r {
                log::debug!("http connection: {e}");
            }
        }
        _ = tokio::time::sleep(request_timeout) => warn_limited!(
            edge.request_timeouts,
            "closed a connection whose HTTP request was not complete within {request_timeout:?}"
        ),
    }
    drop(pending);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(max_connections: usize, max_pending: usize, max_per_ip: usize) -> Arc<Edge> {
        Arc::new(Edge::new(ResolvedLimits {
            max_connections,
            max_pending,
            max_per_ip,
            per_ip_on_loopback: false,
        }))
    }

    #[test]
    fn a_derived_per_ip_cap_spares_loopback_peers() {
        let e = edge(10, 10, 1);
        let lo = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let _held: Vec<_> = (0..5).map(|_| e.admit(lo).unwrap()).collect();
        let _a = e.admit(A).unwrap();
        assert_eq!(e.admit(A).unwrap_err(), Refusal::PerIp);
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn each_cap_admits_its_limit_refuses_one_more_and_frees_on_drop() {
        let e = edge(3, 3, 2);
        let a1 = e.admit(A).unwrap();
        let _a2 = e.admit(A).unwrap();
        assert_eq!(e.admit(A).unwrap_err(), Refusal::PerIp);
        let b1 = e.admit(B).unwrap();
        // Three held: the overall cap and the pending cap are both full.
        assert_eq!(e.admit(B).unwrap_err(), Refusal::Connections);
        // Dropping the pending slot alone (the request completed) frees no connection slot.
        drop(b1.1);
        assert_eq!(e.admit(B).unwrap_err(), Refusal::Connections);
        drop(b1.0);
        let _b2 = e.admit(B).unwrap();
        drop(a1);
        let _a3 = e.admit(A).unwrap();
        assert_eq!(e.stats().connections, 3);
    }

    #[test]
    fn pending_cap_counts_only_connections_in_their_http_phase() {
        let e = edge(10, 2, 10);
        let (upgraded, done) = e.admit(A).unwrap();
        drop(done);
        let _p1 = e.admit(A).unwrap();
        let _p2 = e.admit(A).unwrap();
        assert_eq!(e.admit(B).unwrap_err(), Refusal::Pending);
        let s = e.stats();
        assert_eq!((s.connections, s.pending), (3, 2));
        drop(upgraded);
        assert_eq!(e.stats().connections, 2);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(source_key(mapped), A);
    }
}
