//! Integration tests: one binary, so the suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_path;
mod http;
mod memory_contract;
mod mongo_contract;
mod mongo_store;
mod production;
mod providers;
mod redis_async_path;
mod redis_contract;
mod redis_faults;
