//! Configuration, the composition root and the surfaces (HTTP gateway, CLI) of the
//! notification service.

pub mod cli;
pub mod compose;
pub mod config;
pub mod http;
pub mod mongo;
pub mod providers;
pub mod redis;
pub mod runtime;
pub mod storage;

pub use compose::{build, App, Backends, MockHandles, Overrides, StartupError};
pub use config::{Config, ConfigError};
