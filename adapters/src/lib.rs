//! Implementations of the ports of `application`.
//!
//! Always built: the in-memory adapters (the embedded default), the mock providers and the
//! minijinja templates. Heavy backends sit behind cargo features.

pub mod memory;
pub mod mock;
pub mod system;
pub mod templates;

#[cfg(any(feature = "ses", feature = "sns"))]
pub mod aws;
#[cfg(feature = "mongo")]
pub mod mongo;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "smtp")]
pub mod smtp;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "twilio")]
pub mod twilio;

pub use memory::{
    MemoryDeadLetterStore, MemoryIdempotencyStore, MemoryNotificationStore, MemoryQuotaStore,
    MemoryRetryQueue, MemorySensitiveBodyStore,
};
pub use mock::{MockAttempt, MockEmailSender, MockOutcome, MockSender, MockSmsSender};
pub use system::{SystemClock, UlidGenerator};
pub use templates::{MiniJinjaTemplates, TemplateSetError};
