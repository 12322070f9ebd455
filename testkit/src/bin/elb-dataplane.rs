//! `elb-dataplane`: serves the load balancers configured through it (see
//! `tgbind_testkit::dataplane`). Prints `{"endpoint": ...}` once listening, then runs until
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tgbind_testkit::dataplane::{Dataplane, Options};

#[derive(Parser)]
#[command(about = "A load-balancer data plane for tests, in front of an emulated ELBv2 API (moto)")]
struct Args {
    /// The ELBv2 API behind the data plane (moto), e.g. http://127.0.0.1:5000.
    #[arg(long, env = "ELB_DATAPLANE_UPSTREAM")]
    upstream: String,
    /// Where to serve the ELBv2 API (give this to clients as AWS_ENDPOINT_URL).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Divide health-check intervals and timeouts, deregistration delays and slow starts by this.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// How often to pick up configuration written to the upstream directly, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    refresh_ms: u64,
    /// Reach targets of a network on loopback: NETWORK/PREFIX=LOOPBACK_NETWORK (repeatable), e.g.
    /// 10.42.0.0/16=127.42.0.0 sends traffic for 10.42.1.14 to 127.42.1.14.
    #[arg(long)]
    reach: Vec<tgbind_testkit::dataplane::Translation>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let dataplane = Dataplane::start(
        &args.upstream,
        Options {
            listen: args.listen,
            time_scale: args.time_scale,
            refresh: Duration::from_millis(args.refresh_ms),
            reach: args.reach,
        },
    )?;
    println!("{}", serde_json::json!({ "endpoint": dataplane.endpoint() }));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            Ok::<_, std::io::Error>(())
        })?;
    drop(dataplane);
    Ok(())
}
