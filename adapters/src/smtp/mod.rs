//! The `smtp` email provider (design §7) on lettre's SMTP client.
//!
//! Connections are opened here rather than by lettre's transport, so that each TCP socket
//! gets `TCP_NODELAY`: lettre 0.11 never sets it, and on loopback Nagle's algorithm plus the
//! peer's delayed ACK cost ~45 ms per message (see `docs/benchmarks.md`). Idle connections
//! are kept for reuse (`Email.SMTP.PoolSize`), one per concurrent send.
//!
//! Security: `starttls` (upgrade after EHLO, refused if the server does not offer it),
//! `tls` (implicit TLS, "SMTPS", port 465) or `none`. Credentials are optional; the
//! password is a [`SecretString`] and never logged.

mod classify;
mod message;
#[cfg(test)]
mod tests;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use application::ports::{EmailMessage, EmailSender, Receipt, SendError};
use async_trait::async_trait;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;

pub use classify::{classify, SmtpFailure};
pub use message::build_message;

/// The provider name stored with the records it delivers.
pub const NAME: &str = "smtp";

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection, upgraded with `STARTTLS` (port 587). Fails if not offered.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a local relay or a test server).
    None,
}

impl SmtpSecurity {
    /// Parses `starttls`, `tls` or `none`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Settings of [`SmtpEmailSender`].
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The envelope sender and `From` address.
    pub from: String,
    /// The `From` display name; empty for none.
    pub from_name: String,
    /// The EHLO name; `None`: this machine's host name.
    pub hello_name: Option<String>,
    /// Bounds connecting (TCP, TLS, greeting, EHLO, AUTH).
    pub connect_timeout: Duration,
    /// Idle connections kept for reuse.
    pub pool_size: usize,
    /// An idle connection older than this is closed instead of reused.
    pub idle_timeout: Duration,
    /// Priority in the email chain (lower first).
    pub priority: i32,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("from", &self.from)
            .field("pool_size", &self.pool_size)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// The SMTP [`EmailSender`].
pub struct SmtpEmailSender {
    settings: SmtpSettings,
    hello: ClientId,
    credentials: Option<Credentials>,
    tls: Option<tls::TlsSetup>,
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for SmtpEmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmailSender")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why an [`SmtpEmailSender`] could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmtpSetupError(String);

impl SmtpEmailSender {
    pub fn new(settings: SmtpSettings) -> Result<Self, SmtpSetupError> {
        if settings.host.trim().is_empty() {
            return Err(SmtpSetupError("host must be set".into()));
        }
        message::parse_from(&settings.from, &settings.from_name)
            .map_err(|e| SmtpSetupError(format!("from address: {e}")))?;
        let hello = match &settings.hello_name {
            Some(name) if !name.trim().is_empty() => ClientId::Domain(name.trim().to_owned()),
            _ => ClientId::default(),
        };
        let credentials = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) if !user.is_empty() => Some(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            )),
            (Some(user), None) if !user.is_empty() => {
                return Err(SmtpSetupError("a username needs a password".into()))
            }
            _ => None,
        };
        let tls = match settings.security {
            SmtpSecurity::None => None,
            SmtpSecurity::StartTls | SmtpSecurity::Tls => Some(
                tls::TlsSetup::new(&settings.host).map_err(|e| SmtpSetupError(e.to_string()))?,
            ),
        };
        Ok(Self {
            settings,
            hello,
            credentials,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Opens a new authenticated connection: TCP with `TCP_NODELAY`, then TLS as configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpFailure> {
        let connecting = async {
            let addr = (self.settings.host.as_str(), self.settings.port);
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| SmtpFailure::Connect(e.to_string()))?;
            tcp.set_nodelay(true)
                .map_err(|e| SmtpFailure::Connect(e.to_string()))?;
            let mut connection = match (&self.settings.security, &self.tls) {
                (SmtpSecurity::Tls, Some(setup)) => {
                    let stream = setup.wrap(tcp, &self.settings.host).await?;
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                        .await
                        .map_err(|e| SmtpFailure::from_lettre(&e))?
                }
                _ => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(|e| SmtpFailure::from_lettre(&e))?,
            };
            if let (SmtpSecurity::StartTls, Some(setup)) = (&self.settings.security, &self.tls) {
                if !connection.can_starttls() {
                    return Err(SmtpFailure::Tls(
                        "the server does not offer STARTTLS (Email.SMTP.Security is starttls)"
                            .into(),
                    ));
                }
                let parameters: TlsParameters = setup.parameters.clone();
                connection
                    .starttls(parameters, &self.hello)
                    .await
                    .map_err(|e| SmtpFailure::from_lettre(&e))?;
            }
            if let Some(credentials) = &self.credentials {
                connection
                    .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| SmtpFailure::from_lettre(&e))?;
            }
            Ok(connection)
        };
        tokio::time::timeout(self.settings.connect_timeout, connecting)
            .await
            .unwrap_or(Err(SmtpFailure::Timeout))
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(entry) = idle.pop() {
            if entry.since.elapsed() < self.settings.idle_timeout && !entry.connection.has_broken()
            {
                return Some(entry.connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.settings.pool_size {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    /// The server's address, for logs.
    fn target(&self) -> String {
        match format!("{}:{}", self.settings.host, self.settings.port).parse::<SocketAddr>() {
            Ok(addr) => addr.to_string(),
            Err(_) => format!("{}:{}", self.settings.host, self.settings.port),
        }
    }

    async fn transmit(
        &self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<(), SmtpFailure> {
        // A pooled connection may have been closed by the server while idle: one failure
        // that is not an SMTP reply sends the message again on a fresh connection.
        if let Some(mut connection) = self.take_idle() {
            match connection.send(envelope, bytes).await {
                Ok(_) => {
                    self.put_idle(connection);
                    return Ok(());
                }
                Err(err) if err.is_response() || err.is_transient() || err.is_permanent() => {
                    let failure = SmtpFailure::from_lettre(&err);
                    if !connection.has_broken() {
                        self.put_idle(connection);
                    }
                    return Err(failure);
                }
                Err(err) => {
                    tracing::debug!(error = %err, "pooled SMTP connection failed; reconnecting");
                }
            }
        }
        let mut connection = self.connect().await?;
        match connection.send(envelope, bytes).await {
            Ok(_) => {
                self.put_idle(connection);
                Ok(())
            }
            Err(err) => {
                let failure = SmtpFailure::from_lettre(&err);
                self.put_idle(connection);
                Err(failure)
            }
        }
    }
}

#[async_trait]
impl EmailSender for SmtpEmailSender {
    fn name(&self) -> &str {
        NAME
    }

    fn priority(&self) -> i32 {
        self.settings.priority
    }

    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError> {
        let built = build_message(&self.settings.from, &self.settings.from_name, message)
            .map_err(|e| classify(&SmtpFailure::Build(e)))?;
        let result = self.transmit(&built.envelope, &built.bytes).await;
        match result {
            Ok(()) => {
                tracing::info!(
                    provider = NAME,
                    notification_id = %message.notification_id,
                    to = %message.to.masked(),
                    server = %self.target(),
                    provider_message_id = %built.message_id,
                    "email accepted by the SMTP server"
                );
                Ok(Receipt {
                    provider: NAME.to_owned(),
                    provider_message_id: built.message_id,
                })
            }
            Err(failure) => Err(classify(&failure)),
        }
    }
}

/// Wraps the sender for the chain.
pub fn sender(settings: SmtpSettings) -> Result<Arc<dyn EmailSender>, SmtpSetupError> {
    Ok(Arc::new(SmtpEmailSender::new(settings)?))
}
