//! A whole front door through the real Terraform CLI against moto: 1 ALB, 2 listeners, 50 target
//! groups and 40 rules (priorities allocated by the provider), then the same shape at 1,000
//! resources. Prints the provider's own CPU time per resource for apply and plan, the wall time of
//! a plan against the same plan with `-refresh=false`, so the provider's share of a plan is
//! visible, and the ELBv2 calls per refreshed resource of each kind (counted by a proxy in front of
//! moto) next to the three calls per target group a read-per-resource design makes.
//!
//! The provider runs in `--debug` mode as this process's child (Terraform reattaches to it), so its
//! CPU time can be read from /proc; debug mode skips the TLS handshake, which the provider bench
//! measures on its own.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Moto, Workdir};
use tgbind_testkit::faults::FaultProxy;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");

#[derive(Clone, Copy)]
struct Shape {
    target_groups: usize,
    rules: usize,
    /// Budget of provider CPU per resource (ms) for the plan, and for apply and destroy when set.
    cpu_budget_ms: f64,
    budget_covers_apply: bool,
}

impl Shape {
    fn resources(&self) -> usize {
        1 + 2 + self.target_groups + self.rules
    }
}

fn config(shape: Shape, subnets: &[String], vpc: &str, cert: &str) -> String {
    let (target_groups, rules) = (shape.target_groups, shape.rules);
    format!(
        r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "bench"
  subnets = ["{s0}", "{s1}"]
}}

resource "elbv2_target_group" "tg" {{
  count       = {target_groups}
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
  count        = {rules}
  listener_arn = elbv2_listener.https.arn

  action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg[(count.index + 1) % {target_groups}].arn
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

/// ELBv2 reads per kind of object, from the form bodies the proxy forwarded. A call counts for the
/// kind it describes (listings included); DescribeTags, which names objects of several kinds,
/// counts for each kind in proportion to the ARNs it names.
fn calls_by_kind(bodies: &[String]) -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    for body in bodies {
        let action = body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or_default();
        let kind = match action {
            "DescribeTargetGroups" | "DescribeTargetGroupAttributes" => "target group",
            "DescribeListeners" | "DescribeListenerAttributes" => "listener",
            "DescribeRules" => "rule",
            "DescribeLoadBalancers" | "DescribeLoadBalancerAttributes" => "load balancer",
            "DescribeTags" => "",
            _ => continue,
        };
        if !kind.is_empty() {
            *out.entry(kind).or_insert(0.0) += 1.0;
            continue;
        }
        // ARNs in the body, URL-encoded: ...%3Atargetgroup%2F..., %3Alistener%2F..., %3Alistener-rule%2F...
        let kinds: Vec<&'static str> = body
            .split('&')
            .filter_map(|kv| kv.split_once('=').map(|(_, v)| v))
            .filter_map(|v| {
                if v.contains("%3Atargetgroup%2F") {
                    Some("target group")
                } else if v.contains("%3Alistener-rule%2F") {
                    Some("rule")
                } else if v.contains("%3Alistener%2F") {
                    Some("listener")
                } else if v.contains("%3Aloadbalancer%2F") {
                    Some("load balancer")
                } else {
                    None
                }
            })
            .collect();
        for kind in &kinds {
            *out.entry(*kind).or_insert(0.0) += 1.0 / kinds.len() as f64;
        }
    }
    out
}

fn run(shape: Shape) {
    let resources = shape.resources();
    let per_resource = |d: Duration| d.as_secs_f64() * 1000.0 / resources as f64;
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let subnets = moto.default_subnets();
    let cert = moto.certificate("bench.example.com");
    let tf = support::terraforms().remove(0);
    let mut w = Workdir::new(&tf, &moto);
    w.set_endpoint(&proxy.endpoint());
    w.write_config(&config(shape, &subnets, &moto.default_vpc(), &cert));
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
    let mut refresh_calls = BTreeMap::new();
    for _ in 0..3 {
        let before = proxy.forwarded_bodies().len();
        with_refresh.push(timed(&w, pid, &reattach, &["plan", "-no-color", "-input=false"]));
        refresh_calls = calls_by_kind(&proxy.forwarded_bodies()[before..]);
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
    let limit = shape.cpu_budget_ms;
    let budget = |ms: f64| if ms <= limit { "within budget" } else { "OVER BUDGET" };
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };

    println!(
        "front door: 1 ALB, 2 listeners, {} target groups, {} rules = {resources} resources (Terraform {}, moto)",
        shape.target_groups, shape.rules, tf.version
    );
    let apply_ms = per_resource(apply.cpu);
    let apply_verdict = if shape.budget_covers_apply {
        format!("   budget <= {limit} ms: {}", budget(apply_ms))
    } else {
        String::new()
    };
    println!(
        "  apply    wall {:>6.2} s   provider CPU {:>7.1} ms = {apply_ms:.2} ms/resource{apply_verdict}",
        apply.wall.as_secs_f64(),
        apply.cpu.as_secs_f64() * 1000.0,
    );
    let plan_ms = per_resource(plan_cpu);
    println!(
        "  plan     wall {:>6.2} s   provider CPU {:>7.1} ms = {plan_ms:.2} ms/resource   budget <= {limit} ms: {}",
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
        "  plan / plan -refresh=false wall ratio {:.2} (the refresh reads {resources} objects from AWS)",
        plan_wall.as_secs_f64() / plan_nr_wall.as_secs_f64()
    );
    println!(
        "  destroy  wall {:>6.2} s   provider CPU {:>7.1} ms = {:.2} ms/resource",
        destroy.wall.as_secs_f64(),
        destroy.cpu.as_secs_f64() * 1000.0,
        per_resource(destroy.cpu)
    );
    let per = |kind: &str, count: usize| refresh_calls.get(kind).copied().unwrap_or(0.0) / count.max(1) as f64;
    let (tg, listener, rule) = (
        per("target group", shape.target_groups),
        per("listener", 2),
        per("rule", shape.rules),
    );
    println!(
        "  ELBv2 reads per refreshed resource: target group {tg:.2} (read per resource: 3)   budget <= 1.2: {}",
        verdict(tg <= 1.2)
    );
    let together = (per("listener", 1) + per("rule", 1)) / (2 + shape.rules) as f64;
    println!(
        "  ELBv2 reads per refreshed resource: listener {listener:.2} (DescribeListenerAttributes has no batch form), rule {rule:.2}, listeners and rules together {together:.2}   budget <= 0.3: {}",
        verdict(together <= 0.3)
    );
}

fn main() {
    run(Shape {
        target_groups: 50,
        rules: 40,
        cpu_budget_ms: 2.0,
        budget_covers_apply: true,
    });
    run(Shape {
        target_groups: 600,
        rules: 397,
        cpu_budget_ms: 1.0,
        budget_covers_apply: false,
    });
}
