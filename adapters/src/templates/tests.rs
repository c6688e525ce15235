use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::{json, Value as Json};

use super::*;

fn templates() -> MiniJinjaTemplates {
    MiniJinjaTemplates::new(None).expect("the embedded templates are complete")
}

fn sample(kind: NotificationKind) -> Json {
    match kind {
        NotificationKind::TenantWelcome => json!({
            "tenant_name": "Acme 股份有限公司",
            "login_url": "https://app.example.com/login?t=acme",
        }),
        NotificationKind::Otp => json!({"code": "482913", "ttl_minutes": 5}),
        NotificationKind::PasswordReset => json!({
            "reset_url": "https://app.example.com/reset?token=s3cr3t",
            "ttl_minutes": 30,
        }),
        NotificationKind::MemberInvite => json!({
            "inviter_name": "王小明",
            "tenant_name": "Acme",
            "accept_url": "https://app.example.com/invite/abc",
        }),
    }
}

fn write(dir: &Path, name: &str, source: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, source).unwrap();
}

#[test]
fn every_kind_renders_on_each_of_its_channels_in_every_locale() {
    let templates = templates();
    for locale in Locale::ALL {
        for kind in NotificationKind::ALL {
            let data = sample(kind);
            for &channel in kind.channels() {
                let message = templates
                    .render(kind, channel, locale, &data)
                    .unwrap_or_else(|err| panic!("{kind} {channel} {locale}: {err}"));
                for value in data.as_object().unwrap().values() {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    assert!(
                        message.text.contains(&value),
                        "{kind} {channel} {locale}: text lacks {value}"
                    );
                }
                assert!(!message.text.contains("{{"));
                match channel {
                    Channel::Email => {
                        let subject = message.subject.as_deref().unwrap();
                        assert!(!subject.is_empty());
                        assert_eq!(subject, subject.trim());
                        assert!(message.html.as_deref().unwrap().contains("<html"));
                    }
                    Channel::Sms => {
                        assert_eq!(message.subject, None);
                        assert_eq!(message.html, None);
                        assert!(!message.text.contains('\n'));
                    }
                }
            }
        }
    }
}

#[test]
fn zh_tw_and_en_differ_and_en_pluralises_minutes() {
    let templates = templates();
    let zh = templates
        .render(
            NotificationKind::Otp,
            Channel::Sms,
            Locale::ZhTw,
            &sample(NotificationKind::Otp),
        )
        .unwrap();
    assert_eq!(
        zh.text,
        "您的驗證碼為 482913，5 分鐘內有效。請勿將驗證碼提供給任何人。"
    );
    let one = templates
        .render(
            NotificationKind::Otp,
            Channel::Sms,
            Locale::En,
            &json!({"code": "1", "ttl_minutes": 1}),
        )
        .unwrap();
    assert!(one.text.contains("expires in 1 minute."), "{}", one.text);
}

#[test]
fn a_missing_variable_is_named() {
    let templates = templates();
    let err = templates
        .render(
            NotificationKind::Otp,
            Channel::Sms,
            Locale::ZhTw,
            &json!({"ttl_minutes": 5}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingVariable {
            kind: NotificationKind::Otp,
            variable: "code".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "data.code: required by the otp template but not given"
    );

    // The subject renders, the text body needs the link.
    let err = templates
        .render(
            NotificationKind::TenantWelcome,
            Channel::Email,
            Locale::En,
            &json!({"tenant_name": "Acme"}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingVariable {
            kind: NotificationKind::TenantWelcome,
            variable: "login_url".into()
        }
    );
}

#[test]
fn a_null_value_counts_as_missing() {
    let templates = templates();
    let mut data = sample(NotificationKind::MemberInvite);
    data["inviter_name"] = Json::Null;
    let err = templates
        .render(
            NotificationKind::MemberInvite,
            Channel::Email,
            Locale::En,
            &data,
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingVariable {
            kind: NotificationKind::MemberInvite,
            variable: "inviter_name".into()
        }
    );
}

#[test]
fn the_variable_of_the_failing_expression_is_named_first() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "en/member_invite.email.subject.j2",
        "{{ tenant_name }}: {{ inviter_name }} invited you",
    );
    write(
        dir.path(),
        "en/member_invite.email.text.j2",
        "{{ user.name }} {{ accept_url }}",
    );
    let templates = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap();

    let err = templates
        .render(
            NotificationKind::MemberInvite,
            Channel::Email,
            Locale::En,
            &json!({}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingVariable {
            kind: NotificationKind::MemberInvite,
            variable: "tenant_name".into()
        }
    );

    // A nested attribute the data lacks is named by its path.
    let err = templates
        .render(
            NotificationKind::MemberInvite,
            Channel::Email,
            Locale::En,
            &json!({"tenant_name": "A", "inviter_name": "B", "accept_url": "u", "user": {}}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingVariable {
            kind: NotificationKind::MemberInvite,
            variable: "user.name".into()
        }
    );
}

#[test]
fn html_is_escaped_in_the_html_part_only() {
    let templates = templates();
    let data = json!({
        "tenant_name": "<script>alert(1)</script>",
        "login_url": "https://app.example.com/login?a=1&b=\"2\"",
    });
    for locale in Locale::ALL {
        let message = templates
            .render(
                NotificationKind::TenantWelcome,
                Channel::Email,
                locale,
                &data,
            )
            .unwrap();
        let html = message.html.unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("a=1&amp;b=&quot;2&quot;"), "{html}");
        assert!(message.text.contains("<script>alert(1)</script>"));
        assert!(message.text.contains("a=1&b=\"2\""));
        assert!(message
            .subject
            .unwrap()
            .contains("<script>alert(1)</script>"));
    }
}

#[test]
fn a_line_break_in_a_subject_variable_is_refused_naming_the_variable() {
    let templates = templates();
    for bad in ["Acme\r\nBcc: victim@example.com", "Acme\nX", "Acme\rX"] {
        let err = templates
            .render(
                NotificationKind::TenantWelcome,
                Channel::Email,
                Locale::ZhTw,
                &json!({"tenant_name": bad, "login_url": "https://x.example"}),
            )
            .unwrap_err();
        let RenderError::Invalid { field, reason } = err else {
            panic!("expected Invalid, got {err:?}");
        };
        assert_eq!(field, "data.tenant_name");
        assert!(reason.contains("line break"), "{reason}");
    }

    // A line break in a body-only variable of an email is fine.
    templates
        .render(
            NotificationKind::TenantWelcome,
            Channel::Email,
            Locale::En,
            &json!({"tenant_name": "Acme", "login_url": "https://x.example\n"}),
        )
        .unwrap();
}

#[test]
fn a_line_break_in_an_sms_body_is_refused() {
    let templates = templates();
    let err = templates
        .render(
            NotificationKind::Otp,
            Channel::Sms,
            Locale::En,
            &json!({"code": "12\n34", "ttl_minutes": 5}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::Invalid { field, .. } if field == "data.code"),
        "{err:?}"
    );

    // A line break the template itself writes names the part.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "en/otp.sms.text.j2",
        "Code:\n{{ code }} ({{ ttl_minutes }})\n",
    );
    let templates = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap();
    let err = templates
        .render(
            NotificationKind::Otp,
            Channel::Sms,
            Locale::En,
            &json!({"code": "1234", "ttl_minutes": 5}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::Invalid { field, .. } if field == "text"),
        "{err:?}"
    );
}

#[test]
fn subjects_and_sms_bodies_are_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "en/otp.email.subject.j2", "   Your code  \n\n");
    write(
        dir.path(),
        "en/otp.sms.text.j2",
        "\n  {{ code }} {{ ttl_minutes }}  \n",
    );
    let templates = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap();
    let data = json!({"code": "1234", "ttl_minutes": 5});
    let email = templates
        .render(NotificationKind::Otp, Channel::Email, Locale::En, &data)
        .unwrap();
    assert_eq!(email.subject.as_deref(), Some("Your code"));
    let sms = templates
        .render(NotificationKind::Otp, Channel::Sms, Locale::En, &data)
        .unwrap();
    assert_eq!(sms.text, "1234 5");
}

#[test]
fn data_must_be_an_object() {
    let templates = templates();
    for data in [Json::Null, json!([1]), json!("code"), json!(5)] {
        let err = templates
            .render(NotificationKind::Otp, Channel::Sms, Locale::En, &data)
            .unwrap_err();
        assert!(
            matches!(&err, RenderError::Invalid { field, .. } if field == "data"),
            "{err:?}"
        );
    }
}

#[test]
fn a_channel_the_kind_does_not_use_has_no_template() {
    let err = templates()
        .render(
            NotificationKind::MemberInvite,
            Channel::Sms,
            Locale::En,
            &sample(NotificationKind::MemberInvite),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RenderError::NoTemplate {
            kind: NotificationKind::MemberInvite,
            channel: Channel::Sms,
            locale: Locale::En
        }
    );
}

#[test]
fn an_override_file_wins_and_the_rest_comes_from_the_embedded_set() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "en/otp.sms.text.j2",
        "ACME code {{ code }}, {{ ttl_minutes }} min",
    );
    write(dir.path(), "README.md", "not a template, ignored");
    write(dir.path(), ".hidden/x.j2", "hidden entries are ignored");
    let templates = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap();
    let data = sample(NotificationKind::Otp);

    let en = templates
        .render(NotificationKind::Otp, Channel::Sms, Locale::En, &data)
        .unwrap();
    assert_eq!(en.text, "ACME code 482913, 5 min");
    let zh = templates
        .render(NotificationKind::Otp, Channel::Sms, Locale::ZhTw, &data)
        .unwrap();
    assert!(zh.text.starts_with("您的驗證碼為 482913"));
    let email = templates
        .render(NotificationKind::Otp, Channel::Email, Locale::En, &data)
        .unwrap();
    assert_eq!(email.subject.as_deref(), Some("Your verification code"));
}

#[test]
fn a_broken_override_fails_at_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "zh-TW/otp.email.text.j2", "驗證碼 {{ code ");
    let err = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap_err();
    assert!(matches!(err, TemplateSetError::Syntax { .. }), "{err:?}");
    let message = err.to_string();
    let file = dir.path().join("zh-TW/otp.email.text.j2");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[test]
fn an_unknown_override_file_fails_at_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "en/tenant_welcom.email.subject.j2", "Hi");
    let err = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("tenant_welcom.email.subject.j2"),
        "{message}"
    );
    assert!(message.contains("tenant_welcome"), "{message}");

    // A part the channel does not have, and a locale that does not exist.
    for name in [
        "en/otp.sms.subject.j2",
        "fr/otp.sms.text.j2",
        "otp.sms.text.j2",
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), name, "x");
        let err = MiniJinjaTemplates::new(Some(dir.path().to_owned())).unwrap_err();
        assert!(
            matches!(err, TemplateSetError::UnknownFile { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn a_missing_override_folder_fails_at_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = MiniJinjaTemplates::new(Some(missing.clone())).unwrap_err();
    assert!(matches!(err, TemplateSetError::OverrideFolder { .. }));
    assert!(err.to_string().contains(&missing.display().to_string()));
}

#[test]
fn a_locale_without_a_template_fails_at_start_up_instead_of_falling_back() {
    let incomplete: Vec<(&str, &str)> = EMBEDDED
        .iter()
        .copied()
        .filter(|(name, _)| *name != "en/otp.sms.text.j2" && *name != "en/otp.email.subject.j2")
        .collect();
    let err = MiniJinjaTemplates::from_sources(&incomplete, None).unwrap_err();
    let TemplateSetError::Missing { files } = &err else {
        panic!("expected Missing, got {err:?}");
    };
    assert_eq!(files, &["en/otp.email.subject.j2", "en/otp.sms.text.j2"]);
    assert!(err.to_string().contains("en/otp.sms.text.j2"));

    // The html part is optional: without it the email has no html.
    let no_html: Vec<(&str, &str)> = EMBEDDED
        .iter()
        .copied()
        .filter(|(name, _)| *name != "en/otp.email.html.j2")
        .collect();
    let templates = MiniJinjaTemplates::from_sources(&no_html, None).unwrap();
    let message = templates
        .render(
            NotificationKind::Otp,
            Channel::Email,
            Locale::En,
            &sample(NotificationKind::Otp),
        )
        .unwrap();
    assert_eq!(message.html, None);
}

#[test]
fn the_embedded_table_lists_exactly_the_template_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut on_disk = BTreeSet::new();
    for locale in fs::read_dir(&root).unwrap() {
        let locale = locale.unwrap();
        for file in fs::read_dir(locale.path()).unwrap() {
            let file = file.unwrap();
            on_disk.insert(format!(
                "{}/{}",
                locale.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            ));
        }
    }
    let embedded: BTreeSet<String> = EMBEDDED
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(embedded, on_disk);
    let known: BTreeSet<String> = known_names().map(|(name, _)| name).collect();
    assert!(
        embedded.is_subset(&known),
        "{:?}",
        embedded.difference(&known)
    );
}

#[test]
fn every_locale_uses_the_same_variables_for_a_kind() {
    let templates = templates();
    for kind in NotificationKind::ALL {
        for &channel in kind.channels() {
            for &(part, _) in Part::of(channel) {
                let variables = |locale| {
                    let name = template_name(locale, kind, channel, part);
                    let mut vars: Vec<String> = templates
                        .env
                        .get_template(&name)
                        .unwrap()
                        .undeclared_variables(true)
                        .into_iter()
                        .collect();
                    vars.sort();
                    vars
                };
                assert_eq!(
                    variables(Locale::ZhTw),
                    variables(Locale::En),
                    "{kind} {channel} {}",
                    part.as_str()
                );
            }
        }
    }
}
