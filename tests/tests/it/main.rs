//! Integration tests: one binary, so the suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_path;
mod http;
mod memory_contract;
