//! HTTP proxies: the `CONNECT` handshake (RFC 9110 §9.3.6) that turns a TCP connection to the
//! proxy into a tunnel to the server. Both `ws://` and `wss://` go through the tunnel (TLS, if any,
//! runs inside it, end to end with the server). The URL's parsing is `roomlink_proto::proxy`.
//!
//! The credentials are secrets: they are kept only as the ready `Proxy-Authorization` value, and
//! neither `Debug`, errors nor logs ever show them.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::LinkError;
use crate::codes::ErrorCode;
pub use crate::proxy::HttpProxy;

/// The longest proxy answer to `CONNECT` read before giving up on it (status line and headers).
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// The `host:port` authority of a `CONNECT` request (IPv6 literals in brackets).
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Asks the proxy on `stream` for a tunnel to `host:port` and reads its answer. On success the
/// stream is the tunnel: nothing of the proxy's answer is left unread, because the head is read
/// byte by byte and the server sends nothing before the client speaks (WebSocket and TLS both
/// start with the client).
pub(crate) async fn connect_tunnel<S>(
    stream: &mut S,
    proxy: &HttpProxy,
    host: &str,
    port: u16,
) -> Result<(), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = authority(host, port);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(authorization) = proxy.authorization() {
        request.push_str("Proxy-Authorization: ");
        request.push_str(authorization);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let io = |e: std::io::Error| LinkError::Transient(format!("proxy: {e}"));
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    drop(request); // holds the credentials: not kept longer than needed

    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(proxy_fatal(
                ErrorCode::CONNECT_FAILED,
                "answer head too long",
            ));
        }
        let byte = stream.read_u8().await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                LinkError::Transient("proxy closed the connection during CONNECT".into())
            } else {
                io(e)
            }
        })?;
        head.push(byte);
    }
    let status = parse_status(&head)
        .ok_or_else(|| proxy_fatal(ErrorCode::CONNECT_FAILED, "not an HTTP answer"))?;
    tunnel_status(status, proxy.has_credentials())
}

/// The status code of an `HTTP/1.x NNN reason` status line.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

fn proxy_fatal(code: ErrorCode, detail: &str) -> LinkError {
    LinkError::Fatal {
        code,
        detail: format!("proxy: {detail}"),
    }
}

/// What a proxy's answer to `CONNECT` means. 2xx: the tunnel is up. 407: the credentials are
/// missing or wrong, which retrying cannot fix; 401 too, because no server is involved before
/// the tunnel is up (tinyproxy answers wrong credentials with 401, missing ones with 407). A proxy that cannot reach the server right now, or
/// is overloaded (5xx, 408, 429), may later. Anything else (403 for a port the proxy does not
/// tunnel to, 405 for a proxy that does not tunnel at all) is the deployment's fault.
pub(crate) fn tunnel_status(status: u16, had_credentials: bool) -> Result<(), LinkError> {
    match status {
        200..=299 => Ok(()),
        401 | 407 => Err(proxy_fatal(
            ErrorCode::PROXY_AUTH_FAILED,
            if had_credentials {
                "the proxy refused the credentials"
            } else {
                "the proxy wants credentials (http://user:pass@host:port)"
            },
        )),
        408 | 429 | 500..=599 => Err(LinkError::Transient(format!(
            "proxy answered CONNECT with HTTP {status}"
        ))),
        _ => Err(LinkError::Fatal {
            code: ErrorCode::CONNECT_FAILED,
            detail: format!("proxy refused CONNECT with HTTP {status}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_answers_map_to_tunnel_auth_failure_retry_or_fatal() {
        assert!(tunnel_status(200, false).is_ok());
        for (status, had) in [(407, false), (407, true), (401, true)] {
            assert!(matches!(
                tunnel_status(status, had),
                Err(LinkError::Fatal {
                    code: ErrorCode::PROXY_AUTH_FAILED,
                    ..
                })
            ));
        }
        for status in [502, 503, 504, 408, 429] {
            assert!(
                matches!(tunnel_status(status, false), Err(LinkError::Transient(_))),
                "{status}"
            );
        }
        for status in [403, 405, 400, 301] {
            assert!(
                matches!(
                    tunnel_status(status, false),
                    Err(LinkError::Fatal {
                        code: ErrorCode::CONNECT_FAILED,
                        ..
                    })
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn status_lines_parse_and_garbage_does_not() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(parse_status(b"HTTP/1.0 407\r\n\r\n"), Some(407));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20 x\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn the_request_has_host_and_basic_auth_and_the_answer_is_consumed_exactly() {
        let proxy = HttpProxy::parse("http://u:p@h:1").unwrap();
        let (mut client, mut server) = tokio::io::duplex(4096);
        let serve = tokio::spawn(async move {
            let mut got = Vec::new();
            while !got.ends_with(b"\r\n\r\n") {
                got.push(server.read_u8().await.unwrap());
            }
            server
                .write_all(b"HTTP/1.1 200 Connection established\r\nVia: t\r\n\r\nNEXT")
                .await
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        connect_tunnel(&mut client, &proxy, "::1", 443)
            .await
            .unwrap();
        let request = serve.await.unwrap();
        assert_eq!(
            request,
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic dTpw\r\n\r\n"
        );
        let mut rest = [0u8; 4];
        client.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"NEXT", "the tunnel starts right after the head");
    }
}
