//! `gridmentor-server`: serve the playground and the API on 127.0.0.1:8080 by default.

use anyhow::Context;
use clap::Parser;
use gridmentor_server::{Config, router};
use std::net::SocketAddr;
use std::path::PathBuf;

/// gridmentor's HTTP server: the browser playground and its API.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GRIDMENTOR_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Folder holding index.html and the wasm package (pkg/).
    #[arg(long, env = "GRIDMENTOR_WWW", default_value = "www")]
    www: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.www.join("index.html").is_file(),
        "{} has no index.html: run from the repository root or pass --www",
        args.www.display()
    );
    let app = router(&Config {
        www: args.www.clone(),
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!("gridmentor playground: http://{addr}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("gridmentor-server stopped");
    Ok(())
}
