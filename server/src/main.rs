//! `gridmentor-server`: serve the playground and the API on 127.0.0.1:8080 by default.

use anyhow::Context;
use clap::Parser;
use gridmentor_server::{AppState, Args, store::redact_url};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        // Colour codes only on a terminal: logs piped to a file or journald stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
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
            .map_or_else(|| "none".to_string(), |u| redact_url(&u.url))
    );
    let (extra, llm_line) = embedded_llm(&settings).await;
    let upstream = settings.upstream.as_ref().map(|u| redact_url(&u.url));
    let preload = settings.preload.clone();
    let state = AppState::with_backends(settings, extra).await?;
    if let Some(dir) = preload {
        let added = gridmentor_server::checkpoints::preload(&state, &dir).await?;
        tracing::info!("preloaded {added} new checkpoint(s) from {}", dir.display());
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    println!("gridmentor playground: http://{addr}/");
    println!("LLM backends: gridmentor-expert (scripted, not an LLM); {llm_line}");
    if let Some(u) = upstream {
        println!("other models go to the upstream {u}");
    }
    gridmentor_server::serve(listener, state, stop_signal()).await?;
    println!("gridmentor-server stopped");
    Ok(())
}

/// The embedded model as a backend, when this build has it and its file is there, and a line
/// that says which LLM serves (or why none does).
#[cfg(feature = "smollm2")]
async fn embedded_llm(
    settings: &gridmentor_server::Settings,
) -> (
    Vec<std::sync::Arc<dyn gridmentor_server::llm::Backend>>,
    String,
) {
    use gridmentor_server::llm::smollm2;
    if !settings.embedded_llm {
        return (Vec::new(), "embedded LLM off (--embedded-llm false)".into());
    }
    let path = settings
        .model_path
        .clone()
        .unwrap_or_else(smollm2::default_path);
    let shown = path.display().to_string();
    let fairness = settings.llm_fairness;
    let grounded = settings.grounded.clone();
    let base = path.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let mut backends: Vec<std::sync::Arc<dyn gridmentor_server::llm::Backend>> =
            vec![std::sync::Arc::new(smollm2::load(&base, fairness)?)];
        for (name, file) in &grounded {
            let b = smollm2::load_grounded(&base, name, file, fairness)
                .map_err(|e| format!("grounded model {name}: {e}"))?;
            backends.push(std::sync::Arc::new(b));
        }
        Ok::<_, String>(backends)
    });
    let names: Vec<String> = settings.grounded.iter().map(|(n, _)| n.clone()).collect();
    match loaded.await {
        Ok(Ok(b)) => (
            b,
            format!(
                "smollm2-135m-instruct (embedded, {shown}){}",
                names
                    .iter()
                    .map(|n| format!("; {n} (grounded)"))
                    .collect::<String>()
            ),
        ),
        Ok(Err(e)) => {
            tracing::warn!("embedded LLM unavailable: {e}");
            (Vec::new(), format!("no embedded LLM: {e}"))
        }
        Err(e) => (Vec::new(), format!("no embedded LLM: loading crashed: {e}")),
    }
}

#[cfg(not(feature = "smollm2"))]
async fn embedded_llm(
    _settings: &gridmentor_server::Settings,
) -> (
    Vec<std::sync::Arc<dyn gridmentor_server::llm::Backend>>,
    String,
) {
    (
        Vec::new(),
        "no embedded LLM (built without the `smollm2` feature)".into(),
    )
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
