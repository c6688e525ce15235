//! Configuration and the composition root of the notification service.
