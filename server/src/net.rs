//! The accept loop: HTTP/1.1 connections served by hyper with a header read timeout (which also
//! closes idle keep-alive connections) and a cap on connections at once; `axum::serve` has neither.
//!
//! A connection beyond the cap is answered 503 at once and closed, so a flood of slow clients
//! costs a socket each for at most the header timeout, and never the file descriptors of the
//! whole process.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::Service;

/// How connections are served.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// For a request's headers, and for the next request on an idle keep-alive connection.
    pub header_timeout: Duration,
}

impl ConnLimits {
    pub fn of(settings: &crate::Settings) -> ConnLimits {
        ConnLimits {
            max_connections: settings.max_connections,
            header_timeout: settings.header_timeout,
        }
    }
}

/// The answer to a connection over the cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nx-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: 102\r\n\r\n\
{\"error\": {\"message\": \"too many connections: try again shortly\", \"type\": \"server_busy\", \"code\": 503}}\n";

/// Headers and buffered request data per connection at most (hyper's minimum is 8 KiB).
const MAX_BUF: usize = 64 << 10;

/// How long a closing connection keeps reading what the client still sends, and how much of
/// it, so that an early answer (413, 403, 415) is not lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 8 << 20;
const LINGER_GAP: Duration = Duration::from_millis(200);
/// Refused connections lingering at once; beyond, they are closed at once.
const REFUSED_LINGERING: usize = 64;

/// Serve `app` on `listener` until `shutdown` resolves, then let open connections finish their
/// current request (for up to 10 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    metrics: Arc<crate::metrics::Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refused_slots = Arc::new(Semaphore::new(REFUSED_LINGERING));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin, and keep serving.
                    tracing::warn!("accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.count("connections_refused");
            refuse(stream, &refused_slots);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                // Boxed: the connection is polled without its shutdown (below), which needs
                // an Unpin future.
                Box::pin(app.clone().call(req))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_BUF)
                .keep_alive(true);
            let mut conn = builder.serve_connection(TokioIo::new(stream), svc);
            let result = tokio::select! {
                r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => r,
                _ = stop.changed() => {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                    std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await
                }
            };
            if let Err(e) = &result {
                // A header timeout, a malformed request, a reset.
                tracing::debug!("connection from {peer}: {e}");
            }
            // Close so that the last answer (an early 413, a 408) arrives whole.
            linger(conn.into_parts().io.into_inner()).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
    Ok(())
}

/// Read and drop what the client still sends (until it pauses for [`LINGER_GAP`], for
/// [`LINGER`] at most, up to [`LINGER_BYTES`]) before closing: closing a socket with unread
/// data resets it, and a reset can destroy the answer before the client reads it (an early 413
/// or 403 to a client still sending its body).
async fn linger(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut buf = [0u8; 16 << 10];
    let mut left = LINGER_BYTES;
    while left > 0 && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(LINGER_GAP, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            // Closed by the client, or quiet: closing now resets nothing.
            _ => break,
        }
    }
    let _ = stream.shutdown().await;
}

/// Answer 503 without reading the request, and close (lingering when few refused connections
/// linger already).
fn refuse(stream: TcpStream, lingering: &Arc<Semaphore>) {
    // A fresh socket's send buffer takes the whole answer; if it does not, the client sees the
    // connection closed, which is the same news.
    let _ = stream.try_write(BUSY);
    if let Ok(permit) = lingering.clone().try_acquire_owned() {
        tokio::spawn(async move {
            linger(stream).await;
            drop(permit);
        });
    }
}

/// A request body that says whether it was read to its end.
struct Tracked {
    inner: axum::body::Body,
    read_all: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(None) = r {
            self.read_all.store(true, Ordering::Release);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: an answer given before the request's body was read (a 403, 413, 415, 408)
/// says `Connection: close`. The connection cannot carry another request (the rest of the body
/// is in the way), and a client that did not hear so would send its next request on it.
pub async fn close_if_body_unread(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let read_all = Arc::new(AtomicBool::new(false));
    let body = axum::body::Body::new(Tracked {
        inner: body,
        read_all: read_all.clone(),
    });
    let mut res = next.run(Request::from_parts(parts, body)).await;
    if !read_all.load(Ordering::Acquire) {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), len);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], 503);
    }
}
