//! The accept loop: HTTP/1.1 over hyper with a bound on connections and on the time a client
//! may take to send its headers (slow clients cannot hold every connection), and a graceful
//! end: on shutdown no new connection is accepted and requests under way complete.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long requests under way may take to finish once shutdown begins.
const GRACE: Duration = Duration::from_secs(30);

/// Serve `app` on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    max_connections: usize,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors, or the peer went away before accept.
                    tracing::warn!(message = "Accept failed.", error = %e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        while conns.try_join_next().is_some() {}
        let svc = TowerToHyperService::new(app.clone());
        let mut stop = shutdown.clone();
        conns.spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(message = "Connection ended with an error.", peer = %peer, error = %e);
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, conn).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
}
