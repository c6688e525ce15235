//! MongoDB in the service: the stores `Mongo.Enable` asks for, `notify mongo-index`, and the
//! start-up check that warns about missing indexes.
//!
//! `Mongo.Uri` may hold a password: it is never logged or printed, and error messages have
//! it replaced by `****`.

use std::process::ExitCode;
use std::sync::Arc;

use application::ports::{DeadLetterStore, NotificationStore};

use crate::compose::StartupError;
use crate::config::MongoConfig;

/// The notification and dead-letter stores on MongoDB, after checking that the server
/// answers.
#[cfg(feature = "mongo")]
pub async fn stores(
    config: &MongoConfig,
) -> Result<(Arc<dyn NotificationStore>, Arc<dyn DeadLetterStore>), StartupError> {
    use adapters::mongo::{MongoDeadLetterStore, MongoNotificationStore};
    let db = connect(config).await?;
    Ok((
        Arc::new(MongoNotificationStore::new(&db)),
        Arc::new(MongoDeadLetterStore::new(&db)),
    ))
}

/// Without the `mongo` feature there are no MongoDB stores.
#[cfg(not(feature = "mongo"))]
pub async fn stores(
    _config: &MongoConfig,
) -> Result<(Arc<dyn NotificationStore>, Arc<dyn DeadLetterStore>), StartupError> {
    Err(not_built())
}

#[cfg(not(feature = "mongo"))]
fn not_built() -> StartupError {
    StartupError::Backend {
        key: "Mongo.Enable".into(),
        reason: "this build has no MongoDB adapters; build with the `mongo` feature".into(),
    }
}

#[cfg(feature = "mongo")]
async fn connect(config: &MongoConfig) -> Result<adapters::mongo::Database, StartupError> {
    adapters::mongo::connect(&config.uri, &config.database)
        .await
        .map_err(|err| StartupError::Backend {
            key: "Mongo.Uri".into(),
            reason: format!("cannot reach MongoDB: {err}"),
        })
}

/// `notify mongo-index`: creates the indexes the stores need on `Mongo.Uri` /
/// `Mongo.Database` (whether or not `Mongo.Enable` is set), leaves existing ones alone and
/// prints one line per index.
#[cfg(feature = "mongo")]
pub async fn index_command(config: &MongoConfig) -> anyhow::Result<ExitCode> {
    use adapters::mongo::{ensure_indexes, IndexOutcome};
    let db = connect(config).await?;
    println!("mongo-index database={}", config.database);
    let done = ensure_indexes(&db)
        .await
        .map_err(|err| anyhow::anyhow!("Mongo.Uri: {err}"))?;
    for (spec, outcome) in &done {
        let what = match outcome {
            IndexOutcome::Created => "created".to_owned(),
            IndexOutcome::Present { name } if name == spec.name => "present".to_owned(),
            IndexOutcome::Present { name } => format!("present(as {name})"),
        };
        println!(
            "{what} {}.{} keys={} unique={} ({})",
            spec.collection,
            spec.name,
            keys_text(spec.keys),
            spec.unique,
            spec.purpose
        );
    }
    println!("OK");
    Ok(ExitCode::SUCCESS)
}

/// Without the `mongo` feature there is nothing to index.
#[cfg(not(feature = "mongo"))]
pub async fn index_command(_config: &MongoConfig) -> anyhow::Result<ExitCode> {
    Err(not_built().into())
}

#[cfg(feature = "mongo")]
fn keys_text(keys: &[(&str, i32)]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|(field, direction)| format!("{field}:{direction}"))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// At `serve` start-up: logs a warning for each index the stores need that the database
/// lacks (or that it could not check). Never fails the start.
#[cfg(feature = "mongo")]
pub async fn warn_missing_indexes(config: &MongoConfig) {
    let db = match connect(config).await {
        Ok(db) => db,
        Err(err) => {
            tracing::warn!(error = %err, "cannot check MongoDB indexes");
            return;
        }
    };
    match adapters::mongo::missing_indexes(&db).await {
        Ok(missing) => {
            for spec in missing {
                tracing::warn!(
                    collection = spec.collection,
                    index = spec.name,
                    keys = %keys_text(spec.keys),
                    purpose = spec.purpose,
                    "MongoDB index missing; run `notify mongo-index` (or `make mongo-index`)"
                );
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot check MongoDB indexes"),
    }
}

/// Without the `mongo` feature there is nothing to check.
#[cfg(not(feature = "mongo"))]
pub async fn warn_missing_indexes(_config: &MongoConfig) {}

/// `uri` with its password (if any) replaced by `****`, for printing.
pub fn redact_uri_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:****@{hosts}{tail}"),
            None => uri.to_owned(),
        },
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_password_is_never_printed() {
        assert_eq!(
            redact_uri_password("mongodb://app:p%40ss@db1,db2/?replicaSet=rs0"),
            "mongodb://app:****@db1,db2/?replicaSet=rs0"
        );
        assert_eq!(
            redact_uri_password("mongodb://127.0.0.1:27017/?directConnection=true"),
            "mongodb://127.0.0.1:27017/?directConnection=true"
        );
    }
}
