//! Stub providers (design §7): [`MockEmailSender`] and [`MockSmsSender`] send nothing. Each
//! logs `[notification mock email]` / `[notification mock sms]` with what it would have sent
//! (masked recipient, never a sensitive body), keeps the message for tests, and can be told
//! at run time to succeed or fail, transiently or for good.

mod email;
mod sms;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use application::ports::{EmailMessage, Receipt, SendError, SmsMessage};

/// The stub email provider.
pub type MockEmailSender = MockSender<EmailMessage>;
/// The stub SMS provider.
pub type MockSmsSender = MockSender<SmsMessage>;

/// How many attempts a mock keeps by default; older ones are dropped first.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

/// What a mock does with one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockOutcome {
    /// Accepts the message.
    Sent,
    /// Fails with a retryable error.
    Retryable,
    /// Fails with a permanent error.
    Permanent,
}

impl MockOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            MockOutcome::Sent => "sent",
            MockOutcome::Retryable => "retryable",
            MockOutcome::Permanent => "permanent",
        }
    }
}

/// One message a mock was asked to send, and what it answered.
#[derive(Clone)]
pub struct MockAttempt<M> {
    pub message: M,
    pub result: Result<Receipt, SendError>,
}

impl<M> MockAttempt<M> {
    pub fn outcome(&self) -> MockOutcome {
        match &self.result {
            Ok(_) => MockOutcome::Sent,
            Err(err) if err.is_retryable() => MockOutcome::Retryable,
            Err(_) => MockOutcome::Permanent,
        }
    }
}

/// Shows the outcome only: the message holds the recipient and the body.
impl<M> fmt::Debug for MockAttempt<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAttempt")
            .field("outcome", &self.outcome())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Behaviour {
    Succeed,
    /// Fails retryably this many more times, then succeeds.
    FailTransiently(u32),
    FailAlwaysTransiently,
    FailPermanently,
    /// Plays these outcomes in order, then succeeds.
    Script(VecDeque<MockOutcome>),
}

impl Behaviour {
    /// The outcome of the next send, advancing counters and scripts.
    fn next(&mut self) -> MockOutcome {
        match self {
            Behaviour::Succeed => MockOutcome::Sent,
            Behaviour::FailTransiently(left) => {
                if *left == 0 {
                    *self = Behaviour::Succeed;
                    MockOutcome::Sent
                } else {
                    *left -= 1;
                    MockOutcome::Retryable
                }
            }
            Behaviour::FailAlwaysTransiently => MockOutcome::Retryable,
            Behaviour::FailPermanently => MockOutcome::Permanent,
            Behaviour::Script(outcomes) => outcomes.pop_front().unwrap_or(MockOutcome::Sent),
        }
    }
}

struct State<M> {
    behaviour: Behaviour,
    history: VecDeque<MockAttempt<M>>,
    total: u64,
}

/// A stub provider for messages of type `M` ([`EmailMessage`] or [`SmsMessage`]): the
/// `EmailSender` / `SmsSender` implementation is [`MockEmailSender`] / [`MockSmsSender`].
///
/// It succeeds until told otherwise. Behaviour setters replace each other and act on the
/// next send; they take `&self`, so a test can keep an `Arc` of the mock it handed to the
/// service and steer it while the service runs.
pub struct MockSender<M> {
    name: String,
    priority: i32,
    history_limit: usize,
    state: Mutex<State<M>>,
}

impl<M> fmt::Debug for MockSender<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockSender")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("attempts", &self.lock().total)
            .finish()
    }
}

/// `mock`, priority 0.
impl<M> Default for MockSender<M> {
    fn default() -> Self {
        Self::new("mock", 0)
    }
}

impl<M> MockSender<M> {
    /// A mock named `name` (stored as the delivering provider, and the prefix of its
    /// provider message ids: `mock-01J…`) with the given priority (lower runs first).
    pub fn new(name: impl Into<String>, priority: i32) -> Self {
        Self {
            name: name.into(),
            priority,
            history_limit: DEFAULT_HISTORY_LIMIT,
            state: Mutex::new(State {
                behaviour: Behaviour::Succeed,
                history: VecDeque::new(),
                total: 0,
            }),
        }
    }

    /// Keeps at most `limit` attempts (default [`DEFAULT_HISTORY_LIMIT`]); `0` keeps none.
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// Every following send succeeds.
    pub fn succeed(&self) {
        self.set(Behaviour::Succeed);
    }

    /// The next `n` sends fail with a retryable error; the ones after succeed.
    pub fn fail_transiently(&self, n: u32) {
        self.set(Behaviour::FailTransiently(n));
    }

    /// Every following send fails with a retryable error.
    pub fn fail_always_transiently(&self) {
        self.set(Behaviour::FailAlwaysTransiently);
    }

    /// Every following send fails with a permanent error.
    pub fn fail_permanently(&self) {
        self.set(Behaviour::FailPermanently);
    }

    /// The following sends play `outcomes` in order; once they run out, sends succeed.
    pub fn script(&self, outcomes: impl IntoIterator<Item = MockOutcome>) {
        self.set(Behaviour::Script(outcomes.into_iter().collect()));
    }

    /// How many sends were attempted since the mock was made (not capped, not cleared).
    pub fn attempt_count(&self) -> u64 {
        self.lock().total
    }

    /// Forgets the kept attempts.
    pub fn clear(&self) {
        self.lock().history.clear();
    }

    fn set(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // The state stays consistent even if a holder panicked: each update is one step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<M: Clone> MockSender<M> {
    /// The kept attempts, oldest first (at most the history limit).
    pub fn attempts(&self) -> Vec<MockAttempt<M>> {
        self.lock().history.iter().cloned().collect()
    }

    /// The messages of the kept attempts that succeeded, oldest first.
    pub fn sent(&self) -> Vec<M> {
        self.lock()
            .history
            .iter()
            .filter(|attempt| attempt.result.is_ok())
            .map(|attempt| attempt.message.clone())
            .collect()
    }

    /// Decides the outcome of one send and records it.
    fn attempt(&self, message: &M) -> Result<Receipt, SendError> {
        let mut state = self.lock();
        state.total += 1;
        let result = match state.behaviour.next() {
            MockOutcome::Sent => Ok(Receipt {
                provider: self.name.clone(),
                provider_message_id: format!("{}-{}", self.name, ulid::Ulid::new()),
            }),
            MockOutcome::Retryable => Err(SendError::retryable(
                &self.name,
                "simulated transient failure",
            )),
            MockOutcome::Permanent => Err(SendError::permanent(
                &self.name,
                "simulated permanent failure",
            )),
        };
        if self.history_limit > 0 {
            while state.history.len() >= self.history_limit {
                state.history.pop_front();
            }
            state.history.push_back(MockAttempt {
                message: message.clone(),
                result: result.clone(),
            });
        }
        result
    }
}

/// The `outcome`, `provider_message_id` and `error` fields of a log line.
fn outcome_fields(
    result: &Result<Receipt, SendError>,
) -> (&'static str, Option<&str>, Option<&str>) {
    match result {
        Ok(receipt) => (
            MockOutcome::Sent.as_str(),
            Some(&receipt.provider_message_id),
            None,
        ),
        Err(err) if err.is_retryable() => {
            (MockOutcome::Retryable.as_str(), None, Some(&err.message))
        }
        Err(err) => (MockOutcome::Permanent.as_str(), None, Some(&err.message)),
    }
}
