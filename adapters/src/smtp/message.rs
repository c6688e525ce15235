//! Builds the MIME message: `multipart/alternative` (text, then HTML) when there is an HTML
//! body, `text/plain` otherwise. Subjects and display names may hold any UTF-8 (encoded as
//! RFC 2047 words by lettre). The `Message-ID` is `<notification id@sender domain>`.

use application::ports::EmailMessage;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

/// A message ready for the wire.
#[derive(Debug)]
pub struct BuiltMessage {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    /// The `Message-ID` header, without angle brackets.
    pub message_id: String,
}

pub(super) fn parse_from(from: &str, from_name: &str) -> Result<Mailbox, String> {
    let address: Address = from.trim().parse().map_err(|e| format!("{e}"))?;
    let name = match from_name.trim() {
        "" => None,
        name => Some(name.to_owned()),
    };
    Ok(Mailbox::new(name, address))
}

/// Builds the message of `message` from `from` (with display name `from_name`, may be empty).
pub fn build_message(
    from: &str,
    from_name: &str,
    message: &EmailMessage,
) -> Result<BuiltMessage, String> {
    let sender = parse_from(from, from_name)?;
    let to: Address = message
        .to
        .as_str()
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let message_id = format!("{}@{}", message.notification_id, sender.email.domain());
    let builder = Message::builder()
        .from(sender)
        .to(Mailbox::new(None, to))
        .subject(message.subject.clone())
        .message_id(Some(format!("<{message_id}>")));
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(message.text.clone());
    let email = match &message.html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(text),
    }
    .map_err(|e| e.to_string())?;
    Ok(BuiltMessage {
        envelope: email.envelope().clone(),
        bytes: email.formatted(),
        message_id,
    })
}
