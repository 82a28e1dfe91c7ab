//! Accepting connections with bounds: a cap on concurrent connections (beyond it a
//! short JSON 503 and close), a header-read timeout (a client trickling its headers
//! is closed), an idle timeout (a connection that moves no byte is closed), a
//! bounded read buffer per connection, and accept errors (file descriptors
//! exhausted) that pause accepting instead of spinning or ending the server.
//!
//! HTTP/1.1 through hyper's connection builder (axum's `serve` sets no timer, so
//! none of hyper's timeouts applied).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The server's resource bounds (see the README, "Reliability and limits").
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more get a 503 and are closed.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// A connection that moves no byte for this long is closed.
    pub idle_timeout: Duration,
    /// On a PostgreSQL store: database tasks at once ([`crate::pool`]).
    pub pg_pool: usize,
    /// … and how long a request waits for one before its 503.
    pub pg_pool_wait: Duration,
}

/// Largest request head (request line + headers) hyper buffers; the
/// `limit_request` middleware answers 414/431 in JSON well below it.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest request target (414 beyond), total header bytes and header count (431
/// beyond), checked by [`crate::limit_request`].
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 100;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            pg_pool: 16,
            pg_pool_wait: Duration::from_secs(5),
        }
    }
}

/// 1,024, or fewer when the process may open fewer files: a quarter of the soft
/// `RLIMIT_NOFILE` is kept free, so a client beyond the cap can still be accepted
/// and told 503, and the store can be opened.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(String::from))
        })
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(n) => (n - n / 4).saturating_sub(16).clamp(8, 1024),
        None => 1024,
    }
}

/// The socket, noting the time of its last byte in or out.
struct Watched {
    inner: TcpStream,
    last: Arc<AtomicU64>,
    start: Instant,
}

impl Watched {
    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// connections in flight finish (at most `idle_timeout`).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let busy = Arc::new(Semaphore::new(64)); // 503 writers at once
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        "connection limits"
    );
    tokio::pin!(shutdown);
    let mut warned = Instant::now() - Duration::from_secs(60);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (stream, _peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE/ENFILE and the like: wait for connections to end.
                if warned.elapsed() > Duration::from_secs(5) {
                    tracing::warn!("accept failed ({e}); pausing accepts briefly");
                    warned = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let app = app.clone();
                tokio::spawn(async move {
                    serve_one(stream, app, limits).await;
                    drop(permit);
                });
            }
            Err(_) => match busy.clone().try_acquire_owned() {
                Ok(p) => {
                    if warned.elapsed() > Duration::from_secs(5) {
                        tracing::warn!(
                            max = limits.max_connections,
                            "connection limit reached: answering 503"
                        );
                        warned = Instant::now();
                    }
                    tokio::spawn(async move {
                        too_busy(stream).await;
                        drop(p);
                    });
                }
                Err(_) => drop(stream),
            },
        }
    }
    // Let connections in flight finish, bounded by the idle timeout.
    let _ = tokio::time::timeout(
        limits.idle_timeout,
        permits.acquire_many(limits.max_connections as u32),
    )
    .await;
    Ok(())
}

async fn serve_one(stream: TcpStream, app: axum::Router, limits: Limits) {
    let last = Arc::new(AtomicU64::new(0));
    let io = Watched {
        inner: stream,
        last: last.clone(),
        start: Instant::now(),
    };
    let start = io.start;
    let service = TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS * 2)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = limits.idle_timeout;
    loop {
        let since = start
            .elapsed()
            .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
        if since >= idle {
            tracing::debug!("closing an idle connection");
            return; // dropping the connection closes the socket
        }
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(idle - since) => {}
        }
    }
}

/// Beyond the connection cap: a JSON 503 asking to retry, then close.
async fn too_busy(mut stream: TcpStream) {
    let body = serde_json::json!({
        "code": "ServiceUnavailable",
        "description": "the server is at its connection limit; retry in a moment",
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Drain what the client sent, so closing does not reset the connection
        // before it read the answer.
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < 64 * 1024 {
            match tokio::time::timeout(
                Duration::from_millis(200),
                tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
            )
            .await
            {
                Ok(Ok(n)) if n > 0 => total += n,
                _ => break,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}
