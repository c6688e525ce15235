//! Configuration: built-in defaults, then a YAML file, then `NOTIFY__...` environment
//! variables, deserialised into [`Config`] (unknown keys rejected) and checked by
//! [`Config::validate`], whose errors name the key.
//!
//! Keys are written as in the YAML (`Email.SMTP.Enable`). An environment variable names a
//! key by its path with `__` between segments, matched without regard to case or `_`:
//! `NOTIFY__EMAIL__FROM`, `NOTIFY__NOTIFICATION__ASYNC__MAX_RETRY`. A list is given
//! comma-separated: `NOTIFY__NOTIFICATION__ASYNC__BACKOFF_SECONDS=1,5,30`.

mod providers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::{
    Channel, EmailAddress, Locale, NotificationKind, QuotaRule, QuotaScope, Region, RetryPolicy,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use providers::{SesConfig, SmtpConfig, SnsConfig, TwilioConfig};

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "NOTIFY";

/// A configuration that could not be loaded or is invalid. `key` names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read configuration: {0}")]
    Load(String),
}

impl ConfigError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl From<domain::ValidationError> for ConfigError {
    fn from(err: domain::ValidationError) -> Self {
        ConfigError::invalid(err.field, err.reason)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub notification: NotificationConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub redis: RedisConfig,
    pub mongo: MongoConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the gateway listens on.
    pub addr: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter (`info`, `notify=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer API keys, each mapped to a tenant. Empty: no authentication, every request
    /// acts for `DefaultTenant` (the embedded default; `serve` warns).
    pub api_keys: Vec<ApiKeyConfig>,
    /// The tenant of unauthenticated requests and of CLI commands without `--tenant`.
    pub default_tenant: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ApiKeyConfig {
    #[serde(serialize_with = "serialize_secret")]
    pub key: SecretString,
    pub tenant: String,
    /// May list and replay dead letters of every tenant.
    #[serde(default)]
    pub admin: bool,
}

fn serialize_secret<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("********")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct NotificationConfig {
    pub default_locale: String,
    /// ISO 3166-1 region of phone numbers written without a country code.
    pub default_region: String,
    pub idempotency: IdempotencyConfig,
    pub quotas: Vec<QuotaConfig>,
    pub templates: TemplatesConfig,
    /// The longest one provider call may take; must be shorter than the lease.
    pub provider_timeout_ms: u64,
    #[serde(rename = "Async")]
    pub async_: AsyncConfig,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            default_locale: "zh-TW".into(),
            default_region: "TW".into(),
            idempotency: IdempotencyConfig::default(),
            quotas: Vec::new(),
            templates: TemplatesConfig::default(),
            provider_timeout_ms: 10_000,
            async_: AsyncConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    pub ttl_seconds: u64,
    pub lock_ttl_seconds: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl_seconds: 86_400,
            lock_ttl_seconds: 120,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct QuotaConfig {
    /// `recipient` or `tenant`.
    pub scope: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Kinds the rule counts; empty: all kinds.
    #[serde(default)]
    pub kinds: Vec<String>,
    pub limit: u64,
    pub window_seconds: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct TemplatesConfig {
    /// A folder whose templates override the embedded ones; empty: none.
    pub override_dir: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct AsyncConfig {
    /// The Redis sorted set of the retry schedule.
    pub queue_redis_key: String,
    /// Sends in flight at once per process.
    pub worker: usize,
    /// Worker tasks per process claiming from the queue.
    pub workers: usize,
    pub batch_size: usize,
    pub lease_seconds: u64,
    pub poll_interval_ms: u64,
    pub max_retry: u32,
    pub backoff_seconds: Vec<u64>,
    /// Up to this fraction of each backoff is added at random.
    pub jitter: f64,
    pub reconcile: ReconcileConfig,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            queue_redis_key: "notif:retry:zset".into(),
            worker: 8,
            workers: 1,
            batch_size: 100,
            lease_seconds: 30,
            poll_interval_ms: 1_000,
            max_retry: 5,
            backoff_seconds: vec![1, 5, 30, 300, 1800],
            jitter: 0.0,
            reconcile: ReconcileConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct ReconcileConfig {
    pub enable: bool,
    pub interval_seconds: u64,
    pub grace_seconds: u64,
    pub batch: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            enable: true,
            interval_seconds: 30,
            grace_seconds: 60,
            batch: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Sender address; required.
    pub from: String,
    /// Sender display name.
    pub from_name: String,
    pub mock: MockProviderConfig,
    #[serde(rename = "SMTP")]
    pub smtp: SmtpConfig,
    #[serde(rename = "SES")]
    pub ses: SesConfig,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            from: "noreply@example.com".into(),
            from_name: String::new(),
            mock: MockProviderConfig::default(),
            smtp: SmtpConfig::default(),
            ses: SesConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SmsConfig {
    pub mock: MockProviderConfig,
    pub twilio: TwilioConfig,
    #[serde(rename = "SNS")]
    pub sns: SnsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct MockProviderConfig {
    pub enable: bool,
    /// Priority in the chain: lower runs first.
    pub sort: i32,
}

impl Default for MockProviderConfig {
    fn default() -> Self {
        Self {
            enable: true,
            sort: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Use Redis for the retry queue, idempotency locks, quotas and sensitive bodies.
    pub enable: bool,
    /// `redis://[:password@]host:port[/db]`; the password is never logged.
    pub url: String,
    /// Prefix of every Redis key but the queue's (`Notification.Async.QueueRedisKey`):
    /// idempotency locks, quota counters, sensitive bodies and the wake-up signal.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            enable: false,
            url: String::new(),
            key_prefix: "notif:".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct MongoConfig {
    /// Use MongoDB for notifications and dead letters.
    pub enable: bool,
    pub uri: String,
    pub database: String,
}

impl Default for MongoConfig {
    fn default() -> Self {
        Self {
            enable: false,
            uri: "mongodb://127.0.0.1:27017/?directConnection=true".into(),
            database: "gateway".into(),
        }
    }
}

/// The checked, typed form of the settings the use cases need.
#[derive(Debug, Clone)]
pub struct Checked {
    pub default_locale: Locale,
    pub default_region: Region,
    pub retry: RetryPolicy,
    pub quotas: Vec<QuotaRule>,
    pub from: EmailAddress,
    pub default_tenant: domain::TenantId,
    pub api_keys: Vec<(SecretString, domain::TenantId, bool)>,
    pub lease: Duration,
    pub provider_timeout: Duration,
    pub template_dir: Option<PathBuf>,
}

impl Config {
    /// Defaults, then `path` (when given), then `NOTIFY__*` variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let defaults = serde_json::to_value(Config::default())
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            &serde_json::to_string(&defaults).map_err(|e| ConfigError::Load(e.to_string()))?,
            config::FileFormat::Yaml, // JSON is YAML
        ));
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Load(format!("{}: {e}", path.display())))?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Yaml));
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(&format!("{ENV_PREFIX}__")) else {
                continue;
            };
            let (key, value) = env_override(&defaults, rest, &raw)
                .map_err(|reason| ConfigError::invalid(name.clone(), reason))?;
            builder = builder
                .set_override(key, value)
                .map_err(|e| ConfigError::Load(e.to_string()))?;
        }
        let built = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        built
            .try_deserialize::<Config>()
            .map_err(|e| ConfigError::Load(e.to_string()))
    }

    /// Checks every rule that crosses fields, with errors that name the key.
    pub fn validate(&self) -> Result<Checked, ConfigError> {
        let n = &self.notification;
        let default_locale = Locale::parse(&n.default_locale)
            .map_err(|e| ConfigError::invalid("Notification.DefaultLocale", e.reason))?;
        let default_region = Region::parse(&n.default_region)
            .map_err(|e| ConfigError::invalid("Notification.DefaultRegion", e.reason))?;
        let a = &n.async_;
        let retry = RetryPolicy::new(
            a.max_retry,
            a.backoff_seconds
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            a.jitter,
        )?;
        if a.worker == 0 {
            return Err(ConfigError::invalid(
                "Notification.Async.Worker",
                "must be at least 1",
            ));
        }
        if a.workers == 0 {
            return Err(ConfigError::invalid(
                "Notification.Async.Workers",
                "must be at least 1",
            ));
        }
        if a.batch_size == 0 {
            return Err(ConfigError::invalid(
                "Notification.Async.BatchSize",
                "must be at least 1",
            ));
        }
        if a.lease_seconds == 0 {
            return Err(ConfigError::invalid(
                "Notification.Async.LeaseSeconds",
                "must be at least 1",
            ));
        }
        if a.queue_redis_key.trim().is_empty() {
            return Err(ConfigError::invalid(
                "Notification.Async.QueueRedisKey",
                "must not be blank",
            ));
        }
        let lease = Duration::from_secs(a.lease_seconds);
        let provider_timeout = Duration::from_millis(n.provider_timeout_ms);
        if provider_timeout.is_zero() || provider_timeout >= lease {
            return Err(ConfigError::invalid(
                "Notification.ProviderTimeoutMs",
                format!(
                    "must be above 0 and shorter than Notification.Async.LeaseSeconds ({}s), so a slow send cannot outlive its lease",
                    a.lease_seconds
                ),
            ));
        }
        let mut quotas = Vec::new();
        for (index, q) in n.quotas.iter().enumerate() {
            let key = |field: &str| format!("Notification.Quotas[{index}].{field}");
            let scope = match q.scope.as_str() {
                "recipient" => QuotaScope::Recipient,
                "tenant" => QuotaScope::Tenant,
                other => {
                    return Err(ConfigError::invalid(
                        key("Scope"),
                        format!("unknown scope {other:?}; expected recipient or tenant"),
                    ))
                }
            };
            let channel = Channel::parse(&q.channel)
                .map_err(|e| ConfigError::invalid(key("Channel"), e.reason))?;
            let kinds = q
                .kinds
                .iter()
                .map(|k| NotificationKind::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::invalid(key("Kinds"), e.reason))?;
            quotas.push(QuotaRule::new(
                index,
                scope,
                channel,
                kinds,
                q.limit,
                Duration::from_secs(q.window_seconds),
            )?);
        }
        if self.email.from.trim().is_empty() {
            return Err(ConfigError::invalid(
                "Email.From",
                "must be set to the sender address (for example noreply@example.com)",
            ));
        }
        let from = EmailAddress::parse(&self.email.from)
            .map_err(|e| ConfigError::invalid("Email.From", e.reason))?;
        if self.email.from_name.contains(['\r', '\n']) {
            return Err(ConfigError::invalid(
                "Email.FromName",
                "must not contain CR or LF",
            ));
        }
        let default_tenant_raw = if self.auth.default_tenant.is_empty() {
            "default"
        } else {
            self.auth.default_tenant.as_str()
        };
        let default_tenant = domain::TenantId::parse(default_tenant_raw)
            .map_err(|e| ConfigError::invalid("Auth.DefaultTenant", e.reason))?;
        let mut api_keys = Vec::new();
        for (index, k) in self.auth.api_keys.iter().enumerate() {
            use secrecy::ExposeSecret;
            if k.key.expose_secret().len() < 16 {
                return Err(ConfigError::invalid(
                    format!("Auth.ApiKeys[{index}].Key"),
                    "must be at least 16 characters",
                ));
            }
            let tenant = domain::TenantId::parse(&k.tenant).map_err(|e| {
                ConfigError::invalid(format!("Auth.ApiKeys[{index}].Tenant"), e.reason)
            })?;
            api_keys.push((k.key.clone(), tenant, k.admin));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid("Log.Format", "must be text or json"));
        }
        if self.redis.enable && self.redis.url.trim().is_empty() {
            return Err(ConfigError::invalid(
                "Redis.Url",
                "must be set when Redis.Enable is true",
            ));
        }
        if self.mongo.enable {
            if self.mongo.uri.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "Mongo.Uri",
                    "must be set when Mongo.Enable is true",
                ));
            }
            if self.mongo.database.trim().is_empty() {
                return Err(ConfigError::invalid("Mongo.Database", "must not be blank"));
            }
        }
        let template_dir = match n.templates.override_dir.trim() {
            "" => None,
            dir => Some(PathBuf::from(dir)),
        };
        Ok(Checked {
            default_locale,
            default_region,
            retry,
            quotas,
            from,
            default_tenant,
            api_keys,
            lease,
            provider_timeout,
            template_dir,
        })
    }
}

/// Maps `EMAIL__SMTP__ENABLE=true` to (`Email.SMTP.Enable`, true) using the key names and
/// value types of the defaults.
fn env_override(
    defaults: &serde_json::Value,
    rest: &str,
    raw: &str,
) -> Result<(String, config::Value), String> {
    let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let mut node = defaults;
    let mut path = Vec::new();
    for segment in rest.split("__") {
        let serde_json::Value::Object(map) = node else {
            return Err(format!("no key {segment:?} under {}", path.join(".")));
        };
        let Some((name, child)) = map.iter().find(|(k, _)| norm(k) == norm(segment)) else {
            return Err("not a configuration key".to_owned());
        };
        path.push(name.clone());
        node = child;
    }
    let value: config::Value = match node {
        serde_json::Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true.into(),
            "false" | "0" | "no" => false.into(),
            _ => return Err(format!("{raw:?} is not true or false")),
        },
        serde_json::Value::Number(n) if n.is_f64() => raw
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{raw:?} is not a number"))?
            .into(),
        serde_json::Value::Number(_) => raw
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{raw:?} is not a whole number"))?
            .into(),
        serde_json::Value::Array(items) => {
            let numeric =
                items.first().is_none_or(serde_json::Value::is_number) && !items.is_empty();
            let parts = raw.split(',').map(str::trim).filter(|s| !s.is_empty());
            if numeric {
                parts
                    .map(|p| p.parse::<i64>().map(config::Value::from))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("{raw:?} is not a comma-separated list of numbers"))?
                    .into()
            } else {
                return Err(
                    "a list of tables cannot be set from the environment; use the YAML file".into(),
                );
            }
        }
        serde_json::Value::Object(_) => return Err("names a section, not a key".to_owned()),
        serde_json::Value::String(_) | serde_json::Value::Null => raw.to_owned().into(),
    };
    Ok((path.join("."), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(yaml: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, yaml.as_bytes()).unwrap();
        file
    }

    #[test]
    fn every_example_config_loads_and_validates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let config = Config::load(Some(&path), [])
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                config
                    .validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 1, "no example config in {}", dir.display());
    }

    /// Every key path of a value (tables walked, anything else a leaf).
    fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        if let serde_json::Value::Object(map) = value {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match child {
                    serde_json::Value::Object(inner) if !inner.is_empty() => {
                        key_paths(child, &path, out)
                    }
                    _ => out.push(path),
                }
            }
        }
    }

    #[test]
    fn the_example_config_documents_every_key() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/gateway.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let file = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Yaml))
            .build()
            .unwrap()
            .try_deserialize::<serde_json::Value>()
            .unwrap();
        let mut documented = Vec::new();
        key_paths(&file, "", &mut documented);
        let mut known = Vec::new();
        key_paths(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut known,
        );
        let missing: Vec<_> = known.iter().filter(|k| !documented.contains(k)).collect();
        assert!(missing.is_empty(), "etc/gateway.yaml lacks {missing:?}");
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load(None, []).unwrap();
        let checked = config.validate().unwrap();
        assert_eq!(checked.retry.max_retry(), 5);
        assert_eq!(
            config.notification.async_.queue_redis_key,
            "notif:retry:zset"
        );
    }

    #[test]
    fn yaml_keys_keep_the_seeds_names() {
        let file = write(
            "Notification:\n  Async:\n    QueueRedisKey: q:test\n    Worker: 3\n    MaxRetry: 2\n    BackoffSeconds: [2, 4]\nEmail:\n  From: team@acme.test\n",
        );
        let config = Config::load(Some(file.path()), []).unwrap();
        assert_eq!(config.notification.async_.queue_redis_key, "q:test");
        assert_eq!(config.notification.async_.worker, 3);
        assert_eq!(config.notification.async_.backoff_seconds, vec![2, 4]);
        assert_eq!(config.email.from, "team@acme.test");
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = write("Email:\n  From: team@acme.test\n");
        let env = [
            ("NOTIFY__EMAIL__FROM".to_owned(), "ops@acme.test".to_owned()),
            (
                "NOTIFY__NOTIFICATION__ASYNC__MAX_RETRY".to_owned(),
                "7".to_owned(),
            ),
            (
                "NOTIFY__NOTIFICATION__ASYNC__BACKOFFSECONDS".to_owned(),
                "1, 2,3".to_owned(),
            ),
            ("NOTIFY__EMAIL__MOCK__ENABLE".to_owned(), "false".to_owned()),
            ("OTHER__EMAIL__FROM".to_owned(), "ignored".to_owned()),
        ];
        let config = Config::load(Some(file.path()), env).unwrap();
        assert_eq!(config.email.from, "ops@acme.test");
        assert_eq!(config.notification.async_.max_retry, 7);
        assert_eq!(config.notification.async_.backoff_seconds, vec![1, 2, 3]);
        assert!(!config.email.mock.enable);
    }

    #[test]
    fn an_unknown_environment_key_is_named() {
        let env = [("NOTIFY__EMAIL__FORM".to_owned(), "x".to_owned())];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("NOTIFY__EMAIL__FORM"), "{err}");
    }

    #[test]
    fn an_unknown_file_key_is_rejected() {
        let file = write("Email:\n  Form: team@acme.test\n");
        let err = Config::load(Some(file.path()), []).unwrap_err().to_string();
        assert!(err.contains("Form"), "{err}");
    }

    #[test]
    fn a_blank_from_names_the_key() {
        let file = write("Email:\n  From: \"  \"\n");
        let err = Config::load(Some(file.path()), [])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.to_string().starts_with("Email.From:"), "{err}");
    }

    #[test]
    fn cross_field_rules_name_their_keys() {
        let cases = [
            ("Notification:\n  ProviderTimeoutMs: 40000\n", "Notification.ProviderTimeoutMs"),
            ("Notification:\n  Async:\n    BackoffSeconds: []\n", "Notification.Async.BackoffSeconds"),
            ("Notification:\n  DefaultRegion: XX\n", "Notification.DefaultRegion"),
            ("Notification:\n  DefaultLocale: fr\n", "Notification.DefaultLocale"),
            (
                "Notification:\n  Quotas:\n    - {Scope: planet, Channel: sms, Limit: 1, WindowSeconds: 60}\n",
                "Notification.Quotas[0].Scope",
            ),
            (
                "Notification:\n  Quotas:\n    - {Scope: tenant, Channel: sms, Limit: 0, WindowSeconds: 60}\n",
                "Notification.Quotas[0].Limit",
            ),
            ("Auth:\n  ApiKeys:\n    - {Key: short, Tenant: acme}\n", "Auth.ApiKeys[0].Key"),
            ("Email:\n  From: not-an-address\n", "Email.From"),
        ];
        for (yaml, key) in cases {
            let file = write(yaml);
            let err = Config::load(Some(file.path()), [])
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{key}:")), "{yaml} -> {err}");
        }
    }
}
