//! A whole front door through the real Terraform CLI against moto: 1 ALB, 2 listeners, 50 target
//! groups and 40 rules (priorities allocated by the provider). Prints the provider's own CPU time
//! per resource for apply and plan (budget <= 2 ms), and the wall time of a plan against the same
//! plan with `-refresh=false`, so the provider's share of a plan is visible.
//!
//! The provider runs in `--debug` mode as this process's child (Terraform reattaches to it), so its
//! CPU time can be read from /proc; debug mode skips the TLS handshake, which the provider bench
//! measures on its own.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Moto, Workdir};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");
const TARGET_GROUPS: usize = 50;
const RULES: usize = 40;
const RESOURCES: usize = 1 + 2 + TARGET_GROUPS + RULES;

fn config(subnets: &[String], vpc: &str, cert: &str) -> String {
    format!(
        r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "bench"
  subnets = ["{s0}", "{s1}"]
}}

resource "elbv2_target_group" "tg" {{
  count       = {TARGET_GROUPS}
  name        = "bench-${{count.index}}"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = "{vpc}"

  health_check {{
    path = "/healthz"
  }}
}}

resource "elbv2_listener" "http" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80

  default_action {{
    type = "redirect"

    redirect {{
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }}
  }}
}}

resource "elbv2_listener" "https" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "{cert}"

  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg[0].arn
  }}
}}

resource "elbv2_listener_rule" "r" {{
  count        = {RULES}
  listener_arn = elbv2_listener.https.arn

  action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg[count.index + 1].arn
  }}

  condition {{
    path_pattern {{
      values = ["/svc-${{count.index}}/*"]
    }}
  }}
}}
"#,
        s0 = subnets[0],
        s1 = subnets[1]
    )
}

/// User + system CPU time of a process (all threads), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("provider is running");
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // /proc counts in USER_HZ, which the Linux ABI fixes at 100 per second.
    Duration::from_millis(ticks * 10)
}

struct Step {
    wall: Duration,
    cpu: Duration,
}

fn timed(w: &Workdir, pid: u32, reattach: &str, args: &[&str]) -> Step {
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let run = w.terraform_with_env(args, &[("TF_REATTACH_PROVIDERS", reattach)]);
    let wall = started.elapsed();
    assert!(run.ok, "terraform {args:?} failed:\n{}", run.all());
    Step {
        wall,
        cpu: cpu_time(pid) - cpu_before,
    }
}

fn per_resource(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0 / RESOURCES as f64
}

fn main() {
    let moto = Moto::start();
    let subnets = moto.default_subnets();
    let cert = moto.certificate("bench.example.com");
    let tf = support::terraforms().remove(0);
    let w = Workdir::new(&tf, &moto);
    w.write_config(&config(&subnets, &moto.default_vpc(), &cert));

    let mut provider = Command::new(BIN)
        .arg("--debug")
        .env("AWS_ACCESS_KEY_ID", tgbind_testkit::secrets::AWS_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", tgbind_testkit::secrets::AWS_SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = provider.id();
    let reattach = BufReader::new(provider.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("export TF_REATTACH_PROVIDERS='")
                .map(|r| r.trim_end_matches('\'').to_string())
        })
        .expect("debug mode prints TF_REATTACH_PROVIDERS");

    let apply = timed(&w, pid, &reattach, &["apply", "-auto-approve", "-no-color", "-input=false"]);
    // Warm-up plan, then alternate plans with and without refresh so machine noise hits both.
    timed(&w, pid, &reattach, &["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    let (mut with_refresh, mut without) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with_refresh.push(timed(&w, pid, &reattach, &["plan", "-no-color", "-input=false"]));
        without.push(timed(&w, pid, &reattach, &["plan", "-no-color", "-input=false", "-refresh=false"]));
    }
    let destroy = timed(&w, pid, &reattach, &["destroy", "-auto-approve", "-no-color", "-input=false"]);
    let _ = provider.kill();
    let _ = provider.wait();

    let median = |steps: &[Step], f: fn(&Step) -> Duration| {
        let mut v: Vec<Duration> = steps.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    let plan_wall = median(&with_refresh, |s| s.wall);
    let plan_cpu = median(&with_refresh, |s| s.cpu);
    let plan_nr_wall = median(&without, |s| s.wall);
    let plan_nr_cpu = median(&without, |s| s.cpu);
    let budget = |ms: f64| if ms <= 2.0 { "within budget" } else { "OVER BUDGET" };

    println!(
        "front door: 1 ALB, 2 listeners, {TARGET_GROUPS} target groups, {RULES} rules = {RESOURCES} resources (Terraform {}, moto)",
        tf.version
    );
    let apply_ms = per_resource(apply.cpu);
    println!(
        "  apply    wall {:>6.2} s   provider CPU {:>7.1} ms = {apply_ms:.2} ms/resource   budget <= 2 ms: {}",
        apply.wall.as_secs_f64(),
        apply.cpu.as_secs_f64() * 1000.0,
        budget(apply_ms)
    );
    let plan_ms = per_resource(plan_cpu);
    println!(
        "  plan     wall {:>6.2} s   provider CPU {:>7.1} ms = {plan_ms:.2} ms/resource   budget <= 2 ms: {}",
        plan_wall.as_secs_f64(),
        plan_cpu.as_secs_f64() * 1000.0,
        budget(plan_ms)
    );
    println!(
        "  plan -refresh=false wall {:>6.2} s   provider CPU {:>7.1} ms = {:.2} ms/resource",
        plan_nr_wall.as_secs_f64(),
        plan_nr_cpu.as_secs_f64() * 1000.0,
        per_resource(plan_nr_cpu)
    );
    println!(
        "  plan / plan -refresh=false wall ratio {:.2} (the refresh reads {RESOURCES} objects from AWS)",
        plan_wall.as_secs_f64() / plan_nr_wall.as_secs_f64()
    );
    println!(
        "  destroy  wall {:>6.2} s   provider CPU {:>7.1} ms = {:.2} ms/resource",
        destroy.wall.as_secs_f64(),
        destroy.cpu.as_secs_f64() * 1000.0,
        per_resource(destroy.cpu)
    );
}
