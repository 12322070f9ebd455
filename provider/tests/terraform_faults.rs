//! `terraform apply` of examples/alb-https through the fault proxy in front of moto: under 30%
//! throttling it succeeds and plans empty; after a hard failure mid-apply (every request refused),
//! a second apply converges from the recorded state without duplicates.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::aws::inventory;
use support::{terraforms, Moto, Workdir};
use tgbind_testkit::faults::{FaultProxy, Faults};

fn example(tf: &support::Terraform, moto: &Moto, proxy: &FaultProxy) -> Workdir {
    let mut w = Workdir::new(tf, moto);
    w.copy_example("alb-https");
    w.set_env("AWS_ENDPOINT_URL", &proxy.endpoint());
    w.set_env("AWS_REGION", "us-east-1");
    let subnets = moto.default_subnets();
    let vars = serde_json::json!({
        "vpc_id": moto.default_vpc(),
        "subnet_ids": &subnets[..2],
        "security_group_ids": [moto.default_security_group()],
        "certificate_arn": moto.certificate("faults.example.com"),
    });
    w.write_raw("terraform.tfvars.json", &vars.to_string());
    w
}

const FULL: (usize, usize, usize, usize) = (1, 4, 2, 2);

#[tokio::test]
async fn apply_succeeds_under_30_percent_throttling() {
    let tf = &terraforms()[0];
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let w = example(tf, &moto, &proxy);
    proxy.set(Faults {
        throttle: 0.3,
        ..Default::default()
    });
    w.apply();
    w.assert_no_changes("under throttling, right after apply");
    let throttled = proxy.counts().throttled.load(Ordering::Relaxed);
    assert!(throttled > 5, "only {throttled} requests throttled");
    assert_eq!(inventory(&moto).await, FULL);
    eprintln!("apply under 30% throttling: {throttled} requests throttled, all absorbed by retries");
}

#[tokio::test]
async fn a_hard_failure_mid_apply_leaves_state_a_second_apply_converges_from() {
    let tf = terraforms()[0].clone();
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let w = example(&tf, &moto, &proxy);
    // Apply in the background; once AWS has seen a few writes, refuse everything (403, which the
    // SDK does not retry), as if the credentials were revoked mid-apply.
    let dir = w.path().to_path_buf();
    let first = std::thread::scope(|scope| {
        let run = scope.spawn(|| w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false", "-parallelism=1"]));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while proxy.counts().forwarded.load(Ordering::Relaxed) < 12 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        proxy.set(Faults {
            deny_all: true,
            ..Default::default()
        });
        run.join().unwrap()
    });
    assert!(!first.ok, "the first apply should fail:\n{}", first.all());
    assert!(first.all().contains("AccessDenied"), "{}", first.all());
    let partial = inventory(&moto).await;
    assert!(
        partial != FULL && partial != (0, 0, 0, 0),
        "the failure was not mid-apply: {partial:?}"
    );
    assert!(dir.join("terraform.tfstate").exists(), "no state recorded");

    proxy.set(Faults::default());
    w.apply();
    assert_eq!(
        inventory(&moto).await,
        FULL,
        "duplicates or leftovers after the second apply (was {partial:?})"
    );
    w.assert_no_changes("after converging");
}
