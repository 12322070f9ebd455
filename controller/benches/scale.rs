//! The controller at scale on the real apiserver + moto, under an ELBv2 API budget, measured in one
//! run per size (release build; `bash scripts/bench.sh`, or `cargo bench -p tgbind-controller
//! --bench scale`; sizes from TGBIND_BENCH_SCALE, default "1000,10000"):
//! - a first start with no records, at 200 ELBv2 requests/s: time and calls to register everything,
//!   then to every binding settled (its health read), and the CPU the controller, moto, the
//!   apiserver and etcd used until registered (they share this machine's cores);
//! - a restart at 20 requests/s after changes made while the controller was down: time until those
//!   changes are registered, the calls it took, and the highest rate over any 1 s and 10 s window;
//! - steady state at 20 requests/s: ELBv2 calls per binding per resync period, and the latency of
//!   event-driven changes while the spread verifications run;
//! - RSS, and the scaling from the smallest to the largest size per binding.
//!
//! TGBIND_BENCH_FIRST_START_ONLY=1 stops after the first start (to profile it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use support::{metric, wait_for, Controller, Env};

const ENDPOINTS: usize = 20;
const RESTART_RATE: f64 = 20.0;
const FIRST_START_RATE: f64 = 200.0;
const RESYNC: Duration = Duration::from_secs(600);
const STEADY_WINDOW: Duration = Duration::from_secs(120);

fn elbv2_calls(metrics: &str) -> f64 {
    metric(metrics, "tgbind_aws_budget_calls_total{family=\"elbv2\"")
}

fn registered_total(metrics: &str) -> f64 {
    metric(metrics, "tgbind_targets_registered_total")
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds a process used so far (user + system, all its threads), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Where a phase's CPU went: the controller and the substrate it talks to, which share this
/// machine's cores (a real cluster's API server and AWS do not).
struct CpuMeter {
    processes: Vec<(&'static str, u32)>,
    start: Vec<f64>,
}

impl CpuMeter {
    fn start(env: &Env, controller: &Controller) -> CpuMeter {
        let mut processes = vec![("controller", controller.child.id()), ("moto", env.moto.pid())];
        processes.extend(["apiserver", "etcd"].into_iter().filter_map(|c| Some((c, env.api.pid_of(c)?))));
        let start = processes.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
        CpuMeter { processes, start }
    }

    /// CPU seconds of each process since `start`.
    fn used(&self) -> Vec<(&'static str, f64)> {
        self.processes
            .iter()
            .zip(&self.start)
            .map(|((name, pid), start)| (*name, cpu_seconds(*pid) - start))
            .collect()
    }
}

fn ip(binding: usize, endpoint: usize) -> String {
    format!("10.{}.{}.{}", 100 + binding / 250, binding % 250, endpoint + 1)
}

fn endpoints(binding: usize, extra: usize) -> Vec<(String, bool)> {
    let mut eps: Vec<(String, bool)> = (0..ENDPOINTS).map(|e| (ip(binding, e), true)).collect();
    eps.extend((0..extra).map(|x| (format!("10.250.{}.{}", binding % 250, x + 1), true)));
    eps
}

async fn set_slice(env: &Env, binding: usize, extra: usize) {
    let name = format!("s{binding}");
    let eps = endpoints(binding, extra);
    let eps: Vec<(&str, bool)> = eps.iter().map(|(a, r)| (a.as_str(), *r)).collect();
    env.slice(&format!("{name}-a"), &name, "http", 8080, &eps).await;
}

async fn populate(env: &Env, bindings: usize) {
    stream::iter(0..bindings)
        .map(|i| async move {
            let eps = endpoints(i, 0);
            let eps: Vec<(&str, bool)> = eps.iter().map(|(a, r)| (a.as_str(), *r)).collect();
            env.bound_service(&format!("s{i}"), &eps).await;
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

/// ELBv2 calls of a controller, sampled every 250 ms, to find the highest rate over any window.
struct RateSampler {
    samples: Arc<Mutex<Vec<(Instant, f64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RateSampler {
    fn start(http_port: u16) -> RateSampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let into = samples.clone();
        let task = tokio::spawn(async move {
            let client = reqwest_free_metrics(http_port);
            loop {
                if let Some(text) = client().await {
                    into.lock().unwrap().push((Instant::now(), elbv2_calls(&text)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        RateSampler { samples, task }
    }

    /// The most calls made within any window of `window` (between samples at most that far apart).
    fn max_in(&self, window: Duration) -> f64 {
        let s = self.samples.lock().unwrap();
        let mut best: f64 = 0.0;
        for (i, (t0, c0)) in s.iter().enumerate() {
            for (t1, c1) in &s[i + 1..] {
                if t1.duration_since(*t0) > window {
                    break;
                }
                best = best.max(c1 - c0);
            }
        }
        best
    }
}

impl Drop for RateSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a controller's metrics over HTTP without blocking the runtime (curl in a blocking task).
fn reqwest_free_metrics(http_port: u16) -> impl Fn() -> futures::future::BoxFuture<'static, Option<String>> {
    move || {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let out = std::process::Command::new("curl")
                    .args(["-sf", "--max-time", "2", &format!("http://127.0.0.1:{http_port}/metrics")])
                    .output()
                    .ok()?;
                out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            })
            .await
            .ok()
            .flatten()
        })
    }
}

async fn metrics_of(c: &Controller) -> String {
    reqwest_free_metrics(c.http_port)().await.unwrap_or_default()
}

#[derive(Default)]
struct Figures {
    bindings: usize,
    first_start: Duration,
    first_start_calls: f64,
    /// CPU seconds per process until the first start registered everything.
    first_start_cpu: Vec<(&'static str, f64)>,
    /// Until every binding recorded a settled sync (its health read too), and the calls by then.
    first_start_settled: Duration,
    first_start_settled_calls: f64,
    restart_registered: Duration,
    restart_calls_60s: f64,
    max_1s: f64,
    max_10s: f64,
    trusted: f64,
    steady_calls_per_binding_per_resync: f64,
    steady_sampling_error: f64,
    change_p50: Duration,
    change_p99: Duration,
    rss_peak_kib: u64,
    /// Peak RSS of the first start and of the restart, apart.
    rss_peaks_kib: (u64, u64),
}

/// The controller's settings in this bench: quiet logs, the ELBv2 budget (burst = one second's
/// worth), the resync period and, when given, the number of workers.
fn settings<'a>(rate: &'a str, resync: &'a str, workers: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut settings = vec![
        ("LOG_LEVEL", "warn"),
        ("ELBV2_RATE", rate),
        ("ELBV2_BURST", rate),
        ("RESYNC", resync),
    ];
    settings.extend(workers.map(|w| ("WORKERS", w)));
    settings
}

/// TGBIND_BENCH_FIRST_START_ONLY: stop after the first start (its figures and RSS), e.g. to profile it.
fn first_start_only() -> bool {
    std::env::var_os("TGBIND_BENCH_FIRST_START_ONLY").is_some()
}

async fn run(bindings: usize) -> Figures {
    let env = Env::start().await;
    let populate_started = Instant::now();
    populate(&env, bindings).await;
    println!(
        "  [{bindings}] {bindings} target groups, Services, slices of {ENDPOINTS} endpoints and bindings created in {:.1} s",
        populate_started.elapsed().as_secs_f64()
    );

    // --- First start: no records, everything to register, at 200 requests/s.
    // TGBIND_BENCH_WORKERS compares worker counts (unset: the controller's default).
    let workers = std::env::var("TGBIND_BENCH_WORKERS").ok();
    let rate = FIRST_START_RATE.to_string();
    let resync = format!("{}s", RESYNC.as_secs());
    let first = Controller::start(&env, "scale-first", &settings(&rate, &resync, workers.as_deref()));
    let started = Instant::now();
    let cpu = CpuMeter::start(&env, &first);
    let want = (bindings * ENDPOINTS) as f64;
    wait_for("first start registered everything", Duration::from_secs(1800), || async {
        registered_total(&metrics_of(&first).await) >= want
    })
    .await;
    let first_start = started.elapsed();
    let first_start_cpu = cpu.used();
    let first_start_calls = elbv2_calls(&metrics_of(&first).await);
    wait_for("every binding recorded its settled sync", Duration::from_secs(900), || async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        env.settled_records().await == bindings
    })
    .await;
    // Seen within the 2 s poll (plus a list of every binding).
    let first_start_settled = started.elapsed();
    let first_start_settled_calls = elbv2_calls(&metrics_of(&first).await);
    let (_, peak_first) = rss_kib(first.child.id());
    drop(first);
    let first_start_figures = Figures {
        bindings,
        first_start,
        first_start_calls,
        first_start_cpu,
        first_start_settled,
        first_start_settled_calls,
        rss_peak_kib: peak_first,
        rss_peaks_kib: (peak_first, 0),
        ..Default::default()
    };
    if first_start_only() {
        return first_start_figures;
    }

    // --- Changes while the controller is down, then a restart at 20 requests/s.
    let changed: Vec<usize> = (0..bindings).step_by(100).collect();
    for &b in &changed {
        set_slice(&env, b, 1).await;
    }
    let rate = RESTART_RATE.to_string();
    let second = Controller::start(&env, "scale-restart", &settings(&rate, &resync, workers.as_deref()));
    let started = Instant::now();
    let sampler = RateSampler::start(second.http_port);
    wait_for("changes made while down registered", Duration::from_secs(600), || async {
        registered_total(&metrics_of(&second).await) >= changed.len() as f64
    })
    .await;
    let restart_registered = started.elapsed();
    if let Some(left) = Duration::from_secs(60).checked_sub(started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    let after_60s = metrics_of(&second).await;
    let restart_calls_60s = elbv2_calls(&after_60s);
    let trusted = metric(&after_60s, "tgbind_bindings_trusted_at_start_total");

    // --- Steady state: the spread verifications run; event-driven changes go first.
    let verify_calls = |m: &str| metric(m, "tgbind_aws_budget_calls_total{family=\"elbv2\",priority=\"verify\"");
    let steady_from = verify_calls(&metrics_of(&second).await);
    let steady_started = Instant::now();
    let mut latencies = Vec::new();
    let mut n = 0;
    while steady_started.elapsed() < STEADY_WINDOW {
        let b = (n * 37 + 1) % bindings;
        let arn = env
            .elb
            .describe_target_groups()
            .names(format!("s{b}"))
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        let want = format!("10.250.{}.{}:8080", b % 250, 2);
        let t0 = Instant::now();
        set_slice(&env, b, 2).await;
        loop {
            if env.targets(&arn).await.contains(&want) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "change on s{b} never registered");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(t0.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Calls without a change to write; each event-driven change adds one of them (the recheck of its
    // new target's health), the rest are the spread verifications.
    let steady_verify = verify_calls(&metrics_of(&second).await) - steady_from;
    let verification_calls = (steady_verify - latencies.len() as f64).max(0.0);
    let scale = RESYNC.as_secs_f64() / steady_started.elapsed().as_secs_f64() / bindings as f64;
    let steady_calls_per_binding_per_resync = verification_calls * scale;
    // Verifications fall at random points of the period: a count n has a sampling error of about sqrt(n).
    let steady_sampling_error = verification_calls.sqrt() * scale;
    let (max_1s, max_10s) = (sampler.max_in(Duration::from_secs(1)), sampler.max_in(Duration::from_secs(10)));
    let (_, peak_second) = rss_kib(second.child.id());
    drop(sampler);
    drop(second);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Figures {
        restart_registered,
        restart_calls_60s,
        max_1s,
        max_10s,
        trusted,
        steady_calls_per_binding_per_resync,
        steady_sampling_error,
        change_p50: pct(0.5),
        change_p99: pct(0.99),
        rss_peak_kib: peak_first.max(peak_second),
        rss_peaks_kib: (peak_first, peak_second),
        ..first_start_figures
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("TGBIND_BENCH_SCALE")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "tgbind-controller at scale on kube-apiserver 1.20 + moto ({ENDPOINTS} endpoints per binding, resync {} s)",
        RESYNC.as_secs()
    );
    let mut all = Vec::new();
    for size in sizes {
        let f = run(size).await;
        let n = f.bindings;
        println!("  [{n}] first start, no records, budget {FIRST_START_RATE}/s: registered in {:.1} s with {:.0} ELBv2 calls ({:.2} per binding)   budget <= 90 s: {}",
            f.first_start.as_secs_f64(), f.first_start_calls, f.first_start_calls / n as f64, verdict(f.first_start <= Duration::from_secs(90)));
        let busy: f64 = f.first_start_cpu.iter().map(|(_, s)| s).sum();
        let shares: Vec<String> = f
            .first_start_cpu
            .iter()
            .map(|(name, s)| format!("{name} {s:.0} s ({:.1} ms per binding)", s * 1000.0 / n as f64))
            .collect();
        println!(
            "  [{n}] first start CPU until registered: {} = {busy:.0} CPU-s in {:.0} s of wall time ({:.2} of {} cores busy)",
            shares.join(", "),
            f.first_start.as_secs_f64(),
            busy / f.first_start.as_secs_f64(),
            std::thread::available_parallelism().map_or(0, |c| c.get())
        );
        println!("  [{n}] first start: every binding settled (health read, settled sync recorded) in {:.1} s with {:.0} ELBv2 calls ({:.2} per binding)",
            f.first_start_settled.as_secs_f64(), f.first_start_settled_calls, f.first_start_settled_calls / n as f64);
        if first_start_only() {
            println!(
                "  [{n}] controller peak RSS at the first start {:.1} MiB",
                f.rss_peak_kib as f64 / 1024.0
            );
            continue;
        }
        println!(
            "  [{n}] restart at {RESTART_RATE}/s after {} bindings changed while down: registered {:.1} s after start   budget <= 60 s: {}",
            n.div_ceil(100),
            f.restart_registered.as_secs_f64(),
            verdict(f.restart_registered <= Duration::from_secs(60))
        );
        println!(
            "  [{n}] restart: {} bindings trusted their record; {:.0} ELBv2 calls in the first 60 s (a re-read of every group: {n})",
            f.trusted, f.restart_calls_60s
        );
        // A token bucket allows rate x window + burst in any window.
        let (limit_1s, limit_10s) = (RESTART_RATE * 1.0 + RESTART_RATE, RESTART_RATE * 10.0 + RESTART_RATE);
        println!("  [{n}] highest ELBv2 rate: {:.0} calls in any 1 s, {:.0} in any 10 s   budget (rate x window + burst) {limit_1s:.0} / {limit_10s:.0}: {}",
            f.max_1s, f.max_10s, verdict(f.max_1s <= limit_1s && f.max_10s <= limit_10s));
        println!("  [{n}] steady state: {:.2} (+/- {:.2} sampling error) ELBv2 calls per binding per resync period, measured over {} s   budget <= 1: {}",
            f.steady_calls_per_binding_per_resync, f.steady_sampling_error, STEADY_WINDOW.as_secs(),
            verdict(f.steady_calls_per_binding_per_resync - f.steady_sampling_error <= 1.0));
        println!(
            "  [{n}] event-driven change -> registered while verifications run: p50 {}  p99 {}   budget p99 <= 250 ms: {}",
            ms(f.change_p50),
            ms(f.change_p99),
            verdict(f.change_p99 <= Duration::from_millis(250))
        );
        println!(
            "  [{n}] controller peak RSS {:.1} MiB (first start {:.1}, restart {:.1})   budget <= 128 MiB: {}",
            f.rss_peak_kib as f64 / 1024.0,
            f.rss_peaks_kib.0 as f64 / 1024.0,
            f.rss_peaks_kib.1 as f64 / 1024.0,
            verdict(f.rss_peak_kib <= 128 * 1024)
        );
        all.push(f);
    }
    if let (Some(small), Some(big)) = (all.first(), all.last()) {
        if big.bindings > small.bindings {
            let per = |f: &Figures| {
                (
                    f.first_start.as_secs_f64() * 1000.0 / f.bindings as f64,
                    f.rss_peak_kib as f64 / f.bindings as f64,
                )
            };
            let ((t_small, m_small), (t_big, m_big)) = (per(small), per(big));
            println!(
                "  scaling {} -> {}: first start {t_small:.2} -> {t_big:.2} ms per binding (x{:.2}); peak RSS {m_small:.1} -> {m_big:.1} KiB per binding (x{:.2})",
                small.bindings, big.bindings, t_big / t_small, m_big / m_small
            );
        }
    }
}
