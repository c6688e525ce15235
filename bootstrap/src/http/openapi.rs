//! `GET /openapi.json`: the OpenAPI 3.1 description of the gateway, built once. Enums
//! (kinds, statuses, channels, locales, error codes) come from the code, so they cannot
//! drift from what the gateway accepts.

use std::sync::OnceLock;

use axum::Json;
use domain::{Channel, Locale, NotificationKind, Status};
use serde_json::{json, Value};

use super::error::ErrorCode;
use super::params::IDEMPOTENCY_KEY_HEADER;
use super::{dead_letters, notifications};

pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref(schema)) })
}

/// An error response; the codes it may carry are listed in the description.
fn error(codes: &[ErrorCode]) -> Value {
    let list: Vec<String> = codes
        .iter()
        .map(|c| format!("`{}`: {}", c.as_str(), c.describe()))
        .collect();
    json!({ "description": list.join("; "), "content": json_content(schema_ref("Error")) })
}

fn nullable(kind: &str) -> Value {
    json!({ "type": [kind, "null"] })
}

fn nullable_time() -> Value {
    json!({ "type": ["string", "null"], "format": "date-time" })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn id_path(description: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "minLength": 26, "maxLength": 26 }
    })
}

fn build() -> Value {
    use ErrorCode as E;
    let kinds: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    let locales: Vec<&str> = Locale::ALL.iter().map(|l| l.as_str()).collect();
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let time = json!({ "type": "string", "format": "date-time" });
    let since = query(
        "since",
        "Only items at or after this RFC 3339 time.",
        time.clone(),
    );
    let until = query(
        "until",
        "Only items before this RFC 3339 time.",
        time.clone(),
    );
    let kind_param = query(
        "kind",
        "Only this kind.",
        json!({ "type": "string", "enum": kinds }),
    );
    let or_null = |values: &[&str]| {
        let mut values: Vec<Value> = values.iter().map(|v| json!(v)).collect();
        values.push(Value::Null);
        values
    };
    let channel_or_null = or_null(&channels);
    let locale_or_null = or_null(&locales);

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "notify gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "One entry point for outbound Email and SMS notifications: sync (sent in the request) or async (queued for a retry worker), with idempotency keys, quotas, templates per kind and locale, and a dead-letter queue with replay. Every /v1 route is scoped to the tenant of the bearer API key; with no keys configured, authentication is off and every request acts for the default tenant."
        },
        "security": [ { "bearerAuth": [] } ],
        "paths": {
            "/v1/notifications": {
                "post": {
                    "operationId": "createNotification",
                    "summary": "Send (mode sync) or enqueue (mode async) one notification",
                    "parameters": [ {
                        "name": IDEMPOTENCY_KEY_HEADER, "in": "header", "required": false,
                        "description": "Sets idempotency_key. A repeat with the same key and request answers 200 with the original notification and sends nothing; the same key with another request is 409 idempotency_conflict. Must equal the body's idempotency_key when both are given.",
                        "schema": { "type": "string" }
                    } ],
                    "requestBody": { "required": true, "content": json_content(schema_ref("NotificationCreate")) },
                    "responses": {
                        "200": ok("Sync: sent. Or a replay of an earlier request with the same idempotency key (`replayed: true`).", "AcceptedNotification"),
                        "202": {
                            "description": "Async: accepted as pending; a worker delivers it.",
                            "headers": { "Location": { "schema": { "type": "string" }, "description": "The notification's URL." } },
                            "content": json_content(schema_ref("AcceptedNotification"))
                        },
                        "400": error(&[E::InvalidRequest]),
                        "401": error(&[E::Unauthorized]),
                        "409": error(&[E::IdempotencyConflict, E::IdempotencyInProgress]),
                        "413": error(&[E::PayloadTooLarge]),
                        "422": error(&[E::InvalidData]),
                        "429": {
                            "description": format!("`{}`: {}", E::QuotaExceeded.as_str(), E::QuotaExceeded.describe()),
                            "headers": { "Retry-After": { "schema": { "type": "integer", "minimum": 1 }, "description": "Seconds until the quota window ends." } },
                            "content": json_content(schema_ref("Error"))
                        },
                        "500": error(&[E::Internal]),
                        "502": error(&[E::DeliveryFailed]),
                        "503": error(&[E::NoProvider, E::QueueUnavailable])
                    }
                },
                "get": {
                    "operationId": "listNotifications",
                    "summary": "The tenant's notifications, newest first",
                    "parameters": [
                        query("status", "Only this status.", json!({ "type": "string", "enum": statuses })),
                        kind_param.clone(),
                        query("limit", "Items per page.", json!({ "type": "integer", "minimum": 1, "maximum": notifications::MAX_LIMIT, "default": notifications::DEFAULT_LIMIT })),
                        query("cursor", "The next_cursor of the previous page.", json!({ "type": "string" })),
                        since.clone(),
                        until.clone()
                    ],
                    "responses": {
                        "200": ok("One page.", "NotificationPage"),
                        "400": error(&[E::InvalidRequest]),
                        "401": error(&[E::Unauthorized]),
                        "500": error(&[E::Internal])
                    }
                }
            },
            "/v1/notifications/{id}": {
                "get": {
                    "operationId": "getNotification",
                    "summary": "One notification of the tenant",
                    "parameters": [ id_path("The notification id (ULID).") ],
                    "responses": {
                        "200": ok("The notification (never its body).", "NotificationView"),
                        "400": error(&[E::InvalidRequest]),
                        "401": error(&[E::Unauthorized]),
                        "404": error(&[E::NotFound]),
                        "500": error(&[E::Internal])
                    }
                }
            },
            "/v1/dead-letters": {
                "get": {
                    "operationId": "listDeadLetters",
                    "summary": "Notifications the worker gave up on, newest first: the tenant's own, or every tenant's for an admin key",
                    "parameters": [
                        kind_param,
                        query("limit", "Most items.", json!({ "type": "integer", "minimum": 1, "maximum": dead_letters::MAX_LIMIT, "default": dead_letters::DEFAULT_LIMIT })),
                        since,
                        until
                    ],
                    "responses": {
                        "200": ok("The letters.", "DeadLetterList"),
                        "400": error(&[E::InvalidRequest]),
                        "401": error(&[E::Unauthorized]),
                        "500": error(&[E::Internal])
                    }
                }
            },
            "/v1/dead-letters/{id}/replay": {
                "post": {
                    "operationId": "replayDeadLetter",
                    "summary": "Reset a failed notification to pending and schedule it now",
                    "parameters": [ id_path("The notification id of the letter.") ],
                    "responses": {
                        "202": ok("Scheduled again; the record is pending with no attempts.", "NotificationView"),
                        "400": error(&[E::InvalidRequest]),
                        "401": error(&[E::Unauthorized]),
                        "404": error(&[E::NotFound]),
                        "409": error(&[E::NotReplayable, E::StateChanged]),
                        "500": error(&[E::Internal]),
                        "503": error(&[E::QueueUnavailable])
                    }
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "The process answers",
                    "security": [],
                    "responses": { "200": ok("Always.", "Health") }
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "The backends answer a cheap probe",
                    "security": [],
                    "responses": {
                        "200": ok("Ready.", "Readiness"),
                        "503": ok("A backend failed its probe (the cause is logged).", "Readiness")
                    }
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus text exposition",
                    "security": [],
                    "responses": { "200": { "description": "Counters and gauges.", "content": { "text/plain": { "schema": { "type": "string" } } } } }
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } }
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "description": "An API key from Auth.ApiKeys; it names the tenant." }
            },
            "schemas": {
                "NotificationCreate": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind", "to"],
                    "properties": {
                        "mode": { "type": "string", "enum": ["sync", "async"], "default": "sync", "description": "sync: sent in the request; async: queued for a retry worker." },
                        "kind": { "type": "string", "enum": kinds },
                        "channel": { "type": ["string", "null"], "enum": channel_or_null, "description": "May be left out when the kind has one channel." },
                        "to": { "type": "string", "description": "An email address, or a phone number (E.164, or national in the default region)." },
                        "locale": { "type": ["string", "null"], "enum": locale_or_null, "description": "Default: Notification.DefaultLocale." },
                        "data": { "type": "object", "description": "The template's variables.", "default": {} },
                        "idempotency_key": { "type": ["string", "null"] },
                        "do_not_persist_body": { "type": "boolean", "default": false, "description": "Keep the rendered body out of the store (forced for sensitive kinds)." },
                        "send_at": { "type": ["string", "null"], "format": "date-time", "description": "Async only: not attempted before this time." }
                    }
                },
                "NotificationView": {
                    "type": "object",
                    "required": ["id", "tenant_id", "kind", "channel", "to", "locale", "mode", "status", "attempts", "body_withheld", "occurred_at", "updated_at"],
                    "properties": {
                        "id": { "type": "string" },
                        "tenant_id": { "type": "string" },
                        "kind": { "type": "string", "enum": kinds },
                        "channel": { "type": "string", "enum": channels },
                        "to": { "type": "string" },
                        "locale": { "type": "string", "enum": locales },
                        "mode": { "type": "string", "enum": ["sync", "async"] },
                        "status": { "type": "string", "enum": statuses },
                        "attempts": { "type": "integer", "minimum": 0 },
                        "provider": nullable("string"),
                        "provider_message_id": nullable("string"),
                        "last_error": nullable("string"),
                        "idempotency_key": nullable("string"),
                        "body_withheld": { "type": "boolean" },
                        "occurred_at": time,
                        "updated_at": time,
                        "next_attempt_at": nullable_time(),
                        "sent_at": nullable_time()
                    }
                },
                "AcceptedNotification": {
                    "allOf": [
                        schema_ref("NotificationView"),
                        {
                            "type": "object",
                            "required": ["replayed"],
                            "properties": { "replayed": { "type": "boolean", "description": "An earlier request with the same idempotency key: nothing was sent." } }
                        }
                    ]
                },
                "NotificationPage": {
                    "type": "object",
                    "required": ["items", "next_cursor"],
                    "properties": {
                        "items": { "type": "array", "items": schema_ref("NotificationView") },
                        "next_cursor": { "type": ["string", "null"], "description": "Pass as cursor for the next page; null on the last." }
                    }
                },
                "DeadLetterView": {
                    "type": "object",
                    "required": ["notification_id", "tenant_id", "kind", "channel", "to", "attempts", "last_error", "replayable", "failed_at"],
                    "properties": {
                        "notification_id": { "type": "string" },
                        "tenant_id": { "type": "string" },
                        "kind": { "type": "string", "enum": kinds },
                        "channel": { "type": "string", "enum": channels },
                        "to": { "type": "string", "description": "Masked." },
                        "attempts": { "type": "integer", "minimum": 0 },
                        "last_error": { "type": "string" },
                        "replayable": { "type": "boolean", "description": "False for a sensitive notification, whose body is gone." },
                        "failed_at": time
                    }
                },
                "DeadLetterList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": { "items": { "type": "array", "items": schema_ref("DeadLetterView") } }
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string", "enum": codes },
                                "message": { "type": "string" },
                                "field": { "type": "string", "description": "The request field, header or query parameter at fault (`data.<name>` for a template variable)." },
                                "notification_id": { "type": "string", "description": "The record of a quota refusal (dropped) or a failed sync delivery." }
                            }
                        }
                    }
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": { "status": { "const": "ok" } }
                },
                "Readiness": {
                    "type": "object",
                    "required": ["status", "backends", "checks"],
                    "properties": {
                        "status": { "type": "string", "enum": ["ready", "unavailable"] },
                        "backends": {
                            "type": "object",
                            "properties": {
                                "store": { "type": "string" },
                                "queue": { "type": "string" },
                                "email": { "type": "array", "items": { "type": "string" } },
                                "sms": { "type": "array", "items": { "type": "string" } }
                            }
                        },
                        "checks": {
                            "type": "object",
                            "properties": {
                                "store": { "type": "string", "enum": ["ok", "failed", "absent"] },
                                "queue": { "type": "string", "enum": ["ok", "failed", "absent"] }
                            }
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_reference_resolves() {
        let doc = build();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "missing schema {name}");
        }
    }
}
