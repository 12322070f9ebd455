use std::io::Write;

use clap::Parser;
use terraform_provider_elbv2::plugin::{handshake, serve, ServeOptions};
use terraform_provider_elbv2::provider::Elbv2Provider;
use terraform_provider_elbv2::PROVIDER_ADDRESS;

/// Terraform provider for AWS Elastic Load Balancing v2. Terraform starts it; run it yourself only
/// with --debug.
#[derive(Parser)]
#[command(version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TGBIND_GIT_COMMIT"), ")"))]
struct Args {
    /// Serve without Terraform managing the process and print the TF_REATTACH_PROVIDERS value.
    #[arg(long)]
    debug: bool,
}

fn init_logging() {
    // Terraform reads the provider's stderr; TF_LOG_PROVIDER sets our level as for any provider.
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TGBIND_LOG"))
        .unwrap_or_else(|_| "warn".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// A fresh, private directory for the socket. Its name is random, not the PID: a provider that was
/// killed leaves its directory behind, and a later process with the same PID must not trip on it.
fn socket_dir() -> std::io::Result<tempfile::TempDir> {
    let base = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new().prefix("tgbind-elbv2-").tempdir_in(base)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_logging();

    if !args.debug {
        if let Err(e) = handshake::negotiate(|k| std::env::var(k).ok()) {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
        // Terraform forwards Ctrl-C to the whole process group; StopProvider is our cancel path.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(mut sigint) => {
                tokio::spawn(async move { while sigint.recv().await.is_some() {} });
            }
            Err(e) => tracing::warn!(error = %e, "could not ignore SIGINT"),
        }
    }

    let dir = match socket_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create the plugin socket directory: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let opts = ServeOptions {
        socket_dir: dir.path().to_path_buf(),
        client_cert_pem: if args.debug {
            None
        } else {
            std::env::var("PLUGIN_CLIENT_CERT").ok().filter(|s| !s.is_empty())
        },
    };
    let debug = args.debug;
    let served = serve(Elbv2Provider::new(), opts, move |socket, cert| {
        let mut out = std::io::stdout().lock();
        if debug {
            let reattach = handshake::reattach_json(PROVIDER_ADDRESS, socket, std::process::id());
            let _ = writeln!(out, "Provider serving in debug mode. In another shell run:\n\n    export TF_REATTACH_PROVIDERS='{reattach}'\n\nthen terraform as usual. Ctrl-C stops the provider.");
        } else {
            let _ = writeln!(out, "{}", handshake::handshake_line(socket, cert));
        }
        let _ = out.flush();
    });
    let result = if debug {
        tokio::select! {
            r = served => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    } else {
        served.await
    };
    drop(dir);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provider server failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
