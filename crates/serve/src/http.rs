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
    tls: Option<tokio_rustls::TlsAcceptor>,
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
        let stop = shutdown.clone();
        let tls = tls.clone();
        conns.spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tls {
                None => connection(stream, svc, header_timeout, peer, stop).await,
                Some(acceptor) => {
                    // The handshake is bounded like the headers.
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => connection(s, svc, header_timeout, peer, stop).await,
                        Ok(Err(e)) => {
                            tracing::debug!(message = "TLS handshake failed.", peer = %peer, error = %e);
                        }
                        Err(_) => {
                            tracing::debug!(message = "TLS handshake timed out.", peer = %peer);
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
}

/// Serve one connection (plain or TLS) until it ends or shutdown.
async fn connection<S>(
    stream: S,
    svc: TowerToHyperService<axum::Router>,
    header_timeout: Duration,
    peer: std::net::SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
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
}

/// The TLS setup from PEM certificate and key files (rustls over ring; TLS 1.2 and 1.3).
/// rustls marks ring's provider deprecated for its lack of post-quantum key exchange: the
/// classical suites are what browsers and proxies negotiate, and aws-lc-rs would cost a C build.
///
/// # Errors
/// A file cannot be read, holds no certificate or key, or they do not fit together.
#[allow(deprecated)]
pub(crate) fn tls_acceptor(
    t: &crate::config::TlsConfig,
) -> Result<tokio_rustls::TlsAcceptor, crate::ServeError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |key: &str, message: String| crate::ServeError::ConfigValue {
        key: key.to_owned(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert)
        .map_err(|e| bad("tls.cert", format!("{}: {e}", t.cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("tls.cert", format!("{}: {e}", t.cert.display())))?;
    if certs.is_empty() {
        return Err(bad(
            "tls.cert",
            format!("{}: no PEM certificate in it", t.cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key)
        .map_err(|e| bad("tls.key", format!("{}: {e}", t.key.display())))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("tls", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("tls", format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
