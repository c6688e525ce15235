//! Running the service: the HTTP gateway, the retry workers and the reconciler as tasks
//! under one cancellation token. Shutdown stops new claims, lets in-flight sends finish,
//! releases the leases of unstarted jobs and waits for every task.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::compose::App;

/// The background tasks of the async path: `Notification.Async.Workers` workers and the
/// reconciler.
pub fn spawn_background(app: &App, cancel: &CancellationToken, tasks: &mut JoinSet<&'static str>) {
    if let Some(worker) = &app.worker {
        for _ in 0..app.worker_count.max(1) {
            let worker = worker.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move {
                worker.run(cancel).await;
                "retry worker"
            });
        }
    }
    if let Some(reconciler) = &app.reconciler {
        let reconciler = reconciler.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            reconciler.run(cancel).await;
            "reconciler"
        });
    }
}

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    cancel: CancellationToken,
    tasks: JoinSet<&'static str>,
}

impl Running {
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops everything and waits for each task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        while let Some(result) = self.tasks.join_next().await {
            match result {
                Ok(name) => tracing::info!(task = name, "task stopped"),
                Err(err) => tracing::error!(error = %err, "task ended abnormally"),
            }
        }
    }

    /// Waits until the token is cancelled (a signal, or a caller), then shuts down.
    pub async fn wait(self) {
        self.cancel.cancelled().await;
        self.shutdown().await;
    }
}

/// Serves the HTTP gateway on `listener` and runs the background tasks.
pub async fn start(app: App, listener: TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    spawn_background(&app, &cancel, &mut tasks);
    let router = crate::http::router(app);
    let http_cancel = cancel.clone();
    tasks.spawn(async move {
        let shutdown = http_cancel.clone();
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        {
            tracing::error!(error = %err, "http server failed");
            http_cancel.cancel();
        }
        "http gateway"
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        cancel,
        tasks,
    })
}
