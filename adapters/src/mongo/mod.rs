//! The MongoDB adapters (cargo feature `mongo`): [`MongoNotificationStore`] over the
//! `notifications` collection and [`MongoDeadLetterStore`] over `notification_dlq`, both in
//! one database (`Mongo.Database`), plus the indexes they rely on ([`indexes`]).
//!
//! Documents are written and read field by field ([`mapping`]), so the stored shape is
//! what `docs/model.md` describes and does not move with a serde derive. Driver errors are
//! translated here once: a duplicate key (server code 11000, whatever its name) becomes
//! [`StoreError::Conflict`], a document this version cannot read becomes
//! [`StoreError::Corrupt`], everything else [`StoreError::Unavailable`].

mod dead_letter_store;
pub mod indexes;
mod mapping;
mod notification_store;

use std::time::Duration;

use application::ports::StoreError;
use mongodb::bson::doc;
use mongodb::error::{Error as DriverError, ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::Client;

pub use dead_letter_store::MongoDeadLetterStore;
pub use indexes::{ensure_indexes, missing_indexes, IndexOutcome, IndexSpec, INDEXES};
/// The driver's database handle, for callers that build the stores.
pub use mongodb::Database;
pub use notification_store::MongoNotificationStore;

/// The collection of notification records.
pub const NOTIFICATIONS: &str = "notifications";
/// The collection of dead letters.
pub const DEAD_LETTERS: &str = "notification_dlq";

/// The server code of a duplicate-key write.
const DUPLICATE_KEY: i32 = 11000;
/// The server code of a command on a collection that does not exist.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// How long an operation waits for a usable server when the URI does not say
/// (`serverSelectionTimeoutMS`). The driver's own default (30 s) holds workers too long.
const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `uri`, checks that the server answers (`ping`) and returns `database`.
///
/// Error messages never contain the URI's password.
pub async fn connect(uri: &str, database: &str) -> Result<Database, StoreError> {
    let redact = |err: DriverError| StoreError::Unavailable(redact_password(uri, &err.to_string()));
    let mut options = ClientOptions::parse(uri).await.map_err(redact)?;
    if options.server_selection_timeout.is_none() {
        options.server_selection_timeout = Some(DEFAULT_SERVER_SELECTION_TIMEOUT);
    }
    if options.app_name.is_none() {
        options.app_name = Some("notify".into());
    }
    let client = Client::with_options(options).map_err(redact)?;
    let db = client.database(database);
    db.run_command(doc! { "ping": 1 }).await.map_err(redact)?;
    Ok(db)
}

/// `text` with the password of `uri` (if it has one) replaced by `****`.
pub fn redact_password(uri: &str, text: &str) -> String {
    match uri_password(uri) {
        Some(password) if !password.is_empty() => text.replace(password, "****"),
        _ => text.to_owned(),
    }
}

/// The password part of `scheme://user:password@hosts/...`, if any.
fn uri_password(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, password)| password)
}

/// Whether the error is a duplicate-key write (code 11000; the name may be empty).
fn is_duplicate_key(err: &DriverError) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(insert) => insert
            .write_errors
            .iter()
            .flatten()
            .any(|write| write.code == DUPLICATE_KEY),
        _ => false,
    }
}

/// Whether the error says the collection does not exist (yet).
fn is_namespace_not_found(err: &DriverError) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Command(command) if command.code == NAMESPACE_NOT_FOUND)
}

/// Translates a driver error that is not a duplicate key.
fn unavailable(what: &str, err: DriverError) -> StoreError {
    match err.kind.as_ref() {
        ErrorKind::BsonDeserialization(_) => StoreError::Corrupt(format!("{what}: {err}")),
        _ => StoreError::Unavailable(format!("{what}: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_uri_is_redacted() {
        let uri = "mongodb://gateway:s3cr%40t@db1:27017,db2:27017/?replicaSet=rs0";
        assert_eq!(uri_password(uri), Some("s3cr%40t"));
        assert_eq!(
            redact_password(uri, &format!("cannot connect to {uri}")),
            "cannot connect to mongodb://gateway:****@db1:27017,db2:27017/?replicaSet=rs0"
        );
    }

    #[test]
    fn a_uri_without_password_is_left_alone() {
        assert_eq!(
            uri_password("mongodb://127.0.0.1:27017/?directConnection=true"),
            None
        );
        assert_eq!(uri_password("mongodb://user@host/"), None);
        assert_eq!(redact_password("mongodb://h/", "boom"), "boom");
    }
}
