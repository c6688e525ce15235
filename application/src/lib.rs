//! Ports and use cases of the notification service.

pub mod ports;
