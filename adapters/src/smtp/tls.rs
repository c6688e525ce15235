//! TLS for our own SMTP connections: lettre's [`TlsParameters`] for `STARTTLS`, and a
//! rustls stream (ring, webpki roots) lettre can drive for implicit TLS.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lettre::transport::smtp::client::{AsyncTokioStream, TlsParameters};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::SmtpFailure;

#[derive(Clone)]
pub(super) struct TlsSetup {
    pub(super) parameters: TlsParameters,
    connector: TlsConnector,
}

impl TlsSetup {
    pub(super) fn new(host: &str) -> Result<Self, String> {
        let parameters = TlsParameters::builder(host.to_owned())
            .build_rustls()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            parameters,
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Implicit TLS over an open TCP connection.
    pub(super) async fn wrap(&self, tcp: TcpStream, host: &str) -> Result<TlsTcp, SmtpFailure> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| SmtpFailure::Tls(format!("{host}: {e}")))?;
        let stream = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| SmtpFailure::Tls(e.to_string()))?;
        Ok(TlsTcp(stream))
    }
}

/// A rustls client stream over TCP, as lettre's connection wants it.
#[derive(Debug)]
pub(super) struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}
