//! Bearer API keys: each key maps to a tenant (and may be an admin). With no keys
//! configured, authentication is off and every request acts for `Auth.DefaultTenant`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use domain::TenantId;
use secrecy::{ExposeSecret, SecretString};

use super::error::{ApiError, ErrorCode};
use super::HttpState;

/// Who is calling: the tenant every read and write is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    /// May list and replay the dead letters of every tenant.
    pub admin: bool,
}

/// The configured keys.
pub struct ApiKeys {
    keys: Vec<(SecretString, TenantId, bool)>,
    default_tenant: TenantId,
}

impl ApiKeys {
    pub fn new(keys: Vec<(SecretString, TenantId, bool)>, default_tenant: TenantId) -> Self {
        Self {
            keys,
            default_tenant,
        }
    }

    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The caller named by an `Authorization` header.
    pub fn authenticate(&self, header: Option<&HeaderValue>) -> Result<Caller, ApiError> {
        if !self.enabled() {
            return Ok(Caller {
                tenant: self.default_tenant.clone(),
                admin: false,
            });
        }
        let Some(header) = header else {
            return Err(unauthorized(
                "missing API key; send the header Authorization: Bearer <key>",
            ));
        };
        let Some(presented) = bearer_token(header.as_bytes()) else {
            return Err(unauthorized(
                "the Authorization header must be of the form: Bearer <key>",
            ));
        };
        // Every key is compared, in constant time, whatever matched before.
        let mut found: Option<&(SecretString, TenantId, bool)> = None;
        for entry in &self.keys {
            if constant_time_eq(entry.0.expose_secret().as_bytes(), presented) && found.is_none() {
                found = Some(entry);
            }
        }
        match found {
            Some((_, tenant, admin)) => Ok(Caller {
                tenant: tenant.clone(),
                admin: *admin,
            }),
            None => Err(unauthorized("unknown API key")),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// The token of `Bearer <token>` (scheme matched without regard to case).
fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let scheme = header.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header.get(7..)?.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let caller = state.keys.authenticate(parts.headers.get(AUTHORIZATION))?;
        tracing::Span::current().record("tenant_id", caller.tenant.as_str());
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ApiKeys {
        ApiKeys::new(
            vec![
                (
                    SecretString::from("key-of-acme-0123456789"),
                    TenantId::parse("acme").unwrap(),
                    false,
                ),
                (
                    SecretString::from("key-of-ops-0123456789"),
                    TenantId::parse("ops").unwrap(),
                    true,
                ),
            ],
            TenantId::parse("default").unwrap(),
        )
    }

    fn header(raw: &str) -> HeaderValue {
        HeaderValue::from_str(raw).unwrap()
    }

    #[test]
    fn a_known_key_names_its_tenant() {
        let caller = keys()
            .authenticate(Some(&header("Bearer key-of-ops-0123456789")))
            .unwrap();
        assert_eq!(caller.tenant.as_str(), "ops");
        assert!(caller.admin);
        let caller = keys()
            .authenticate(Some(&header("bearer key-of-acme-0123456789")))
            .unwrap();
        assert_eq!(caller.tenant.as_str(), "acme");
        assert!(!caller.admin);
    }

    #[test]
    fn a_missing_malformed_or_unknown_key_is_refused() {
        for raw in [
            None,
            Some("key-of-acme-0123456789"),
            Some("Basic a2V5"),
            Some("Bearer "),
            Some("Bearer key-of-acme-012345678"),
            Some("Bearer key-of-acme-01234567890"),
        ] {
            let value = raw.map(header);
            let err = keys().authenticate(value.as_ref()).unwrap_err();
            assert_eq!(err.code, ErrorCode::Unauthorized, "{raw:?}");
        }
    }

    #[test]
    fn without_keys_every_request_is_the_default_tenant() {
        let keys = ApiKeys::new(Vec::new(), TenantId::parse("default").unwrap());
        let caller = keys.authenticate(None).unwrap();
        assert_eq!(caller.tenant.as_str(), "default");
        assert!(!caller.admin);
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
