//! Test helpers: a server on a free loopback port and a WebSocket client that reads frames in a
//! background task (optionally keeping the link alive with WebSocket pings).
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomlink_proto::protocol::{
    ClientFrame, HELLO_HEADER, Hello, Login, PublishedStream, Resume, ServerFrame, VERSION_HEADER,
};
use roomlink_proto::{ErrorCode, User};
use roomlink_server::token::{self, Claims};
use roomlink_server::{ServerConfig, ServerHandle};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub const WAIT: Duration = Duration::from_secs(5);

pub fn config(heartbeat_ms: u64) -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        heartbeat_timeout: Duration::from_millis(heartbeat_ms),
        ..ServerConfig::default()
    }
}

pub async fn server(heartbeat_ms: u64) -> ServerHandle {
    roomlink_server::start(config(heartbeat_ms))
        .await
        .expect("server starts")
}

pub fn now_ms() -> u64 {
    token::now_unix_ms()
}

pub fn token_until(user: &str, room: &str, expires_at_ms: u64) -> String {
    let claims = Claims {
        app_id: "roomlink-dev".into(),
        user_id: user.into(),
        room_id: room.into(),
        expires_at_ms,
    };
    token::mint("dev-secret", &claims)
}

pub fn token(user: &str, room: &str) -> String {
    token_until(user, room, now_ms() + 3_600_000)
}

pub fn login(user: &str, room: &str) -> Login {
    Login {
        room_id: room.into(),
        user: User::new(user, format!("name-{user}")),
        token: token(user, room),
        user_update: true,
        resume: None,
        streams: vec![],
        fence: None,
    }
}

/// A login that publishes one stream as it joins.
pub fn login_publishing(user: &str, room: &str, stream_id: &str, extra_info: &str) -> Login {
    let mut l = login(user, room);
    l.streams = vec![PublishedStream {
        stream_id: stream_id.into(),
        extra_info: extra_info.into(),
    }];
    l
}

pub fn resume(mut l: Login, session_id: &str, last_seq: u64) -> Login {
    l.resume = Some(Resume {
        session_id: session_id.into(),
        last_seq,
    });
    l
}

/// A client connection. Frames arrive on a channel filled by a background task.
pub struct Client {
    out: mpsc::UnboundedSender<Message>,
    inbox: mpsc::UnboundedReceiver<ServerFrame>,
    task: tokio::task::JoinHandle<()>,
}

/// The upgrade request with the version header and, if any logins, the hello header.
pub fn request(
    url: &str,
    logins: Vec<Login>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static("1"));
    if !logins.is_empty() {
        let hello = Hello { logins }.to_header();
        req.headers_mut()
            .insert(HELLO_HEADER, HeaderValue::from_str(&hello).unwrap());
    }
    req
}

impl Client {
    /// Connects carrying `logins` in the hello; `keepalive` sends a WebSocket ping every 100 ms.
    pub async fn connect(url: &str, logins: Vec<Login>, keepalive: bool) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(request(url, logins))
            .await
            .expect("upgrade succeeds");
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, inbox) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    m = out_rx.recv() => match m {
                        Some(m) => if sink.send(m).await.is_err() { break },
                        None => break,
                    },
                    _ = tick.tick(), if keepalive => {
                        if sink.send(Message::Ping(Vec::new().into())).await.is_err() { break }
                    }
                    m = stream.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            let f = ServerFrame::decode(t.as_str(), 1 << 20).expect("server frames decode");
                            let _ = in_tx.send(f);
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
        Client { out, inbox, task }
    }

    /// Connects with one login and returns the client and its `Joined` frame.
    pub async fn join(url: &str, l: Login) -> (Client, ServerFrame) {
        let mut c = Client::connect(url, vec![l], true).await;
        let f = c.recv().await;
        assert!(
            matches!(f, ServerFrame::Joined { .. }),
            "expected Joined, got {f:?}"
        );
        (c, f)
    }

    pub fn send(&self, f: ClientFrame) {
        let _ = self.out.send(Message::text(f.encode()));
    }

    pub fn send_raw(&self, m: Message) {
        let _ = self.out.send(m);
    }

    /// The next frame; panics if none arrives within [`WAIT`] or the link closes.
    pub async fn recv(&mut self) -> ServerFrame {
        match tokio::time::timeout(WAIT, self.inbox.recv()).await {
            Ok(Some(f)) => f,
            Ok(None) => panic!("link closed while waiting for a frame"),
            Err(_) => panic!("no frame within {WAIT:?}"),
        }
    }

    /// Waits for the link to close, returning the frames that came before.
    /// The next frame must be an `Error` with `code`.
    pub async fn expect_error(&mut self, code: ErrorCode) {
        let f = self.recv().await;
        assert!(
            matches!(&f, ServerFrame::Error { code: c, .. } if *c == code),
            "expected Error {code:?}, got {f:?}"
        );
    }

    pub async fn closed(&mut self) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.inbox.recv()).await {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => return frames,
                Err(_) => panic!("link still open after {WAIT:?}; got {frames:?}"),
            }
        }
    }

    /// Asserts nothing arrives for `ms` (only for checking that something does NOT happen).
    pub async fn expect_silence(&mut self, ms: u64) {
        if let Ok(Some(f)) =
            tokio::time::timeout(Duration::from_millis(ms), self.inbox.recv()).await
        {
            panic!("expected no frame, got {f:?}");
        }
    }

    /// Drops the TCP connection abruptly, as a network loss would.
    pub fn drop_link(self) {
        self.task.abort();
    }
}

pub fn session_id(f: &ServerFrame) -> String {
    match f {
        ServerFrame::Joined { session_id, .. } | ServerFrame::Resumed { session_id, .. } => {
            session_id.clone()
        }
        other => panic!("no session in {other:?}"),
    }
}

/// The room event inside an `Event` frame.
pub fn event(f: ServerFrame) -> (u64, roomlink_proto::protocol::RoomEvent) {
    match f {
        ServerFrame::Event { event, .. } => (event.seq, event.event),
        other => panic!("expected an event, got {other:?}"),
    }
}
