//! SMTP errors, classified once (style.md point 6):
//!
//! | failure                                   | kind      |
//! |-------------------------------------------|-----------|
//! | timeout (connect or any command)          | Retryable |
//! | connection refused / reset / closed, DNS  | Retryable |
//! | TLS handshake or STARTTLS not offered     | Retryable |
//! | 4xx reply (421 busy, 450/451/452, 454)    | Retryable |
//! | 530/534/535/538 reply (authentication)    | Permanent |
//! | other 5xx reply (550 no such user, 552, 554 rejected, 553 bad address) | Permanent |
//! | a reply lettre could not parse            | Retryable |
//! | message could not be built (bad address, non-ASCII address unsupported, no auth mechanism) | Permanent |

use application::ports::SendError;

use super::NAME;

/// What went wrong, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpFailure {
    Timeout,
    /// The TCP connection could not be made or broke.
    Connect(String),
    Tls(String),
    /// The server answered with this reply code (`421`, `550`, …).
    Reply {
        code: u16,
        message: String,
    },
    /// The server's answer could not be understood.
    Protocol(String),
    /// The client refused before sending (a bad address, a feature the server lacks).
    Client(String),
    /// The message could not be built.
    Build(String),
}

impl SmtpFailure {
    pub(super) fn from_lettre(err: &lettre::transport::smtp::Error) -> Self {
        let text = err.to_string();
        if err.is_timeout() {
            return SmtpFailure::Timeout;
        }
        if let Some(code) = err.status() {
            if let Ok(code) = code.to_string().parse::<u16>() {
                return SmtpFailure::Reply {
                    code,
                    message: text,
                };
            }
        }
        if err.is_tls() {
            return SmtpFailure::Tls(text);
        }
        if err.is_response() {
            return SmtpFailure::Protocol(text);
        }
        if err.is_client() {
            return SmtpFailure::Client(text);
        }
        SmtpFailure::Connect(text)
    }
}

/// The table above.
pub fn classify(failure: &SmtpFailure) -> SendError {
    match failure {
        SmtpFailure::Timeout => SendError::retryable(NAME, "timed out talking to the SMTP server"),
        SmtpFailure::Connect(e) => SendError::retryable(NAME, format!("connection failed: {e}")),
        SmtpFailure::Tls(e) => SendError::retryable(NAME, format!("TLS failed: {e}")),
        SmtpFailure::Protocol(e) => SendError::retryable(NAME, format!("bad server reply: {e}")),
        SmtpFailure::Reply { code, message } => match code {
            400..=499 => SendError::retryable(NAME, format!("transient reply {message}")),
            530 | 534 | 535 | 538 => {
                SendError::permanent(NAME, format!("authentication refused: {message}"))
            }
            500..=599 => SendError::permanent(NAME, format!("permanent reply {message}")),
            _ => SendError::retryable(NAME, format!("unexpected reply {message}")),
        },
        SmtpFailure::Client(e) => SendError::permanent(NAME, format!("refused by the client: {e}")),
        SmtpFailure::Build(e) => SendError::permanent(NAME, format!("invalid message: {e}")),
    }
}
