//! Builds the provider chains from configuration: which senders exist is decided by the
//! `Enable` flags, their order by `Sort`.

use std::sync::Arc;

use adapters::{MockEmailSender, MockSmsSender};
use application::ports::{EmailSender, SmsSender};

use crate::compose::{MockHandles, Overrides, StartupError};
use crate::config::{Checked, Config};

/// Messages a mock provider remembers (for tests and the CLI); older ones are dropped.
const MOCK_HISTORY: usize = 1_000;

/// The senders of each channel, and handles on the mocks among them.
pub struct Senders {
    pub email: Vec<Arc<dyn EmailSender>>,
    pub sms: Vec<Arc<dyn SmsSender>>,
    pub mocks: MockHandles,
}

/// With `force_mock`, only the mock providers, whatever the configuration enables.
pub async fn build_senders(
    config: &Config,
    _checked: &Checked,
    overrides: &Overrides,
) -> Result<Senders, StartupError> {
    let mut senders = Senders {
        email: Vec::new(),
        sms: Vec::new(),
        mocks: MockHandles::default(),
    };
    if overrides.force_mock || config.email.mock.enable {
        let mock = Arc::new(
            MockEmailSender::new("mock", config.email.mock.sort).with_history_limit(MOCK_HISTORY),
        );
        senders.mocks.email = Some(mock.clone());
        senders.email.push(mock);
    }
    if overrides.force_mock || config.sms.mock.enable {
        let mock = Arc::new(
            MockSmsSender::new("mock", config.sms.mock.sort).with_history_limit(MOCK_HISTORY),
        );
        senders.mocks.sms = Some(mock.clone());
        senders.sms.push(mock);
    }
    if overrides.force_mock {
        return Ok(senders);
    }
    // Real providers are added here, each behind its cargo feature and `Enable` flag.
    Ok(senders)
}
