//! HTTP proxy URLs, `http://[user:pass@]host:port`: parsing only, so that a config can be checked
//! without the transports. The `CONNECT` handshake that uses a parsed proxy is `roomlink`'s
//! (`transport/proxy.rs`).
//!
//! The credentials are secrets: they are kept only as the ready `Proxy-Authorization` value, and
//! neither `Debug` nor errors ever show them.

use base64::Engine as _;

/// A parsed HTTP proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpProxy {
    /// Host name or IP address (an IPv6 address without brackets).
    host: String,
    port: u16,
    /// `Basic <base64(user:pass)>`, when the URL has credentials.
    authorization: Option<String>,
}

impl std::fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl HttpProxy {
    /// Parses `http://[user[:pass]@]host:port[/]`; user and password may be percent-encoded.
    /// The error says what is wrong without repeating the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<HttpProxy, &'static str> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("the proxy URL must start with http://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err("the proxy URL must not have a path");
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)?;
        let authorization = userinfo
            .map(|userinfo| {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let credentials = format!("{}:{}", percent_decode(user)?, percent_decode(pass)?);
                Ok::<_, &'static str>(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                ))
            })
            .transpose()?;
        Ok(HttpProxy {
            host: host.to_owned(),
            port,
            authorization,
        })
    }

    /// Whether the URL carried credentials.
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
    }

    /// The proxy's host name or IP address (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ready `Proxy-Authorization` value (`Basic ...`), when the URL had credentials. A
    /// secret: the transport writes it into the `CONNECT` request and nowhere else.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

/// `host:port` or `[v6]:port`; the port is required (proxies have no common default).
fn split_host_port(hostport: &str) -> Result<(&str, u16), &'static str> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the proxy host")?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the proxy URL has no host");
    }
    let port = port
        .ok_or("the proxy URL needs a port (http://host:port)")?
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or("the proxy port is not a number in 1..=65535")?;
    Ok((host, port))
}

fn percent_decode(s: &str) -> Result<String, &'static str> {
    const BAD: &str = "bad percent-encoding in the proxy credentials";
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next().ok_or(BAD)?, bytes.next().ok_or(BAD)?];
            let hex = std::str::from_utf8(&hex).map_err(|_| BAD)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| BAD)?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| BAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_parses_with_and_without_credentials() {
        let plain = HttpProxy::parse("http://127.0.0.1:8888").unwrap();
        assert_eq!((plain.host(), plain.port()), ("127.0.0.1", 8888));
        assert!(!plain.has_credentials());

        let v6 = HttpProxy::parse("http://[::1]:3128/").unwrap();
        assert_eq!((v6.host(), v6.port()), ("::1", 3128));

        // "alice:s3cr%40t" → alice:s3cr@t
        let auth = HttpProxy::parse("http://alice:s3cr%40t@proxy.example:8080").unwrap();
        assert_eq!((auth.host(), auth.port()), ("proxy.example", 8080));
        assert_eq!(auth.authorization(), Some("Basic YWxpY2U6czNjckB0"));
    }

    #[test]
    fn malformed_proxy_urls_are_refused() {
        for url in [
            "",
            "https://h:1",
            "socks5://h:1",
            "http://h",
            "http://h:0",
            "http://h:99999",
            "http://:8080",
            "http://h:80/path",
            "http://[::1:80",
            "http://u:%zz@h:80",
        ] {
            assert!(HttpProxy::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn debug_never_shows_the_credentials() {
        let proxy = HttpProxy::parse("http://alice:hunter2@h:1").unwrap();
        let shown = format!("{proxy:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("aHVudGVyMg"));
        assert!(!shown.contains("YWxpY2U6aHVudGVyMg"), "{shown}");
    }
}
