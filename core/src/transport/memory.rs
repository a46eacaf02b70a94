//! An in-process transport: the test (or app) on the other side sees every connection attempt and
//! decides what happens to it — accept, refuse, hang, drop.
//!
//! The server side is synchronous (std channels with timeouts) so plain `#[test]`s can script a
//! server without a runtime; the client side is async, as the engine needs.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::{BoxFuture, Connection, LinkError, Transport};
use crate::protocol::{ClientFrame, Hello, ServerFrame};

/// The client side: give it to the engine (`Engine::with_transport`). Cheap to clone.
#[derive(Clone)]
pub struct MemoryTransport {
    attempts: std_mpsc::Sender<PendingConnection>,
}

/// The server side: receives every connection attempt made through the paired [`MemoryTransport`].
/// Dropping it makes further attempts fail with [`LinkError::Transient`] ("refused").
pub struct MemoryAcceptor {
    attempts: std_mpsc::Receiver<PendingConnection>,
}

/// A connection attempt waiting for the server's answer. Holding it without answering is a
/// blackhole: the client's connect never completes. Dropping it refuses the attempt (Transient).
pub struct PendingConnection {
    url: String,
    hello: Hello,
    max_frame_bytes: usize,
    reply: oneshot::Sender<Result<Connection, LinkError>>,
}

/// The server's end of an accepted connection. Dropping it (or [`ServerEnd::close`]) drops the link:
/// the client sees its stream end (Transient). Not reading from it is a blackhole.
pub struct ServerEnd {
    hello: Hello,
    to_client: mpsc::UnboundedSender<Result<String, LinkError>>,
    from_client: std_mpsc::Receiver<String>,
}

impl MemoryTransport {
    pub fn new() -> (MemoryTransport, MemoryAcceptor) {
        let (tx, rx) = std_mpsc::channel();
        (
            MemoryTransport { attempts: tx },
            MemoryAcceptor { attempts: rx },
        )
    }
}

impl Transport for MemoryTransport {
    fn connect(
        &self,
        url: &str,
        hello: &Hello,
        max_frame_bytes: usize,
    ) -> BoxFuture<Result<Connection, LinkError>> {
        let (reply, answer) = oneshot::channel();
        let pending = PendingConnection {
            url: url.to_owned(),
            hello: hello.clone(),
            max_frame_bytes,
            reply,
        };
        let sent = self.attempts.send(pending).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(LinkError::Transient(
                    "connection refused (no acceptor)".into(),
                ));
            }
            match answer.await {
                Ok(result) => result,
                Err(_) => Err(LinkError::Transient("connection refused".into())),
            }
        })
    }
}

impl MemoryAcceptor {
    /// The next connection attempt, waiting up to `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Option<PendingConnection> {
        self.attempts.recv_timeout(timeout).ok()
    }

    /// The next connection attempt if one is already waiting.
    pub fn try_accept(&self) -> Option<PendingConnection> {
        self.attempts.try_recv().ok()
    }
}

impl PendingConnection {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Completes the client's connect and returns the server's end of the link.
    pub fn accept(self) -> ServerEnd {
        let (to_client, client_rx) = mpsc::unbounded_channel::<Result<String, LinkError>>();
        let (client_tx, from_client) = std_mpsc::channel::<String>();
        let max = self.max_frame_bytes;
        let sink = futures_util::sink::unfold(client_tx, move |tx, text: String| async move {
            if text.len() > max {
                return Err(LinkError::Protocol(format!(
                    "outgoing frame of {} bytes exceeds {max}",
                    text.len()
                )));
            }
            tx.send(text)
                .map_err(|_| LinkError::Transient("connection closed by peer".into()))?;
            Ok(tx)
        });
        let stream = futures_util::stream::unfold(client_rx, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item, rx))
        })
        .map(move |item| match item {
            Ok(text) if text.len() > max => Err(LinkError::Protocol(format!(
                "incoming frame of {} bytes exceeds {max}",
                text.len()
            ))),
            other => other,
        });
        let connection = Connection {
            sink: Box::pin(sink),
            stream: Box::pin(stream),
        };
        // If the client already gave up, the returned end simply finds the link closed.
        let _ = self.reply.send(Ok(connection));
        ServerEnd {
            hello: self.hello,
            to_client,
            from_client,
        }
    }

    /// Fails the client's connect with `error`.
    pub fn refuse(self, error: LinkError) {
        let _ = self.reply.send(Err(error));
    }
}

impl ServerEnd {
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends a raw text frame (may be malformed on purpose). False if the client is gone.
    pub fn send_text(&self, text: impl Into<String>) -> bool {
        self.to_client.send(Ok(text.into())).is_ok()
    }

    /// Sends a frame. False if the client is gone.
    pub fn send(&self, frame: &ServerFrame) -> bool {
        self.send_text(frame.encode())
    }

    /// Breaks the link with a specific error, as a broken network would.
    pub fn fail(self, error: LinkError) {
        let _ = self.to_client.send(Err(error));
    }

    /// Drops the link (the client sees the peer close it).
    pub fn close(self) {}

    /// True once the client has dropped its end.
    pub fn is_closed(&self) -> bool {
        self.to_client.is_closed()
    }

    /// The next raw text frame from the client, waiting up to `timeout`. `None` on timeout or when
    /// the client closed the link.
    pub fn recv_text(&self, timeout: Duration) -> Option<String> {
        self.from_client.recv_timeout(timeout).ok()
    }

    /// The next frame from the client, decoded; undecodable frames come back as `Unknown`.
    pub fn recv(&self, timeout: Duration) -> Option<ClientFrame> {
        self.recv_text(timeout)
            .map(|t| ClientFrame::decode(&t, usize::MAX).unwrap_or(ClientFrame::Unknown))
    }

    /// Waits up to `timeout` for the next client frame that matches `pred`, skipping others.
    pub fn recv_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&ClientFrame) -> bool,
    ) -> Option<ClientFrame> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let frame = self.recv(left)?;
            if pred(&frame) {
                return Some(frame);
            }
        }
    }

    /// Waits up to `timeout` for the client to close the link (frames it sends meanwhile are
    /// discarded). True if it did.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match self.from_client.recv_timeout(left) {
                Ok(_) => continue,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return true,
                Err(std_mpsc::RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}
