//! A lightweight protocol client (tokio-tungstenite + `roomlink::protocol` frames): what the
//! fan-out room members and the capacity load are made of. 10 000 full engines would be 20 000
//! threads; these are one task each.

use std::net::{IpAddr, SocketAddr};

use futures_util::StreamExt;
use roomlink::User;
use roomlink::protocol::{HELLO_HEADER, Hello, Login, PROTOCOL_VERSION, VERSION_HEADER, WS_PATH};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// A login for `user_id` into `room_id` with a valid token.
pub fn login(room_id: &str, user_id: &str, user_update: bool) -> Login {
    Login {
        room_id: room_id.into(),
        user: User::new(user_id, user_id),
        token: crate::server::token(user_id, room_id),
        user_update,
        resume: None,
        streams: Vec::new(),
        fence: None,
    }
}

/// Opens a WebSocket to the server (from `source` if given) whose hello carries `logins`.
pub async fn connect(
    server: SocketAddr,
    source: Option<IpAddr>,
    logins: Vec<Login>,
) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect {server}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let mut request = format!("ws://{server}{WS_PATH}")
        .into_client_request()
        .map_err(|e| format!("request: {e}"))?;
    let headers = request.headers_mut();
    headers.insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    if !logins.is_empty() {
        let hello = HeaderValue::from_str(&Hello { logins }.to_header())
            .map_err(|e| format!("hello header: {e}"))?;
        headers.insert(HELLO_HEADER, hello);
    }
    // Small read buffer: thousands of these share one process (the default is 128 KiB each).
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    Ok(ws)
}

/// The next text frame; an error if the link closed.
pub async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(f))) => return Err(format!("closed by server: {f:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("closed".into()),
        }
    }
}

/// Waits for the answer to a login: `joined` (read by its tag only: a snapshot of a 10 000-member
/// room is half a megabyte and the bench does not need its content).
pub async fn expect_joined(ws: &mut Ws) -> Result<(), String> {
    let text = next_text(ws).await?;
    if text.starts_with(r#"{"t":"joined""#) {
        Ok(())
    } else {
        Err(format!(
            "expected joined, got {}",
            &text[..text.len().min(200)]
        ))
    }
}
