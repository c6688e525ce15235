//! Contract suites (one per port) and the harness that starts real servers for tests.
//!
//! Everything here is test code: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod contract;
pub mod fixtures;
pub mod harness;
pub mod scenarios;
pub mod world;
