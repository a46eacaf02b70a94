//! The WebSocket transport (tokio-tungstenite; rustls with the `ring` provider, verifying with the
//! platform's verifier or pinned CAs, module `tls`).
//! TCP is dialled here (Happy Eyeballs, module `dial`), through an HTTP proxy's `CONNECT` tunnel
//! when one is set (module `proxy`); tungstenite does TLS and the upgrade over that stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, StreamExt};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::dial::connect_tcp;
use super::proxy::{HttpProxy, connect_tunnel};
use super::tls::{Trust, pinned_config};
use super::{BoxFuture, Connection, LinkError, Transport};
use crate::codes::ErrorCode;
use crate::protocol::{HELLO_HEADER, Hello, PROTOCOL_VERSION, VERSION_HEADER};

/// Capacity of the WebSocket read buffer. tungstenite's default (128 KiB) is allocated and
/// zero-filled for every new connection (a login pays for it, and an engine keeps it); most
/// frames are far smaller, and a larger one still gets room reserved for its full length.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Connects with `ws://` or `wss://`, directly or through an HTTP proxy. The TLS configuration
/// is built once and shared by every connection.
#[derive(Clone)]
pub struct WebSocketTransport {
    tls: Trust,
    proxy: Option<Arc<HttpProxy>>,
}

impl WebSocketTransport {
    /// Verifies `wss://` servers with the platform's verifier (the OS trust store; see
    /// [`tls`](super::tls)); uses rustls' `ring` provider. The store is read on the first
    /// `wss://` connection, so this cannot fail (the `Result` stays for compatibility).
    pub fn new() -> Result<Self, ErrorCode> {
        Ok(WebSocketTransport {
            tls: Trust::platform(),
            proxy: None,
        })
    }

    /// Trusts exactly the CAs in the PEM bundle `pem` (the platform's store is not consulted):
    /// for a server whose certificate comes from the app's own CA. `INVALID_ARGUMENT` when the
    /// bundle holds no certificate or one does not parse.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, ErrorCode> {
        let config = pinned_config(pem).map_err(|e| {
            log::error!("tls_ca_pem refused: {e}");
            ErrorCode::INVALID_ARGUMENT
        })?;
        Ok(Self::with_tls_config(config))
    }

    /// Uses the given rustls configuration for `wss://` (a private CA, client certificates, ...).
    pub fn with_tls_config(tls: Arc<rustls::ClientConfig>) -> Self {
        WebSocketTransport {
            tls: Trust::Config(tls),
            proxy: None,
        }
    }

    /// Tunnels every connection through `proxy` (HTTP `CONNECT`), or connects directly (`None`).
    pub fn with_proxy(mut self, proxy: Option<HttpProxy>) -> Self {
        self.proxy = proxy.map(Arc::new);
        self
    }
}

/// TCP to the server, or to the proxy and through its tunnel to the server.
async fn dial(
    proxy: Option<&HttpProxy>,
    host: &str,
    port: u16,
) -> Result<tokio::net::TcpStream, LinkError> {
    let unreachable = |what: &str, e: std::io::Error| LinkError::Transient(format!("{what}: {e}"));
    match proxy {
        None => connect_tcp(host, port)
            .await
            .map_err(|e| unreachable("connect", e)),
        Some(proxy) => {
            // A proxy that is down is an outage like any other: retried.
            let mut tcp = connect_tcp(proxy.host(), proxy.port())
                .await
                .map_err(|e| unreachable("connect to the proxy", e))?;
            connect_tunnel(&mut tcp, proxy, host, port).await?;
            Ok(tcp)
        }
    }
}

fn fatal(detail: impl Into<String>) -> LinkError {
    LinkError::Fatal {
        code: ErrorCode::CONNECT_FAILED,
        detail: detail.into(),
    }
}

/// Errors while connecting: anything that retrying cannot fix is fatal.
fn connect_error(e: WsError) -> LinkError {
    match e {
        WsError::Io(io) => {
            // tokio-rustls reports handshake failures (bad certificate...) as io errors wrapping
            // a rustls error; those will not get better by retrying.
            let is_tls = io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
            if is_tls {
                fatal(format!("TLS: {io}"))
            } else {
                LinkError::Transient(io.to_string())
            }
        }
        WsError::Protocol(ProtocolError::HandshakeIncomplete)
        | WsError::ConnectionClosed
        | WsError::AlreadyClosed => LinkError::Transient(e.to_string()),
        WsError::Http(resp) => http_refusal(resp.status().as_u16()),
        other => fatal(other.to_string()),
    }
}

/// An upgrade answered with a status other than 101. Overloaded or restarting servers and load
/// balancers (5xx, 408, 429) and captive portals (2xx/3xx instead of an upgrade) get better by
/// themselves, so they are retried; any other 4xx means this is not a roomlink endpoint or the
/// request itself is wrong, and retrying cannot help.
pub(crate) fn http_refusal(status: u16) -> LinkError {
    let detail = format!("upgrade refused with HTTP {status}");
    match status {
        408 | 429 | 500..=599 | 200..=399 => LinkError::Transient(detail),
        _ => fatal(detail),
    }
}

/// Errors on an open link: size and framing violations are the peer's fault; the rest is network.
fn link_error(e: WsError) -> LinkError {
    match e {
        WsError::Capacity(_) | WsError::Protocol(_) | WsError::Utf8(_) | WsError::AttackAttempt => {
            LinkError::Protocol(e.to_string())
        }
        other => LinkError::Transient(other.to_string()),
    }
}

/// Maps every sink error with [`link_error`]. (`SinkExt::sink_map_err` takes an `FnOnce` and
/// panics on a second error, e.g. a failed send followed by a failed close.)
struct MapLinkErr<S>(S);

impl<S: Sink<Message, Error = WsError> + Unpin> Sink<Message> for MapLinkErr<S> {
    type Error = LinkError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Pin::new(&mut self.0).poll_ready(cx).map_err(link_error)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), LinkError> {
        Pin::new(&mut self.0).start_send(item).map_err(link_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Pin::new(&mut self.0).poll_flush(cx).map_err(link_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Pin::new(&mut self.0).poll_close(cx).map_err(link_error)
    }
}

impl Transport for WebSocketTransport {
    fn connect(
        &self,
        url: &str,
        hello: &Hello,
        max_frame_bytes: usize,
    ) -> BoxFuture<Result<Connection, LinkError>> {
        let url = url.to_owned();
        let hello = hello.to_header();
        let scheme_ok = url.starts_with("ws://") || url.starts_with("wss://");
        let tls = url.starts_with("wss://");
        let proxy = self.proxy.clone();
        let trust = tls.then(|| self.tls.clone());
        Box::pin(async move {
            // tungstenite would also take http(s):// URLs; the engine config only allows ws(s).
            if !scheme_ok {
                return Err(fatal(format!("server URL must be ws:// or wss://: {url}")));
            }
            let connector = match trust {
                // No trust store to verify with is a setup problem retrying cannot fix.
                Some(trust) => Connector::Rustls(trust.config().map_err(fatal)?),
                None => Connector::Plain,
            };
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(|e| fatal(format!("bad server URL: {e}")))?;
            let headers = request.headers_mut();
            headers.insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
            let hello =
                HeaderValue::from_str(&hello).map_err(|e| fatal(format!("hello header: {e}")))?;
            headers.insert(HELLO_HEADER, hello);
            let config = WebSocketConfig::default()
                .max_message_size(Some(max_frame_bytes))
                .max_frame_size(Some(max_frame_bytes))
                .read_buffer_size(READ_BUFFER_BYTES);
            let uri = request.uri();
            let host = uri
                .host()
                .ok_or_else(|| fatal("the server URL has no host"))?;
            // rustls and the resolver want IPv6 literals without their brackets.
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host)
                .to_owned();
            let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let tcp = dial(proxy.as_deref(), &host, port).await?;
            let (ws, _response) = tokio_tungstenite::client_async_tls_with_config(
                request,
                tcp,
                Some(config),
                Some(connector),
            )
            .await
            .map_err(connect_error)?;
            log::debug!("websocket connected to {url}");
            let (sink, stream) = ws.split();
            let sink = MapLinkErr(sink).with(move |text: String| async move {
                if text.len() > max_frame_bytes {
                    return Err(LinkError::Protocol(format!(
                        "outgoing frame of {} bytes exceeds {max_frame_bytes}",
                        text.len()
                    )));
                }
                Ok(Message::text(text))
            });
            // Pings are answered by tungstenite itself; pongs and raw frames carry nothing for us.
            let stream = stream.filter_map(|item| async move {
                match item {
                    Ok(Message::Text(text)) => Some(Ok(text.as_str().to_owned())),
                    Ok(Message::Binary(_)) => Some(Err(LinkError::Protocol("binary frame".into()))),
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => None,
                    Ok(Message::Close(frame)) => Some(Err(LinkError::Transient(format!(
                        "closed by peer: {frame:?}"
                    )))),
                    Err(e) => Some(Err(link_error(e))),
                }
            });
            Ok(Connection {
                sink: Box::pin(sink),
                stream: Box::pin(stream),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_statuses_that_can_heal_are_retried_the_rest_are_fatal() {
        for status in [502, 503, 504, 500, 429, 408, 200, 302] {
            assert!(
                matches!(http_refusal(status), LinkError::Transient(_)),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 426] {
            assert!(
                matches!(
                    http_refusal(status),
                    LinkError::Fatal {
                        code: ErrorCode::CONNECT_FAILED,
                        ..
                    }
                ),
                "{status}"
            );
        }
    }

    /// A sink whose link is gone: every call fails.
    struct Broken;

    impl Sink<Message> for Broken {
        type Error = WsError;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            Poll::Ready(Err(WsError::ConnectionClosed))
        }
        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), WsError> {
            Err(WsError::ConnectionClosed)
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            Poll::Ready(Err(WsError::ConnectionClosed))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            Poll::Ready(Err(WsError::ConnectionClosed))
        }
    }

    #[tokio::test]
    async fn a_failed_send_then_a_failed_close_are_both_errors_not_a_panic() {
        let mut sink = MapLinkErr(Broken);
        assert!(matches!(
            sink.send(Message::text("a")).await,
            Err(LinkError::Transient(_))
        ));
        assert!(matches!(sink.close().await, Err(LinkError::Transient(_))));
    }
}
