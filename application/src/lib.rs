//! Ports and use cases of the notification service.
//!
//! An embedding service builds a [`Ports`] from the adapters it picks (the `adapters`
//! crate has in-memory ones that need no service) and calls [`Notifier::send`] or
//! [`Notifier::enqueue`]; it runs [`RetryWorker`]s and a [`Reconciler`] for the async path.
//! Nothing here does I/O or forces a backend on the embedder.

pub mod chain;
pub mod dead_letters;
pub mod dto;
pub mod error;
pub mod notifier;
pub mod ports;
pub mod reconciler;
pub mod worker;

pub use chain::ProviderChain;
pub use dead_letters::{DeadLetterAdmin, ReplayReport, NOT_REPLAYABLE};
pub use dto::{DeadLetterView, NotificationRequest, NotificationView};
pub use error::{AdminError, NotifyError};
pub use notifier::{Accepted, Notifier, Ports, Settings};
pub use reconciler::{Reconciler, ReconcilerSettings, SweepReport};
pub use worker::{JobOutcome, RetryWorker, StepReport, WorkerSettings};
