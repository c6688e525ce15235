//! The `notify` command line: `serve`, `send`, `enqueue`, `dlq`, `config check`.
//!
//! Result lines go to stdout in the form the Makefile's `notify-test` prints
//! (`method=... email=... sms=...`, `notification_id=... provider=... status=...`, `OK`);
//! logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use application::ports::DeadLetterQuery;
use application::{NotificationRequest, NotifyError};
use clap::{Args, Parser, Subcommand};
use domain::{Channel, Notification, NotificationKind, Status, TenantId};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::compose::{build, App, Overrides};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "notify", version, about = "Email and SMS notification service")]
pub struct Cli {
    /// YAML configuration file; without it the built-in defaults (the embedded default:
    /// in-memory storage, mock providers) apply. `NOTIFY__*` variables override both.
    #[arg(long, short, global = true, env = "NOTIFY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP gateway with the retry workers and the reconciler.
    Serve {
        /// Listen address; overrides `Http.Addr`.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Send one notification now and print the result.
    Send(SendArgs),
    /// Queue one notification, run workers in this process and wait until it is sent.
    Enqueue {
        #[command(flatten)]
        send: SendArgs,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 45)]
        poll: u64,
    },
    /// Dead letters.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Create the MongoDB indexes the stores need (idempotent) and print what was done.
    MongoIndex,
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, newest first.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Replay one dead letter (by notification id), or all that match with `--all`.
    Replay {
        id: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// Wait this many seconds for the replayed notification to be sent (0: do not wait).
        #[arg(long, default_value_t = 45)]
        poll: u64,
    },
    /// In one process: enqueue through a mock provider that always fails, wait for the
    /// dead letter, list it, replay it with the mock succeeding, and wait until it is sent.
    Drill(SendArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, and print the effective values.
    Check,
}

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Email recipient.
    #[arg(long, conflicts_with = "phone")]
    pub to: Option<String>,
    /// SMS recipient (E.164, or national in `Notification.DefaultRegion`).
    #[arg(long)]
    pub phone: Option<String>,
    /// Notification kind; default `tenant_welcome` for email, `otp` for SMS.
    #[arg(long)]
    pub kind: Option<String>,
    /// A template variable, `key=value`; repeat for more.
    #[arg(long = "data", value_name = "KEY=VALUE")]
    pub data: Vec<String>,
    #[arg(long)]
    pub locale: Option<String>,
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Tenant; default `Auth.DefaultTenant`.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Use the mock providers only, whatever the configuration enables.
    #[arg(long)]
    pub mock: bool,
    /// Make the mock provider fail: `transient:N` (the next N sends), `transient`
    /// (always, retryable) or `permanent`. Implies `--mock`.
    #[arg(long, value_name = "MODE")]
    pub mock_fail: Option<String>,
    /// Keep the rendered body out of the store.
    #[arg(long)]
    pub do_not_persist_body: bool,
}

impl SendArgs {
    fn channel(&self) -> anyhow::Result<Channel> {
        match (&self.to, &self.phone) {
            (Some(_), None) => Ok(Channel::Email),
            (None, Some(_)) => Ok(Channel::Sms),
            _ => bail!("give a recipient: --to EMAIL or --phone PHONE"),
        }
    }

    fn request(&self) -> anyhow::Result<NotificationRequest> {
        let channel = self.channel()?;
        let kind = match (&self.kind, channel) {
            (Some(kind), _) => kind.clone(),
            (None, Channel::Email) => NotificationKind::TenantWelcome.as_str().to_owned(),
            (None, Channel::Sms) => NotificationKind::Otp.as_str().to_owned(),
        };
        let mut data = serde_json::Map::new();
        for pair in &self.data {
            let Some((key, value)) = pair.split_once('=') else {
                bail!("--data: {pair:?} is not KEY=VALUE");
            };
            if key.trim().is_empty() {
                bail!("--data: {pair:?} has an empty key");
            }
            data.insert(
                key.trim().to_owned(),
                serde_json::Value::String(value.to_owned()),
            );
        }
        Ok(NotificationRequest {
            kind,
            channel: Some(channel.as_str().to_owned()),
            to: self
                .to
                .clone()
                .or_else(|| self.phone.clone())
                .unwrap_or_default(),
            locale: self.locale.clone(),
            data: serde_json::Value::Object(data),
            idempotency_key: self.idempotency_key.clone(),
            do_not_persist_body: self.do_not_persist_body,
            send_at: None,
        })
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            force_mock: self.mock || self.mock_fail.is_some(),
        }
    }

    fn method_line(&self, verb: &str) -> anyhow::Result<String> {
        let channel = self.channel()?;
        let email = self
            .to
            .as_deref()
            .map(domain::mask_email)
            .unwrap_or_default();
        let sms = self
            .phone
            .as_deref()
            .map(domain::mask_phone)
            .unwrap_or_default();
        Ok(format!("method={channel}-{verb} email={email} sms={sms}"))
    }
}

/// Loads the configuration the command line names (defaults, file, environment).
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    Config::load(cli.config.as_deref(), std::env::vars()).with_context(|| match &cli.config {
        Some(path) => format!("loading {}", path.display()),
        None => "loading the built-in configuration".to_owned(),
    })
}

/// Runs a parsed command line. Errors that the user can fix are printed by the caller.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { addr } => serve(config, addr).await,
        Command::Send(args) => send(config, args).await,
        Command::Enqueue { send, poll } => enqueue(config, send, poll).await,
        Command::Dlq { command } => dlq(config, command).await,
        Command::MongoIndex => crate::mongo::index_command(&config.mongo).await,
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(config),
    }
}

fn config_check(config: Config) -> anyhow::Result<ExitCode> {
    config.validate()?;
    let mut value = serde_json::to_value(&config)?;
    if let Some(uri) = value.pointer_mut("/Mongo/Uri") {
        *uri = crate::mongo::redact_uri_password(&config.mongo.uri).into();
    }
    let shown = serde_yaml_like(&value);
    println!("{shown}");
    println!("OK");
    Ok(ExitCode::SUCCESS)
}

/// Prints a JSON value as indented `Key: value` lines (secrets are already masked).
fn serde_yaml_like(value: &serde_json::Value) -> String {
    fn walk(value: &serde_json::Value, indent: usize, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    let pad = " ".repeat(indent);
                    match child {
                        serde_json::Value::Object(inner) if !inner.is_empty() => {
                            out.push_str(&format!("{pad}{key}:\n"));
                            walk(child, indent + 2, out);
                        }
                        other => out.push_str(&format!("{pad}{key}: {other}\n")),
                    }
                }
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    walk(value, 0, &mut out);
    out.trim_end().to_owned()
}

async fn serve(mut config: Config, addr: Option<String>) -> anyhow::Result<ExitCode> {
    if let Some(addr) = addr {
        config.http.addr = addr;
    }
    let app = build(config, &Overrides::default()).await?;
    announce(&app);
    if app.config.mongo.enable {
        crate::mongo::warn_missing_indexes(&app.config.mongo).await;
    }
    let listener = tokio::net::TcpListener::bind(&app.config.http.addr)
        .await
        .with_context(|| format!("Http.Addr: cannot listen on {}", app.config.http.addr))?;
    let running = crate::runtime::start(app, listener).await?;
    let cancel = running.cancel_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        cancel.cancel();
    });
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

fn announce(app: &App) {
    if app.backends.store == "memory" {
        tracing::warn!(
            "embedded default: notifications, the retry queue, idempotency keys and quotas live in memory and are lost when this process stops"
        );
    }
    if app.checked.api_keys.is_empty() {
        tracing::warn!(
            tenant = %app.checked.default_tenant,
            "no API keys configured (Auth.ApiKeys): requests are not authenticated"
        );
    }
    tracing::info!(
        store = app.backends.store,
        queue = app.backends.queue,
        email = ?app.backends.email,
        sms = ?app.backends.sms,
        "backends"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn tenant(app: &App, raw: Option<&str>) -> anyhow::Result<TenantId> {
    match raw {
        Some(raw) => {
            Ok(TenantId::parse(raw).map_err(|e| anyhow::anyhow!("--tenant: {}", e.reason))?)
        }
        None => Ok(app.checked.default_tenant.clone()),
    }
}

fn apply_mock_failure(app: &App, mode: Option<&str>) -> anyhow::Result<()> {
    let Some(mode) = mode else { return Ok(()) };
    let (email, sms) = (app.mocks.email.as_ref(), app.mocks.sms.as_ref());
    let set = |f: &dyn Fn(&adapters::MockEmailSender), g: &dyn Fn(&adapters::MockSmsSender)| {
        if let Some(m) = email {
            f(m);
        }
        if let Some(m) = sms {
            g(m);
        }
    };
    match mode.split_once(':') {
        None if mode == "permanent" => set(&|m| m.fail_permanently(), &|m| m.fail_permanently()),
        None if mode == "transient" => set(&|m| m.fail_always_transiently(), &|m| {
            m.fail_always_transiently()
        }),
        Some(("transient", n)) => {
            let n: u32 = n
                .parse()
                .map_err(|_| anyhow::anyhow!("--mock-fail: {n:?} is not a count"))?;
            set(&|m| m.fail_transiently(n), &|m| m.fail_transiently(n));
        }
        _ => bail!("--mock-fail: expected transient:N, transient or permanent, got {mode:?}"),
    }
    Ok(())
}

fn print_record(record: &Notification) {
    println!(
        "notification_id={} provider={} status={} attempts={}",
        record.id,
        record.provider.as_deref().unwrap_or("-"),
        record.status,
        record.attempts
    );
}

/// Prints a use-case error with its field, and returns the exit code.
fn report(err: &NotifyError) -> ExitCode {
    match err {
        NotifyError::DeliveryFailed { notification, .. }
        | NotifyError::QuotaExceeded { notification, .. } => print_record(notification),
        _ => {}
    }
    eprintln!("error: {err}");
    ExitCode::FAILURE
}

async fn send(config: Config, args: SendArgs) -> anyhow::Result<ExitCode> {
    let request = args.request()?;
    let app = build(config, &args.overrides()).await?;
    apply_mock_failure(&app, args.mock_fail.as_deref())?;
    let tenant = tenant(&app, args.tenant.as_deref())?;
    println!("{}", args.method_line("send")?);
    match app.notifier.send(&tenant, request).await {
        Ok(accepted) => {
            print_record(&accepted.notification);
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => Ok(report(&err)),
    }
}

async fn enqueue(config: Config, args: SendArgs, poll: u64) -> anyhow::Result<ExitCode> {
    let request = args.request()?;
    let app = build(config, &args.overrides()).await?;
    apply_mock_failure(&app, args.mock_fail.as_deref())?;
    let tenant = tenant(&app, args.tenant.as_deref())?;
    println!("{}", args.method_line("enqueue")?);
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    crate::runtime::spawn_background(&app, &cancel, &mut tasks);
    let result = match app.notifier.enqueue(&tenant, request).await {
        Ok(accepted) => {
            let id = accepted.notification.id;
            print_record(&accepted.notification);
            wait_for_end(&app, id, Duration::from_secs(poll), false).await
        }
        Err(err) => Ok(report(&err)),
    };
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    result
}

/// Polls the record, printing each change (and the first state seen with `print_first`),
/// until it is terminal or `limit` passes.
async fn wait_for_end(
    app: &App,
    id: domain::NotificationId,
    limit: Duration,
    print_first: bool,
) -> anyhow::Result<ExitCode> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut last: Option<(Status, u32)> = None;
    loop {
        if let Some(record) = app.ports.store.get(id).await? {
            let now = (record.status, record.attempts);
            if last != Some(now) {
                if last.is_some() || print_first {
                    print_record(&record);
                }
                last = Some(now);
            }
            match record.status {
                Status::Sent => {
                    println!("OK");
                    return Ok(ExitCode::SUCCESS);
                }
                Status::Failed | Status::Dropped => {
                    eprintln!(
                        "error: notification {} ended {}: {}",
                        record.id,
                        record.status,
                        record.last_error.as_deref().unwrap_or("-")
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Status::Pending | Status::Retrying => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            println!("timeout after {}s", limit.as_secs());
            return Ok(ExitCode::FAILURE);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn dlq(config: Config, command: DlqCommand) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List {
            tenant,
            kind,
            limit,
        } => {
            let app = build(config, &Overrides::default()).await?;
            let query = dlq_query(tenant.as_deref(), kind.as_deref(), limit)?;
            list_letters(&app, query).await?;
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Replay {
            id,
            all,
            tenant,
            kind,
            poll,
        } => {
            let app = build(config, &Overrides::default()).await?;
            let cancel = CancellationToken::new();
            let mut tasks = JoinSet::new();
            if poll > 0 {
                crate::runtime::spawn_background(&app, &cancel, &mut tasks);
            }
            let code = replay(&app, id, all, tenant, kind, poll).await;
            cancel.cancel();
            while tasks.join_next().await.is_some() {}
            code
        }
        DlqCommand::Drill(args) => drill(config, args).await,
    }
}

fn dlq_query(
    tenant: Option<&str>,
    kind: Option<&str>,
    limit: usize,
) -> anyhow::Result<DeadLetterQuery> {
    Ok(DeadLetterQuery {
        tenant_id: tenant
            .map(TenantId::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--tenant: {}", e.reason))?,
        kind: kind
            .map(NotificationKind::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--kind: {}", e.reason))?,
        since: None,
        until: None,
        limit,
    })
}

async fn list_letters(app: &App, query: DeadLetterQuery) -> anyhow::Result<usize> {
    let letters = app.dead_letters.list(query).await?;
    println!("dead_letters={}", letters.len());
    for letter in &letters {
        println!(
            "notification_id={} tenant={} kind={} channel={} to={} attempts={} replayable={} failed_at={} error={:?}",
            letter.notification_id,
            letter.tenant_id,
            letter.kind,
            letter.channel,
            letter.recipient_masked,
            letter.attempts,
            !letter.sensitive,
            letter.failed_at.to_rfc3339(),
            letter.last_error
        );
    }
    Ok(letters.len())
}

async fn replay(
    app: &App,
    id: Option<String>,
    all: bool,
    tenant: Option<String>,
    kind: Option<String>,
    poll: u64,
) -> anyhow::Result<ExitCode> {
    let ids = match (id, all) {
        (Some(id), false) => {
            let tenant = tenant
                .as_deref()
                .map(TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--tenant: {}", e.reason))?;
            match app.dead_letters.replay(tenant.as_ref(), &id).await {
                Ok(record) => {
                    println!("replayed notification_id={}", record.id);
                    vec![record.id]
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        (None, true) => {
            let query = dlq_query(tenant.as_deref(), kind.as_deref(), 500)?;
            let report = app.dead_letters.replay_all(query).await?;
            println!(
                "replayed={} not_replayable={} failed={}",
                report.replayed.len(),
                report.not_replayable.len(),
                report.failed.len()
            );
            for (id, err) in &report.failed {
                eprintln!("error: {id}: {err}");
            }
            report.replayed
        }
        _ => bail!("give a notification id, or --all (not both)"),
    };
    if poll == 0 {
        println!("OK");
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    for id in ids {
        if wait_for_end(app, id, Duration::from_secs(poll), true).await? != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

async fn drill(mut config: Config, args: SendArgs) -> anyhow::Result<ExitCode> {
    // Short retries so the drill ends in seconds: 1 + MaxRetry attempts, 1 s apart.
    config.notification.async_.backoff_seconds = vec![1];
    config.notification.async_.jitter = 0.0;
    let request = args.request()?;
    let app = build(config, &Overrides { force_mock: true }).await?;
    let tenant = tenant(&app, args.tenant.as_deref())?;
    println!("{}", args.method_line("dlq-drill")?);
    apply_mock_failure(&app, Some("transient"))?;
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    crate::runtime::spawn_background(&app, &cancel, &mut tasks);
    let result = async {
        let accepted = match app.notifier.enqueue(&tenant, request).await {
            Ok(accepted) => accepted,
            Err(err) => return Ok(report(&err)),
        };
        let id = accepted.notification.id;
        print_record(&accepted.notification);
        let max = app.checked.retry.max_attempts();
        let limit = Duration::from_secs(u64::from(max) * 2 + 10);
        // Expected to end failed, with a dead letter.
        let _ = wait_for_end(&app, id, limit, false).await?;
        let query = dlq_query(Some(tenant.as_str()), None, 50)?;
        if list_letters(&app, query).await? == 0 {
            eprintln!("error: no dead letter appeared");
            return Ok(ExitCode::FAILURE);
        }
        apply_mock_failure_succeed(&app);
        replay(
            &app,
            Some(id.to_string()),
            false,
            Some(tenant.to_string()),
            None,
            45,
        )
        .await
    }
    .await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    result
}

fn apply_mock_failure_succeed(app: &App) {
    if let Some(m) = &app.mocks.email {
        m.succeed();
    }
    if let Some(m) = &app.mocks.sms {
        m.succeed();
    }
}
