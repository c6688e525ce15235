//! The gateway's counters and their Prometheus text form (exposition format 0.0.4),
//! written by hand: requests by route, method and status; notifications accepted by mode
//! and channel; idempotent replays; and the retry queue's depth, read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::http::Method;
use domain::{Channel, Mode};

/// The counters, shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route pattern, method, status) -> count.
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    /// [mode][channel], in the order of [`MODES`] and [`Channel::ALL`].
    accepted: [[AtomicU64; 2]; 2],
    replayed: AtomicU64,
}

const MODES: [Mode; 2] = [Mode::Sync, Mode::Async];

impl Metrics {
    /// Counts one answered request. `route` is the matched route pattern (never the raw
    /// path, which would let clients make up label values).
    pub fn record_request(&self, route: &str, method: &Method, status: u16) {
        let method = known_method(method);
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests
            .entry((route.to_owned(), method, status))
            .or_insert(0) += 1;
    }

    /// Counts a notification accepted for delivery (not a replay).
    pub fn record_accepted(&self, mode: Mode, channel: Channel) {
        let m = MODES.iter().position(|x| *x == mode);
        let c = Channel::ALL.iter().position(|x| *x == channel);
        if let Some(counter) = m
            .and_then(|m| self.accepted.get(m))
            .zip(c)
            .and_then(|(row, c)| row.get(c))
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request answered with an earlier notification (same idempotency key).
    pub fn record_replay(&self) {
        self.replayed.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text; `queue_depth` is `None` when there is no queue or it could
    /// not be read.
    pub fn render(&self, queue_depth: Option<u64>) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP notify_http_requests_total HTTP requests answered, by route, method and status.\n\
             # TYPE notify_http_requests_total counter\n",
        );
        {
            let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            for ((route, method, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "notify_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP notify_notifications_accepted_total Notifications accepted, by mode and channel (replays not counted).\n\
             # TYPE notify_notifications_accepted_total counter\n",
        );
        for (mode, row) in MODES.iter().zip(&self.accepted) {
            for (channel, counter) in Channel::ALL.iter().zip(row) {
                let _ = writeln!(
                    out,
                    "notify_notifications_accepted_total{{mode=\"{}\",channel=\"{}\"}} {}",
                    mode.as_str(),
                    channel.as_str(),
                    counter.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP notify_notifications_replayed_total Requests answered with an earlier notification of the same idempotency key.\n\
             # TYPE notify_notifications_replayed_total counter\n",
        );
        let _ = writeln!(
            out,
            "notify_notifications_replayed_total {}",
            self.replayed.load(Ordering::Relaxed)
        );
        if let Some(depth) = queue_depth {
            out.push_str(
                "# HELP notify_queue_depth Notifications in the retry queue (due, scheduled or claimed).\n\
                 # TYPE notify_queue_depth gauge\n",
            );
            let _ = writeln!(out, "notify_queue_depth {depth}");
        }
        out
    }
}

/// The method as a label: one of the standard ones, or `OTHER`.
fn known_method(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
}

/// Escapes a label value (backslash, double quote, line feed).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_lists_every_counter() {
        let metrics = Metrics::default();
        metrics.record_request("/v1/notifications", &Method::POST, 200);
        metrics.record_request("/v1/notifications", &Method::POST, 200);
        metrics.record_request("unmatched", &Method::from_bytes(b"BREW").unwrap(), 404);
        metrics.record_accepted(Mode::Async, Channel::Sms);
        metrics.record_replay();
        let text = metrics.render(Some(3));
        assert!(text.contains(
            "notify_http_requests_total{route=\"/v1/notifications\",method=\"POST\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "notify_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1\n"
        ));
        assert!(text
            .contains("notify_notifications_accepted_total{mode=\"async\",channel=\"sms\"} 1\n"));
        assert!(text
            .contains("notify_notifications_accepted_total{mode=\"sync\",channel=\"email\"} 0\n"));
        assert!(text.contains("notify_notifications_replayed_total 1\n"));
        assert!(text.contains("# TYPE notify_queue_depth gauge\nnotify_queue_depth 3\n"));
        assert!(!metrics.render(None).contains("notify_queue_depth"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
