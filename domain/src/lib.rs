//! Pure types and rules of the notification service.
//!
//! Nothing here does I/O or needs an async runtime. Values are parsed once at the edge
//! ("parse, don't validate"): once an [`EmailAddress`], [`PhoneNumber`], [`TenantId`] or
//! [`IdempotencyKey`] exists it is valid, and every parse error names the field it was for.

mod error;
mod ids;
mod kind;
mod notification;
mod quota;
mod recipient;
mod retry;
mod status;

pub use error::ValidationError;
pub use ids::{IdempotencyKey, NotificationId, TenantId};
pub use kind::{Channel, Locale, NotificationKind};
pub use notification::{DeadLetter, Mode, Notification, RenderedMessage, RequestFingerprint};
pub use quota::{QuotaRule, QuotaScope};
pub use recipient::{mask_email, mask_phone, EmailAddress, PhoneNumber, Recipient, Region};
pub use retry::{RetryDecision, RetryPolicy};
pub use status::{Status, TransitionError};
