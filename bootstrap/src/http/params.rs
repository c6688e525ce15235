//! Query strings and request bodies, parsed at the edge: every bad value is a 400 that
//! names the query parameter or body field at fault.

use std::collections::BTreeMap;

use application::NotificationRequest;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use domain::Mode;
use serde_json::{Map, Value};

use super::error::ApiError;

/// The header that sets a request's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// The parameters of a query string. An empty value counts as not given.
pub struct Query<'a> {
    values: BTreeMap<&'a str, &'a str>,
}

impl<'a> Query<'a> {
    /// Refuses parameters not in `allowed`, and parameters given twice.
    pub fn new(pairs: &'a [(String, String)], allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid(
                    name.clone(),
                    format!(
                        "unknown query parameter {name:?}; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if value.is_empty() {
                continue;
            }
            if values.insert(name.as_str(), value.as_str()).is_some() {
                return Err(ApiError::invalid(
                    name.clone(),
                    format!("query parameter {name:?} is given more than once"),
                ));
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).copied()
    }

    /// `limit`: a whole number from 1 to `max`; `default` when not given.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(default);
        };
        match raw.trim().parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::invalid(
                "limit",
                format!("limit: must be a whole number from 1 to {max}, not {raw:?}"),
            )),
        }
    }

    /// `since` and `until`: RFC 3339 times, `since` before `until`.
    pub fn time_range(&self) -> Result<TimeRange, ApiError> {
        let since = self
            .get("since")
            .map(|raw| time("since", raw))
            .transpose()?;
        let until = self
            .get("until")
            .map(|raw| time("until", raw))
            .transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if since >= until {
                return Err(ApiError::invalid(
                    "until",
                    "until: must be later than since",
                ));
            }
        }
        Ok(TimeRange { since, until })
    }

    /// A parameter parsed by a domain parser, whose error is reported under `name`.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, domain::ValidationError>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|raw| parse(raw.trim()).map_err(|e| ApiError::from(e.for_field(name))))
            .transpose()
    }
}

/// The `since` and `until` of a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// An RFC 3339 time. A `+` of the offset that arrived as a space (an unencoded query
/// string) is put back.
fn time(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|err| match raw.rfind(' ') {
            Some(at) if at > 10 => {
                let fixed = format!("{}+{}", &raw[..at], &raw[at + 1..]);
                DateTime::parse_from_rfc3339(&fixed)
            }
            _ => Err(err),
        })
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(
                name,
                format!(
                    "{name}: must be an RFC 3339 time such as 2024-05-01T00:00:00Z, not {raw:?}"
                ),
            )
        })
}

/// The body of `POST /v1/notifications`, parsed.
#[derive(Debug)]
pub struct CreateRequest {
    pub mode: Mode,
    pub request: NotificationRequest,
    /// The idempotency key came from the header only.
    pub key_from_header: bool,
}

/// Parses the JSON body (a [`NotificationRequest`] plus `mode`) and the `Idempotency-Key`
/// header.
pub fn create_request(headers: &HeaderMap, body: &[u8]) -> Result<CreateRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            super::error::ErrorCode::InvalidRequest,
            "the request body is empty; send a JSON object",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::new(
            super::error::ErrorCode::InvalidRequest,
            format!("malformed JSON: {err}"),
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::new(
            super::error::ErrorCode::InvalidRequest,
            "the request body must be a JSON object",
        ));
    };
    let mode = match map.remove("mode") {
        None | Some(Value::Null) => Mode::Sync,
        Some(Value::String(raw)) if raw == "sync" => Mode::Sync,
        Some(Value::String(raw)) if raw == "async" => Mode::Async,
        Some(other) => {
            return Err(ApiError::invalid(
                "mode",
                format!("mode: must be \"sync\" or \"async\", not {other}"),
            ))
        }
    };
    let mut request: NotificationRequest =
        serde_json::from_value(Value::Object(map.clone())).map_err(|err| body_error(&map, &err))?;

    let mut key_from_header = false;
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return Err(ApiError::invalid(
                IDEMPOTENCY_KEY_HEADER,
                "Idempotency-Key: give the header once",
            ));
        }
        let header = value.to_str().map_err(|_| {
            ApiError::invalid(
                IDEMPOTENCY_KEY_HEADER,
                "Idempotency-Key: must be printable ASCII",
            )
        })?;
        match &request.idempotency_key {
            Some(in_body) if in_body != header => {
                return Err(ApiError::invalid(
                    IDEMPOTENCY_KEY_HEADER,
                    "Idempotency-Key: differs from the body's idempotency_key; give one or make them equal",
                ))
            }
            Some(_) => {}
            None => {
                request.idempotency_key = Some(header.to_owned());
                key_from_header = true;
            }
        }
    }
    Ok(CreateRequest {
        mode,
        request,
        key_from_header,
    })
}

/// A 400 for a body that is JSON but not a [`NotificationRequest`], naming the field.
fn body_error(map: &Map<String, Value>, err: &serde_json::Error) -> ApiError {
    let message = err.to_string();
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let field = quoted("unknown field `")
        .or_else(|| quoted("missing field `"))
        .or_else(|| offending_field(map));
    match field {
        Some(field) if message.contains(&format!("`{field}`")) => ApiError::invalid(field, message),
        Some(field) => ApiError::invalid(field.clone(), format!("{field}: {message}")),
        None => ApiError::new(super::error::ErrorCode::InvalidRequest, message),
    }
}

/// The first field whose value alone does not deserialize (a wrong type).
fn offending_field(map: &Map<String, Value>) -> Option<String> {
    map.iter().find_map(|(name, value)| {
        let mut probe = Map::new();
        probe.insert("kind".to_owned(), Value::String(String::new()));
        probe.insert("to".to_owned(), Value::String(String::new()));
        probe.insert(name.clone(), value.clone());
        serde_json::from_value::<NotificationRequest>(Value::Object(probe))
            .is_err()
            .then(|| name.clone())
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::http::error::ErrorCode;

    fn parse(body: &Value) -> Result<CreateRequest, ApiError> {
        create_request(&HeaderMap::new(), body.to_string().as_bytes())
    }

    fn field_of(result: Result<CreateRequest, ApiError>) -> Option<String> {
        result.unwrap_err().field
    }

    #[test]
    fn mode_defaults_to_sync_and_is_taken_out() {
        let parsed = parse(&json!({"kind": "otp", "to": "a@b.test"})).unwrap();
        assert_eq!(parsed.mode, Mode::Sync);
        let parsed = parse(&json!({"kind": "otp", "to": "a@b.test", "mode": "async"})).unwrap();
        assert_eq!(parsed.mode, Mode::Async);
        assert_eq!(
            field_of(parse(&json!({"kind": "otp", "to": "x", "mode": "later"}))),
            Some("mode".into())
        );
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(
            field_of(parse(&json!({"kind": "otp", "to": "x", "colour": 1}))),
            Some("colour".into())
        );
        assert_eq!(field_of(parse(&json!({"kind": "otp"}))), Some("to".into()));
        assert_eq!(
            field_of(parse(&json!({"kind": "otp", "to": 5}))),
            Some("to".into())
        );
        assert_eq!(
            field_of(parse(
                &json!({"kind": "otp", "to": "x", "do_not_persist_body": "yes"})
            )),
            Some("do_not_persist_body".into())
        );
        let err = create_request(&HeaderMap::new(), b"{\"kind\": ").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
        let err = create_request(&HeaderMap::new(), b"[1]").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = create_request(&HeaderMap::new(), b"").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn the_idempotency_header_sets_the_key_and_must_agree_with_the_body() {
        let mut headers = HeaderMap::new();
        headers.insert(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("k-1"));
        let body = json!({"kind": "otp", "to": "a@b.test"}).to_string();
        let parsed = create_request(&headers, body.as_bytes()).unwrap();
        assert_eq!(parsed.request.idempotency_key.as_deref(), Some("k-1"));
        assert!(parsed.key_from_header);

        let same = json!({"kind": "otp", "to": "a@b.test", "idempotency_key": "k-1"}).to_string();
        let parsed = create_request(&headers, same.as_bytes()).unwrap();
        assert!(!parsed.key_from_header);

        let other = json!({"kind": "otp", "to": "a@b.test", "idempotency_key": "k-2"}).to_string();
        let err = create_request(&headers, other.as_bytes()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some(IDEMPOTENCY_KEY_HEADER));
    }

    #[test]
    fn query_parameters_are_checked() {
        let pairs = vec![
            ("limit".to_owned(), "0".to_owned()),
            ("status".to_owned(), String::new()),
        ];
        let query = Query::new(&pairs, &["limit", "status"]).unwrap();
        assert_eq!(query.get("status"), None);
        assert_eq!(
            query.limit(50, 200).unwrap_err().field.as_deref(),
            Some("limit")
        );

        let pairs = vec![("colour".to_owned(), "red".to_owned())];
        let err = Query::new(&pairs, &["limit"]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("colour"));

        let pairs = vec![
            ("since".to_owned(), "2024-05-01T00:00:00 00:00".to_owned()),
            ("until".to_owned(), "2024-05-02T00:00:00Z".to_owned()),
        ];
        let query = Query::new(&pairs, &["since", "until"]).unwrap();
        let range = query.time_range().unwrap();
        assert!(range.since.unwrap() < range.until.unwrap());

        let pairs = vec![("since".to_owned(), "yesterday".to_owned())];
        let query = Query::new(&pairs, &["since"]).unwrap();
        assert_eq!(
            query.time_range().unwrap_err().field.as_deref(),
            Some("since")
        );
    }
}
