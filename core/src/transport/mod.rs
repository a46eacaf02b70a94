//! Links to the server: the [`Transport`] trait the engine drives, the WebSocket transport apps
//! use, and an in-memory transport for tests.
//!
//! A transport only moves text frames; it knows nothing of rooms. The engine decodes and encodes
//! frames and tells the state machine what happened.

use std::future::Future;
use std::pin::Pin;

use futures_util::{Sink, Stream};

pub use crate::machine::LinkError;
use crate::protocol::Hello;

mod dial;
mod memory;
mod proxy;
pub mod tls;
mod websocket;

pub use dial::CONNECTION_ATTEMPT_DELAY;
pub use memory::{MemoryAcceptor, MemoryTransport, PendingConnection, ServerEnd};
pub use proxy::HttpProxy;
pub use websocket::WebSocketTransport;

/// A boxed, sendable future (keeps [`Transport`] object-safe).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The sending half of a connection: text frames out. An error means the link is gone.
pub type FrameSink = Pin<Box<dyn Sink<String, Error = LinkError> + Send>>;

/// The receiving half of a connection: text frames in. `None` means the peer closed the link;
/// an `Err` means it broke (after which the stream should be dropped).
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<String, LinkError>> + Send>>;

/// One open link to the server. Dropping both halves closes it; closing the sink first lets the
/// transport say goodbye politely (a WebSocket close frame).
pub struct Connection {
    pub sink: FrameSink,
    pub stream: FrameStream,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection")
    }
}

/// Opens links to a server. Implement it to bring your own network stack.
pub trait Transport: Send + Sync + 'static {
    /// Connects to `url`, carrying `hello` in the handshake (never in the URL, so tokens do not end
    /// up in proxy logs). Frames larger than `max_frame_bytes` are refused in both directions with
    /// [`LinkError::Protocol`].
    ///
    /// The future runs on the engine's runtime; it is dropped (cancelled) if the engine gives up
    /// on the attempt.
    fn connect(
        &self,
        url: &str,
        hello: &Hello,
        max_frame_bytes: usize,
    ) -> BoxFuture<Result<Connection, LinkError>>;
}
