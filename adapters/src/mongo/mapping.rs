//! Records to BSON documents and back, field by field (the shape `docs/model.md` shows).
//!
//! A field whose value is `None` is left out of the document (and `$unset` by an update);
//! reading takes a missing field and a `null` alike as `None`. Times are BSON dates
//! (milliseconds). `idempotency_key` is present only when the record has one: the partial
//! unique index covers exactly those documents.

use application::ports::{StatusUpdate, StoreError};
use chrono::{DateTime, Utc};
use domain::{
    Channel, DeadLetter, EmailAddress, IdempotencyKey, Locale, Mode, Notification, NotificationId,
    NotificationKind, PhoneNumber, Recipient, RenderedMessage, RequestFingerprint, Status,
    TenantId,
};
use mongodb::bson::{Bson, DateTime as BsonDateTime, Document};

pub(super) fn date(at: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(at.timestamp_millis())
}

fn set_opt(doc: &mut Document, key: &str, value: Option<impl Into<Bson>>) {
    if let Some(value) = value {
        doc.insert(key, value.into());
    }
}

/// The document of a new notification record (`_id` = the id).
pub(super) fn notification_to_document(record: &Notification) -> Document {
    let mut doc = Document::new();
    doc.insert("_id", record.id.to_string());
    doc.insert("tenant_id", record.tenant_id.as_str());
    doc.insert("kind", record.kind.as_str());
    doc.insert("channel", record.channel.as_str());
    doc.insert("to", record.recipient.as_str());
    doc.insert("locale", record.locale.as_str());
    doc.insert("mode", record.mode.as_str());
    doc.insert("status", record.status.as_str());
    doc.insert("attempts", i64::from(record.attempts));
    set_opt(&mut doc, "provider", record.provider.as_deref());
    set_opt(
        &mut doc,
        "provider_message_id",
        record.provider_message_id.as_deref(),
    );
    set_opt(&mut doc, "last_error", record.last_error.as_deref());
    set_opt(
        &mut doc,
        "idempotency_key",
        record.idempotency_key.as_ref().map(IdempotencyKey::as_str),
    );
    set_opt(
        &mut doc,
        "fingerprint",
        record.fingerprint.as_ref().map(RequestFingerprint::as_str),
    );
    if !record.body_withheld {
        set_opt(&mut doc, "body", record.body.as_ref().map(body_to_document));
    }
    doc.insert("body_withheld", record.body_withheld);
    doc.insert("occurred_at", date(record.occurred_at));
    doc.insert("updated_at", date(record.updated_at));
    set_opt(
        &mut doc,
        "next_attempt_at",
        record.next_attempt_at.map(date),
    );
    set_opt(&mut doc, "sent_at", record.sent_at.map(date));
    doc
}

fn body_to_document(body: &RenderedMessage) -> Document {
    let mut doc = Document::new();
    set_opt(&mut doc, "subject", body.subject.as_deref());
    doc.insert("text", body.text.as_str());
    set_opt(&mut doc, "html", body.html.as_deref());
    doc
}

/// The `$set` / `$unset` update of a status update (every field written as given).
pub(super) fn status_update_document(update: &StatusUpdate) -> Document {
    let mut set = Document::new();
    let mut unset = Document::new();
    let mut put = |key: &str, value: Option<Bson>| match value {
        Some(value) => {
            set.insert(key, value);
        }
        None => {
            unset.insert(key, "");
        }
    };
    put("status", Some(update.status.as_str().into()));
    put("attempts", Some(i64::from(update.attempts).into()));
    put("provider", update.provider.clone().map(Bson::from));
    put(
        "provider_message_id",
        update.provider_message_id.clone().map(Bson::from),
    );
    put("last_error", update.last_error.clone().map(Bson::from));
    put(
        "next_attempt_at",
        update.next_attempt_at.map(|at| Bson::DateTime(date(at))),
    );
    put("sent_at", update.sent_at.map(|at| Bson::DateTime(date(at))));
    put("updated_at", Some(Bson::DateTime(date(update.updated_at))));
    let mut doc = Document::new();
    doc.insert("$set", set);
    if !unset.is_empty() {
        doc.insert("$unset", unset);
    }
    doc
}

/// Reads typed fields of one document, naming the document and field in errors.
struct Reader<'a> {
    doc: &'a Document,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, field: &str, reason: impl std::fmt::Display) -> StoreError {
        let id = match self.doc.get("_id") {
            Some(Bson::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => "?".into(),
        };
        StoreError::Corrupt(format!("{} {id}: field {field}: {reason}", self.what))
    }

    fn opt(&self, field: &str) -> Option<&'a Bson> {
        match self.doc.get(field) {
            None | Some(Bson::Null) => None,
            Some(value) => Some(value),
        }
    }

    fn opt_str(&self, field: &str) -> Result<Option<&'a str>, StoreError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.corrupt(field, format!("expected a string, got {other}"))),
        }
    }

    fn str(&self, field: &str) -> Result<&'a str, StoreError> {
        self.opt_str(field)?
            .ok_or_else(|| self.corrupt(field, "missing"))
    }

    fn opt_string(&self, field: &str) -> Result<Option<String>, StoreError> {
        Ok(self.opt_str(field)?.map(str::to_owned))
    }

    fn parse<T, E: std::fmt::Display>(
        &self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let raw = self.str(field)?;
        parse(raw).map_err(|err| self.corrupt(field, err))
    }

    fn u32(&self, field: &str) -> Result<u32, StoreError> {
        let value = match self.opt(field) {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Double(n)) if n.fract() == 0.0 => *n as i64,
            Some(other) => {
                return Err(self.corrupt(field, format!("expected an integer, got {other}")))
            }
            None => return Err(self.corrupt(field, "missing")),
        };
        u32::try_from(value).map_err(|_| self.corrupt(field, format!("{value} is out of range")))
    }

    fn bool(&self, field: &str) -> Result<bool, StoreError> {
        match self.opt(field) {
            Some(Bson::Boolean(b)) => Ok(*b),
            None => Ok(false),
            Some(other) => Err(self.corrupt(field, format!("expected a boolean, got {other}"))),
        }
    }

    fn opt_date(&self, field: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Bson::DateTime(at)) => DateTime::from_timestamp_millis(at.timestamp_millis())
                .map(Some)
                .ok_or_else(|| self.corrupt(field, "date out of range")),
            Some(other) => Err(self.corrupt(field, format!("expected a date, got {other}"))),
        }
    }

    fn date(&self, field: &str) -> Result<DateTime<Utc>, StoreError> {
        self.opt_date(field)?
            .ok_or_else(|| self.corrupt(field, "missing"))
    }

    fn opt_doc(&self, field: &str) -> Result<Option<&'a Document>, StoreError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Bson::Document(doc)) => Ok(Some(doc)),
            Some(other) => Err(self.corrupt(field, format!("expected a document, got {other}"))),
        }
    }
}

/// A notification record from its document; `Corrupt` when a field cannot be read.
pub(super) fn notification_from_document(doc: &Document) -> Result<Notification, StoreError> {
    let r = Reader {
        doc,
        what: "notification",
    };
    let channel: Channel = r.parse("channel", Channel::parse)?;
    let recipient = r.parse("to", |raw| match channel {
        Channel::Email => EmailAddress::parse(raw).map(Recipient::Email),
        Channel::Sms => PhoneNumber::parse_e164(raw).map(Recipient::Sms),
    })?;
    let body = match r.opt_doc("body")? {
        None => None,
        Some(body) => {
            let b = Reader {
                doc: body,
                what: "notification body",
            };
            Some(RenderedMessage {
                subject: b.opt_string("subject")?,
                text: b.str("text")?.to_owned(),
                html: b.opt_string("html")?,
            })
        }
    };
    let body_withheld = r.bool("body_withheld")?;
    Ok(Notification {
        id: r.parse("_id", NotificationId::parse)?,
        tenant_id: r.parse("tenant_id", TenantId::parse)?,
        kind: r.parse("kind", NotificationKind::parse)?,
        channel,
        recipient,
        locale: r.parse("locale", Locale::parse)?,
        mode: r.parse("mode", parse_mode)?,
        status: r.parse("status", Status::parse)?,
        attempts: r.u32("attempts")?,
        provider: r.opt_string("provider")?,
        provider_message_id: r.opt_string("provider_message_id")?,
        last_error: r.opt_string("last_error")?,
        idempotency_key: r
            .opt_str("idempotency_key")?
            .map(|raw| IdempotencyKey::parse(raw).map_err(|e| r.corrupt("idempotency_key", e)))
            .transpose()?,
        fingerprint: r
            .opt_string("fingerprint")?
            .map(RequestFingerprint::from_stored),
        body: if body_withheld { None } else { body },
        body_withheld,
        occurred_at: r.date("occurred_at")?,
        updated_at: r.date("updated_at")?,
        next_attempt_at: r.opt_date("next_attempt_at")?,
        sent_at: r.opt_date("sent_at")?,
    })
}

fn parse_mode(raw: &str) -> Result<Mode, String> {
    match raw {
        "sync" => Ok(Mode::Sync),
        "async" => Ok(Mode::Async),
        other => Err(format!("unknown mode {other:?}")),
    }
}

/// The document of a dead letter (`_id` = the notification id).
pub(super) fn dead_letter_to_document(letter: &DeadLetter) -> Document {
    let mut doc = Document::new();
    doc.insert("_id", letter.notification_id.to_string());
    doc.insert("tenant_id", letter.tenant_id.as_str());
    doc.insert("kind", letter.kind.as_str());
    doc.insert("channel", letter.channel.as_str());
    doc.insert("recipient_masked", letter.recipient_masked.as_str());
    doc.insert("attempts", i64::from(letter.attempts));
    doc.insert("last_error", letter.last_error.as_str());
    doc.insert("sensitive", letter.sensitive);
    doc.insert("failed_at", date(letter.failed_at));
    doc
}

/// A dead letter from its document; `Corrupt` when a field cannot be read.
pub(super) fn dead_letter_from_document(doc: &Document) -> Result<DeadLetter, StoreError> {
    let r = Reader {
        doc,
        what: "dead letter",
    };
    Ok(DeadLetter {
        notification_id: r.parse("_id", NotificationId::parse)?,
        tenant_id: r.parse("tenant_id", TenantId::parse)?,
        kind: r.parse("kind", NotificationKind::parse)?,
        channel: r.parse("channel", Channel::parse)?,
        recipient_masked: r.str("recipient_masked")?.to_owned(),
        attempts: r.u32("attempts")?,
        last_error: r.opt_string("last_error")?.unwrap_or_default(),
        sensitive: r.bool("sensitive")?,
        failed_at: r.date("failed_at")?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use domain::Locale;

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::milliseconds(1_714_521_600_000 + ms)
    }

    fn record() -> Notification {
        Notification {
            id: NotificationId::from_parts(1_714_521_600_000, 42),
            tenant_id: TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            kind: NotificationKind::TenantWelcome,
            channel: Channel::Email,
            recipient: Recipient::Email(
                EmailAddress::parse("someone@example.com").unwrap_or_else(|e| panic!("{e}")),
            ),
            locale: Locale::En,
            mode: Mode::Async,
            status: Status::Retrying,
            attempts: 2,
            provider: Some("smtp".into()),
            provider_message_id: None,
            last_error: Some("timeout".into()),
            idempotency_key: Some(IdempotencyKey::parse("k-1").unwrap_or_else(|e| panic!("{e}"))),
            fingerprint: Some(RequestFingerprint::from_stored("abc".into())),
            body: Some(RenderedMessage {
                subject: Some("Hi".into()),
                text: "Hello".into(),
                html: None,
            }),
            body_withheld: false,
            occurred_at: at(0),
            updated_at: at(1_500),
            next_attempt_at: Some(at(5_000)),
            sent_at: None,
        }
    }

    #[test]
    fn a_record_round_trips_through_its_document() {
        let record = record();
        let doc = notification_to_document(&record);
        assert!(!doc.contains_key("provider_message_id"), "None is left out");
        assert_eq!(notification_from_document(&doc).ok(), Some(record));
    }

    #[test]
    fn a_withheld_body_is_never_written() {
        let mut record = record();
        record.body_withheld = true;
        let doc = notification_to_document(&record);
        assert!(!doc.contains_key("body"));
        let back = notification_from_document(&doc).ok();
        assert_eq!(back.and_then(|r| r.body), None);
    }

    #[test]
    fn a_record_without_idempotency_key_has_no_such_field() {
        let mut record = record();
        record.idempotency_key = None;
        assert!(!notification_to_document(&record).contains_key("idempotency_key"));
    }

    #[test]
    fn an_unreadable_document_is_corrupt() {
        let mut doc = notification_to_document(&record());
        doc.insert("status", "lost");
        assert!(matches!(
            notification_from_document(&doc),
            Err(StoreError::Corrupt(message)) if message.contains("status")
        ));
    }

    #[test]
    fn a_status_update_unsets_what_it_clears() {
        let update = StatusUpdate {
            status: Status::Sent,
            attempts: 3,
            provider: Some("ses".into()),
            provider_message_id: None,
            last_error: None,
            next_attempt_at: None,
            sent_at: Some(at(9)),
            updated_at: at(9),
        };
        let doc = status_update_document(&update);
        let unset = doc.get_document("$unset").ok().cloned().unwrap_or_default();
        let mut keys: Vec<_> = unset.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["last_error", "next_attempt_at", "provider_message_id"]
        );
    }
}
