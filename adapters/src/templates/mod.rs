//! Message templates per kind, channel and locale, rendered with minijinja (design §8).
//!
//! The templates are compiled into the binary (`adapters/templates/{locale}/
//! {kind}.{channel}.{part}.j2`). An optional override folder laid out the same way replaces
//! single files; anything it does not hold comes from the embedded set. Every locale must
//! have every template its kinds need: there is no silent fallback to another locale, and
//! [`MiniJinjaTemplates::new`] refuses an incomplete or broken set at start-up.
//!
//! Rendering is strict: a variable the template uses but `data` lacks is a
//! [`RenderError::MissingVariable`] naming it. Only the `html` part is HTML-escaped. Subjects
//! and SMS bodies are trimmed and must stay on one line. Block tags drop their own line
//! (`trim_blocks` and `lstrip_blocks` are on), so `{% if %}` lines leave no blank lines.

mod embedded;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use application::ports::{RenderError, TemplateRenderer};
use domain::{Channel, Locale, NotificationKind, RenderedMessage};
use minijinja::{AutoEscape, Environment, ErrorKind, Template, UndefinedBehavior, Value};

use self::embedded::{known_names, template_name, Part, EMBEDDED};

/// How deep the override folder is searched for `.j2` files.
const MAX_OVERRIDE_DEPTH: usize = 8;

/// Why the template set cannot be used. Each message names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TemplateSetError {
    /// The override folder is missing or unreadable.
    #[error("template override folder {path}: {reason}")]
    OverrideFolder { path: PathBuf, reason: String },
    /// A file in the override folder cannot be read (or is not UTF-8).
    #[error("template {path}: cannot read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// A `.j2` file in the override folder is not named after a known template.
    #[error(
        "template {path}: not a known template name; expected {{locale}}/{{kind}}.{{channel}}.{{part}}.j2 \
         (locales: {locales}; kinds: {kinds}; parts: subject, text, html for email and text for sms)"
    )]
    UnknownFile {
        path: PathBuf,
        locales: String,
        kinds: String,
    },
    /// A template does not parse.
    #[error("template {file} does not parse: {reason}")]
    Syntax { file: String, reason: String },
    /// Templates a kind needs for one of its channels in some locale are missing.
    #[error(
        "missing templates (every locale needs each part of each kind's channels): {}",
        files.join(", ")
    )]
    Missing { files: Vec<String> },
}

/// The minijinja [`TemplateRenderer`].
pub struct MiniJinjaTemplates {
    env: Environment<'static>,
    /// Where each template came from (`embedded:zh-TW/...` or the override file's path).
    origins: HashMap<String, String>,
}

impl std::fmt::Debug for MiniJinjaTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniJinjaTemplates")
            .field("templates", &self.origins.len())
            .finish()
    }
}

impl MiniJinjaTemplates {
    /// Loads the embedded templates, then the files of `override_dir` (if any) over them, and
    /// runs [`Self::check_complete`]. Fails when the override folder is missing, holds a `.j2`
    /// file with an unknown name or one that does not parse, or the set is incomplete; the
    /// error names the file.
    pub fn new(override_dir: Option<PathBuf>) -> Result<Self, TemplateSetError> {
        Self::from_sources(EMBEDDED, override_dir.as_deref())
    }

    fn from_sources(
        embedded: &[(&str, &str)],
        override_dir: Option<&Path>,
    ) -> Result<Self, TemplateSetError> {
        // name -> (origin, source); an override replaces the embedded template of its name.
        let mut sources: BTreeMap<String, (String, String)> = embedded
            .iter()
            .map(|(name, source)| {
                (
                    (*name).to_owned(),
                    (format!("embedded:{name}"), (*source).to_owned()),
                )
            })
            .collect();
        if let Some(dir) = override_dir {
            for (name, path, source) in read_overrides(dir)? {
                sources.insert(name, (path.display().to_string(), source));
            }
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Debug info would copy the render context (codes, links) into errors.
        env.set_debug(false);

        let mut origins = HashMap::with_capacity(sources.len());
        for (name, (origin, source)) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|err| TemplateSetError::Syntax {
                    file: origin.clone(),
                    reason: err.to_string(),
                })?;
            origins.insert(name, origin);
        }

        let templates = Self { env, origins };
        templates.check_complete()?;
        Ok(templates)
    }

    /// Checks that every kind has every required part (subject and text for email, text for
    /// SMS) for each of its channels in every locale, and that each template parses.
    pub fn check_complete(&self) -> Result<(), TemplateSetError> {
        let mut missing = Vec::new();
        for (name, required) in known_names() {
            match self.env.get_template(&name) {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::TemplateNotFound => {
                    if required {
                        missing.push(name);
                    }
                }
                Err(err) => {
                    return Err(TemplateSetError::Syntax {
                        file: self.origin(&name).to_owned(),
                        reason: err.to_string(),
                    })
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(TemplateSetError::Missing { files: missing })
        }
    }

    fn origin<'a>(&'a self, name: &'a str) -> &'a str {
        self.origins.get(name).map_or(name, String::as_str)
    }

    /// The template of a part, or `None` when there is none.
    fn template(
        &self,
        kind: NotificationKind,
        channel: Channel,
        locale: Locale,
        part: Part,
    ) -> Result<Option<Template<'_, '_>>, RenderError> {
        let name = template_name(locale, kind, channel, part);
        match self.env.get_template(&name) {
            Ok(template) => Ok(Some(template)),
            Err(err) if err.kind() == ErrorKind::TemplateNotFound => Ok(None),
            Err(err) => Err(RenderError::Broken {
                name: self.origin(&name).to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    /// Renders a required part.
    fn render_required(
        &self,
        part: Part,
        request: &Request<'_>,
    ) -> Result<(Template<'_, '_>, String), RenderError> {
        let template = self
            .template(request.kind, request.channel, request.locale, part)?
            .ok_or(RenderError::NoTemplate {
                kind: request.kind,
                channel: request.channel,
                locale: request.locale,
            })?;
        let output = self.render_template(&template, request)?;
        Ok((template, output))
    }

    /// Renders a required part that must be one line (a subject, an SMS body).
    fn render_line(&self, part: Part, request: &Request<'_>) -> Result<String, RenderError> {
        let (template, output) = self.render_required(part, request)?;
        if output.contains(['\r', '\n']) {
            let field = line_break_source(&template, request.fields)
                .unwrap_or_else(|| part.as_str().to_owned());
            let what = match request.channel {
                Channel::Email => "an email subject",
                Channel::Sms => "an SMS body",
            };
            return Err(RenderError::Invalid {
                field,
                reason: format!("contains a line break (CR or LF), which {what} cannot hold"),
            });
        }
        Ok(output)
    }

    fn render_template(
        &self,
        template: &Template<'_, '_>,
        request: &Request<'_>,
    ) -> Result<String, RenderError> {
        match template.render(&request.context) {
            Ok(output) => Ok(output.trim().to_owned()),
            Err(err) if err.kind() == ErrorKind::UndefinedError => {
                Err(RenderError::MissingVariable {
                    kind: request.kind,
                    variable: missing_variable(template, &err, request.fields),
                })
            }
            Err(err) => Err(RenderError::Broken {
                name: self.origin(template.name()).to_owned(),
                reason: err.to_string(),
            }),
        }
    }
}

/// One render call's arguments.
struct Request<'a> {
    kind: NotificationKind,
    channel: Channel,
    locale: Locale,
    fields: &'a serde_json::Map<String, serde_json::Value>,
    context: Value,
}

impl TemplateRenderer for MiniJinjaTemplates {
    fn render(
        &self,
        kind: NotificationKind,
        channel: Channel,
        locale: Locale,
        data: &serde_json::Value,
    ) -> Result<RenderedMessage, RenderError> {
        let Some(fields) = data.as_object() else {
            return Err(RenderError::Invalid {
                field: "data".to_owned(),
                reason: "must be a JSON object".to_owned(),
            });
        };
        if !kind.supports(channel) {
            return Err(RenderError::NoTemplate {
                kind,
                channel,
                locale,
            });
        }
        let request = Request {
            kind,
            channel,
            locale,
            fields,
            // A null value counts as not given: it would render as `none`.
            context: fields
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key.as_str(), Value::from_serialize(value)))
                .collect(),
        };
        match channel {
            Channel::Email => {
                let subject = self.render_line(Part::Subject, &request)?;
                let (_, text) = self.render_required(Part::Text, &request)?;
                let html = match self.template(kind, channel, locale, Part::Html)? {
                    Some(template) => Some(self.render_template(&template, &request)?),
                    None => None,
                };
                Ok(RenderedMessage {
                    subject: Some(subject),
                    text,
                    html,
                })
            }
            Channel::Sms => Ok(RenderedMessage {
                subject: None,
                text: self.render_line(Part::Text, &request)?,
                html: None,
            }),
        }
    }
}

/// Names the variable behind an undefined-value error: a top-level variable the template
/// uses and `data` lacks or holds null (preferring one in the failing expression), else a nested path
/// (`user.name`) that `data` lacks, else the failing expression itself.
fn missing_variable(
    template: &Template<'_, '_>,
    err: &minijinja::Error,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let expression = err
        .range()
        .and_then(|range| template.source().get(range))
        .map(str::trim);
    let in_expression = |name: &str| {
        expression.is_some_and(|expr| {
            expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                .any(|token| token == name || token.starts_with(&format!("{name}.")))
        })
    };
    let pick = |candidates: BTreeSet<String>| {
        candidates
            .iter()
            .find(|name| in_expression(name))
            .or_else(|| candidates.iter().next())
            .cloned()
    };

    let top: BTreeSet<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| lookup_path(fields, name).is_none())
        .collect();
    if let Some(name) = pick(top) {
        return name;
    }
    let nested: BTreeSet<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|path| lookup_path(fields, path).is_none())
        .collect();
    if let Some(path) = pick(nested) {
        return path;
    }
    expression
        .filter(|expr| !expr.is_empty())
        .map_or_else(|| "unknown".to_owned(), str::to_owned)
}

fn lookup_path<'a>(
    fields: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    let mut parts = path.split('.');
    let mut value = fields.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    (!value.is_null()).then_some(value)
}

/// The `data.…` path of a value the template uses that holds CR or LF, if any.
fn line_break_source(
    template: &Template<'_, '_>,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let used: BTreeSet<String> = template.undeclared_variables(false).into_iter().collect();
    used.iter().find_map(|name| {
        let value = fields.get(name)?;
        find_line_break(value, format!("data.{name}"))
    })
}

fn find_line_break(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains(['\r', '\n']).then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_line_break(item, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| find_line_break(item, format!("{path}.{key}"))),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => None,
    }
}

/// Reads every `.j2` file of the override folder as `(template name, path, source)`.
fn read_overrides(dir: &Path) -> Result<Vec<(String, PathBuf, String)>, TemplateSetError> {
    let folder_error = |reason: String| TemplateSetError::OverrideFolder {
        path: dir.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(dir).map_err(|err| folder_error(err.to_string()))?;
    if !meta.is_dir() {
        return Err(folder_error("not a directory".to_owned()));
    }

    let known: BTreeSet<String> = known_names().map(|(name, _)| name).collect();
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_owned(), 0usize)];
    while let Some((current, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|err| TemplateSetError::Unreadable {
            path: current.clone(),
            reason: err.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|err| TemplateSetError::Unreadable {
                path: current.clone(),
                reason: err.to_string(),
            })?;
            // Hidden entries are skipped (editor files, Kubernetes' `..data` links).
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Follows symbolic links, as mounted config folders use them.
            let meta = std::fs::metadata(&path).map_err(|err| TemplateSetError::Unreadable {
                path: path.clone(),
                reason: err.to_string(),
            })?;
            if meta.is_dir() {
                if depth < MAX_OVERRIDE_DEPTH {
                    pending.push((path, depth + 1));
                }
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "j2") {
                continue;
            }
            let Some(name) = relative_name(dir, &path).filter(|name| known.contains(name)) else {
                return Err(TemplateSetError::UnknownFile {
                    path,
                    locales: Locale::ALL.map(Locale::as_str).join(", "),
                    kinds: NotificationKind::ALL
                        .map(NotificationKind::as_str)
                        .join(", "),
                });
            };
            let source =
                std::fs::read_to_string(&path).map_err(|err| TemplateSetError::Unreadable {
                    path: path.clone(),
                    reason: err.to_string(),
                })?;
            found.push((name, path, source));
        }
    }
    Ok(found)
}

/// `zh-TW/otp.sms.text.j2` for `{dir}/zh-TW/otp.sms.text.j2`.
fn relative_name(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
    Some(parts?.join("/"))
}
