use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tgbind_controller::aws::{attempt_hook, AwsAccounts};
use tgbind_controller::budget::{Budget, Family, Limit};
use tgbind_controller::context::Settings;
use tgbind_controller::http::Readiness;
use tgbind_controller::leader::{Elector, LeaseConfig};
use tgbind_controller::metrics::Metrics;
use tgbind_controller::networking::{ec2::Ec2, SecurityGroupRules};
use tgbind_controller::run::{build, AwsBackends, Scope};
use tgbind_controller::{crd, endpoints, http};
use tracing::{error, info, warn};

/// Keeps the ready endpoints of Services registered in AWS target groups, as TargetGroupBindings ask.
#[derive(Parser)]
#[command(version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TGBIND_GIT_COMMIT"), ")"))]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print the TargetGroupBinding CRD (YAML).
    Crd,
    /// Run the controller (the default).
    Run,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Name of this cluster: logged, and for spec.networking it picks the security group tagged
    /// `kubernetes.io/cluster/<name>` on interfaces with several groups.
    #[arg(long, env = "CLUSTER_NAME", default_value = "")]
    cluster_name: String,
    /// Namespaces to watch (comma-separated); all when empty.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',', default_value = "")]
    namespaces: Vec<String>,
    /// Bindings reconciled at the same time.
    #[arg(long, env = "WORKERS", default_value_t = 16)]
    workers: u16,
    /// Re-check each binding this often without events (drift in AWS), e.g. 10m.
    #[arg(long, env = "RESYNC", default_value = "10m", value_parser = humantime::parse_duration)]
    resync: Duration,
    /// First retry delay after a failure.
    #[arg(long, env = "BACKOFF_BASE", default_value = "1s", value_parser = humantime::parse_duration)]
    backoff_base: Duration,
    /// Longest delay between retries.
    #[arg(long, env = "BACKOFF_CAP", default_value = "5m", value_parser = humantime::parse_duration)]
    backoff_cap: Duration,
    /// While a group has targets that are not healthy yet, re-check it this often (that group only).
    #[arg(long, env = "HEALTH_RECHECK", default_value = "5s", value_parser = humantime::parse_duration)]
    health_recheck: Duration,
    /// The API budget for ELBv2: requests per second (0: no limit) and burst. Changes go first,
    /// resyncs and health rechecks after; throttling by AWS lowers the rate until calls go through.
    #[arg(long, env = "ELBV2_RATE", default_value_t = 40.0)]
    elbv2_rate: f64,
    #[arg(long, env = "ELBV2_BURST", default_value_t = 80.0)]
    elbv2_burst: f64,
    /// The API budget for EC2 (security-group rules, VPCs), as for ELBv2.
    #[arg(long, env = "EC2_RATE", default_value_t = 20.0)]
    ec2_rate: f64,
    #[arg(long, env = "EC2_BURST", default_value_t = 40.0)]
    ec2_burst: f64,
    /// Serve the readiness-gate admission webhook on this address (TLS); off when unset.
    #[arg(long, env = "WEBHOOK_ADDR")]
    webhook_addr: Option<SocketAddr>,
    /// Directory with the webhook's `tls.crt` and `tls.key` (a mounted Secret).
    #[arg(long, env = "WEBHOOK_CERT_DIR", default_value = "/tls")]
    webhook_cert_dir: std::path::PathBuf,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Elect a leader among replicas through a Lease.
    #[arg(long, env = "LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    #[arg(long, env = "LEASE_NAME", default_value = "tgbind-controller")]
    lease_name: String,
    /// Namespace of the Lease; the pod's own namespace in a cluster.
    #[arg(long, env = "POD_NAMESPACE", default_value = "kube-system")]
    lease_namespace: String,
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    #[arg(long, env = "LEASE_RENEW", default_value = "5s", value_parser = humantime::parse_duration)]
    lease_renew: Duration,
    /// Log format: json or text.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    log_format: String,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL").unwrap_or_else(|_| "info,kube=warn,aws=warn,hyper=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().with_current_span(true).with_span_list(false).init();
    }
}

/// glibc's malloc gives threads arenas of their own (up to eight per core) and keeps what is freed in
/// each for reuse, so memory freed by one worker thread is not reused by another. Two arenas: at
/// 10,000 bindings the first start's peak RSS was 151-153 MiB against 167 MiB without the limit,
/// with no measurable CPU cost (the scale bench, this machine).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(start())
}

async fn start() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Crd) = cli.command {
        print!("{}", crd::crd_yaml());
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(&cli.run.log_format);
    // Both rustls back ends are in the build (the AWS SDK brings aws-lc-rs, kube ring): pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli.run).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error!(error = format!("{e:#}"), "controller stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(Readiness::default());
    tokio::spawn(http::serve(args.http_addr, metrics.clone(), ready.clone()));

    let client = kube::Client::try_default().await?;
    if let Some(addr) = args.webhook_addr {
        // Every replica answers the webhook: pods must not wait for the leader.
        let (cert, key) = (args.webhook_cert_dir.join("tls.crt"), args.webhook_cert_dir.join("tls.key"));
        let webhook_client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = tgbind_controller::webhook::serve(addr, &cert, &key, webhook_client).await {
                error!(error = %e, "admission webhook stopped");
            }
        });
    }
    let slice_resource = endpoints::endpoint_slice_resource(&client).await?;
    info!(cluster = %args.cluster_name, endpoint_slices = %slice_resource.api_version, "starting");
    let aws_config = tgbind_aws::load_sdk_config(&tgbind_aws::AwsSettings::default()).await;
    let budget = Budget::new(
        Limit {
            rate: args.elbv2_rate,
            burst: args.elbv2_burst,
        },
        Limit {
            rate: args.ec2_rate,
            burst: args.ec2_burst,
        },
        metrics.clone(),
    );
    let accounts = Arc::new(AwsAccounts::new(aws_config.clone(), metrics.clone(), budget.clone()));
    let ec2 = aws_sdk_ec2::config::Builder::from(&aws_config)
        .interceptor(tgbind_aws::attempts::FailedAttempts(attempt_hook(&metrics, &budget, Family::Ec2)))
        .build();
    let networking = Arc::new(SecurityGroupRules::new(
        Arc::new(Ec2::new(aws_sdk_ec2::Client::from_conf(ec2), metrics.clone(), budget.clone())),
        metrics.clone(),
        args.cluster_name.clone(),
        args.resync,
    ));

    let elector = args.leader_elect.then(|| {
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| format!("{}-{}", hostname(), std::process::id()));
        Elector::new(
            client.clone(),
            LeaseConfig {
                name: args.lease_name.clone(),
                namespace: args.lease_namespace.clone(),
                identity,
                duration: args.lease_duration,
                renew: args.lease_renew,
            },
        )
    });
    // A standby is healthy and ready: it is waiting its turn.
    ready.set(true);
    let settings = Settings {
        resync: args.resync,
        backoff_base: args.backoff_base,
        backoff_cap: args.backoff_cap,
        health_recheck: args.health_recheck,
    };
    let scope = Scope {
        namespaces: args.namespaces.into_iter().filter(|n| !n.is_empty()).collect(),
    };
    let mut terminate = Box::pin(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    // Lead, and when the lease is lost (the API unreachable for longer than the lease, say), stop
    // writing at once and stand by again instead of exiting: an apiserver outage must not turn
    // into a crash loop.
    loop {
        if let Some(elector) = &elector {
            tokio::select! {
                _ = elector.acquire() => {}
                _ = &mut terminate => {
                    info!("terminating");
                    return Ok(());
                }
            }
            metrics.is_leader.set(1);
        }
        let running = build(
            client.clone(),
            scope.clone(),
            slice_resource.clone(),
            AwsBackends {
                accounts: accounts.clone(),
                networking: Some(networking.clone()),
            },
            metrics.clone(),
            settings.clone(),
            args.workers.max(1),
        );
        let lost = async {
            match &elector {
                Some(e) => e.hold().await,
                None => futures::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            _ = running.controller => "ended",
            _ = &mut terminate => "terminating",
            _ = lost => "lost",
        };
        match outcome {
            "lost" => {
                metrics.is_leader.set(0);
                warn!("lost the leader lease: stopped reconciling, standing by to lead again");
            }
            other => {
                info!("controller {other}");
                break;
            }
        }
    }
    if let Some(e) = &elector {
        e.release().await;
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "tgbind".to_string())
}
