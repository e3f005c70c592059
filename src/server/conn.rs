//! The server's connections: TCP with `TCP_NODELAY`, and JSON bodies for the errors hyper
//! answers by itself when a request cannot even be parsed.
//!
//! hyper replies to an unparsable request line (400), a URL over 65 534 bytes (414) and
//! headers over its limits (431: 100 headers, about 400 KB) with an empty body, before axum
//! sees a request. [`Conn`] recognises exactly those replies on their way out (a bodiless
//! 400/414/431 head, which the application never sends: its errors all carry JSON) and sends
//! the same status with a JSON body and `connection: close` instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections as [`Conn`]s.
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Conn, std::net::SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, addr)) => {
                    // A live-mode reply is a JPEG then a small JSON message; with Nagle's
                    // algorithm the second waits for the client's delayed ACK (~40 ms a frame).
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::warn!("TCP_NODELAY: {e}");
                    }
                    return (Conn { tcp, substitute: None }, addr);
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

/// The address a connection comes from, for the handlers (`ConnectInfo<Peer>`): the slots
/// one address may hold ([`super::slots`]).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A TCP connection whose parse-error replies get JSON bodies. It does not announce
/// vectored writes, so hyper hands it each reply head as one buffer.
pub struct Conn {
    tcp: TcpStream,
    /// A replacement being written: its bytes, how many went out, and the length of the
    /// buffer it stands for (reported written once the replacement is).
    substitute: Option<(Vec<u8>, usize, usize)>,
}

/// The JSON reply that stands for hyper's bodiless parse-error reply `head`, if it is one.
fn json_reply(head: &[u8]) -> Option<Vec<u8>> {
    if head.len() > 512 || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    if !text.contains("\r\ncontent-length: 0\r\n") || text.contains("\r\ncontent-type:") {
        return None;
    }
    let (status, message) = match text.get(..13)? {
        "http/1.1 400 " | "http/1.0 400 " => {
            ("400 Bad Request", "malformed HTTP request: the request line or a header could not be parsed")
        }
        "http/1.1 414 " | "http/1.0 414 " => ("414 URI Too Long", "the URL is too long (at most 65 534 bytes)"),
        "http/1.1 431 " | "http/1.0 431 " => (
            "431 Request Header Fields Too Large",
            "the request's headers are too many or too large (at most 100 headers, about 400 KB in all)",
        ),
        _ => return None,
    };
    let body = serde_json::json!({ "error": message }).to_string();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.substitute.is_none() {
            match json_reply(buf) {
                Some(reply) => this.substitute = Some((reply, 0, buf.len())),
                None => return Pin::new(&mut this.tcp).poll_write(cx, buf),
            }
        }
        let (reply, sent, stands_for) = this.substitute.as_mut().expect("set above");
        while *sent < reply.len() {
            let n = ready!(Pin::new(&mut this.tcp).poll_write(cx, &reply[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        let n = *stands_for;
        this.substitute = None;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_reply;

    #[test]
    fn only_hypers_bodiless_parse_error_replies_are_replaced() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 10:00:00 GMT\r\n\r\n";
        let reply = String::from_utf8(json_reply(hyper_431).unwrap()).unwrap();
        assert!(reply.starts_with("HTTP/1.1 431 ") && reply.contains("application/json"), "{reply}");
        let body = reply.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("headers"));
        assert!(json_reply(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").is_some());
        // The application's own replies pass untouched.
        assert!(
            json_reply(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n")
                .is_none()
        );
        assert!(json_reply(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(json_reply(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
    }
}
