//! The templates compiled into the binary, and the naming scheme every template follows.
//!
//! A template is named `{locale}/{kind}.{channel}.{part}.j2` (the same relative path in
//! `adapters/templates/` and in an override folder). Adding a kind: its files in
//! `adapters/templates/{zh-TW,en}/`, and one line per file below; the unit tests fail when a
//! file and this table disagree.

use domain::{Channel, Locale, NotificationKind};

/// One part of a rendered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "text",
            Part::Html => "html",
        }
    }

    /// The parts a channel's message may have, and whether each is required.
    pub(crate) fn of(channel: Channel) -> &'static [(Part, bool)] {
        match channel {
            Channel::Email => &[
                (Part::Subject, true),
                (Part::Text, true),
                (Part::Html, false),
            ],
            Channel::Sms => &[(Part::Text, true)],
        }
    }
}

/// The name of a template, e.g. `zh-TW/otp.sms.text.j2`.
pub(crate) fn template_name(
    locale: Locale,
    kind: NotificationKind,
    channel: Channel,
    part: Part,
) -> String {
    format!(
        "{}/{}.{}.{}.j2",
        locale.as_str(),
        kind.as_str(),
        channel.as_str(),
        part.as_str()
    )
}

/// Every name a template may have: each locale, kind, channel of the kind and part of the
/// channel, with whether the part is required.
pub(crate) fn known_names() -> impl Iterator<Item = (String, bool)> {
    Locale::ALL.into_iter().flat_map(|locale| {
        NotificationKind::ALL.into_iter().flat_map(move |kind| {
            kind.channels().iter().flat_map(move |&channel| {
                Part::of(channel).iter().map(move |&(part, required)| {
                    (template_name(locale, kind, channel, part), required)
                })
            })
        })
    })
}

macro_rules! embed {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $name)),
        )
    };
}

/// `(name, source)` of every embedded template.
pub(crate) const EMBEDDED: &[(&str, &str)] = &[
    embed!("zh-TW/tenant_welcome.email.subject.j2"),
    embed!("zh-TW/tenant_welcome.email.text.j2"),
    embed!("zh-TW/tenant_welcome.email.html.j2"),
    embed!("zh-TW/otp.email.subject.j2"),
    embed!("zh-TW/otp.email.text.j2"),
    embed!("zh-TW/otp.email.html.j2"),
    embed!("zh-TW/otp.sms.text.j2"),
    embed!("zh-TW/password_reset.email.subject.j2"),
    embed!("zh-TW/password_reset.email.text.j2"),
    embed!("zh-TW/password_reset.email.html.j2"),
    embed!("zh-TW/member_invite.email.subject.j2"),
    embed!("zh-TW/member_invite.email.text.j2"),
    embed!("zh-TW/member_invite.email.html.j2"),
    embed!("en/tenant_welcome.email.subject.j2"),
    embed!("en/tenant_welcome.email.text.j2"),
    embed!("en/tenant_welcome.email.html.j2"),
    embed!("en/otp.email.subject.j2"),
    embed!("en/otp.email.text.j2"),
    embed!("en/otp.email.html.j2"),
    embed!("en/otp.sms.text.j2"),
    embed!("en/password_reset.email.subject.j2"),
    embed!("en/password_reset.email.text.j2"),
    embed!("en/password_reset.email.html.j2"),
    embed!("en/member_invite.email.subject.j2"),
    embed!("en/member_invite.email.text.j2"),
    embed!("en/member_invite.email.html.j2"),
];
