//! `traffic`: the serving pods and the load generator of `tgbind_testkit`, for scripts.
//!
//! - `traffic pod --name web-1 --listen 127.0.0.11:8080 --grace 2s` serves as a pod until SIGTERM,
//!   then keeps serving for the grace, as a pod's process does while its endpoint goes away.
//! - `traffic load --address 127.0.0.1:PORT --rate 200 --seconds 10 [--stop-file F]` sends requests
//!   and prints a JSON report (requests, failures, p50/p99, who answered, failures per second).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tgbind_testkit::load::Load;
use tgbind_testkit::pods::{background, serve_as};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer every request with this pod's name.
    Pod {
        #[arg(long)]
        name: String,
        #[arg(long)]
        listen: SocketAddr,
        /// How long to keep serving after SIGTERM.
        #[arg(long, default_value = "0s", value_parser = humantime_secs)]
        grace: Duration,
    },
    /// Send GET requests at a fixed rate.
    Load {
        #[arg(long)]
        address: SocketAddr,
        #[arg(long, default_value = "/")]
        path: String,
        #[arg(long, default_value = "web.example.com")]
        host: String,
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Stop after this long at most.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Stop as soon as this file exists (a walkthrough's "done").
        #[arg(long)]
        stop_file: Option<std::path::PathBuf>,
    },
}

/// `2s`, `500ms` or a number of seconds.
fn humantime_secs(s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|e| e.to_string());
    }
    s.trim_end_matches('s')
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|e| e.to_string())
}

fn main() -> std::io::Result<()> {
    match Args::parse().command {
        Command::Pod { name, listen, grace } => background().block_on(async move {
            let socket = tokio::net::TcpListener::bind(listen).await?;
            let server = tokio::spawn(serve_as(name, socket));
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tokio::time::sleep(grace).await;
            server.abort();
            Ok(())
        }),
        Command::Load {
            address,
            path,
            host,
            rate,
            seconds,
            stop_file,
        } => {
            let load = Load::start(address, &host, &path, rate);
            let deadline = std::time::Instant::now() + Duration::from_secs_f64(seconds);
            while std::time::Instant::now() < deadline && !stop_file.as_ref().is_some_and(|f| f.exists()) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let report = background().block_on(load.stop());
            let json = serde_json::json!({
                "requests": report.sent(),
                "failed": report.failed(),
                "failures": report.failures(),
                "rate": report.rate(),
                "p50_ms": report.latency(0.5).as_secs_f64() * 1e3,
                "p99_ms": report.latency(0.99).as_secs_f64() * 1e3,
                "answered_by": report.answered_by(),
                "failed_at_seconds": report
                    .samples
                    .iter()
                    .filter(|s| s.outcome.is_err())
                    .map(|s| s.sent_at.as_secs())
                    .collect::<std::collections::BTreeSet<_>>(),
            });
            println!("{json}");
            Ok(())
        }
    }
}
