//! `gridmentor-server`: serve the playground and the API on 127.0.0.1:8080 by default.

use anyhow::Context;
use clap::Parser;
use gridmentor_server::{AppState, Args, router, store::redact_url};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        .init();
    let settings = Args::parse().with_file()?.resolve()?;
    anyhow::ensure!(
        settings.www.join("index.html").is_file(),
        "{} has no index.html: run from the repository root or pass --www",
        settings.www.display()
    );
    let addr = settings.addr;
    tracing::info!(
        "data in {}, database {}, upstream {}",
        settings.data.display(),
        redact_url(&settings.database_url),
        settings
            .upstream
            .as_ref()
            .map_or("none", |u| u.url.as_str())
    );
    let state = AppState::new(settings).await?;
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    println!("gridmentor playground: http://{addr}/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop_signal())
    .await?;
    println!("gridmentor-server stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (what service managers and `kill` send).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
