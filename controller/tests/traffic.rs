//! Zero downtime with real requests: elb-dataplane in front of moto health-checks real serving
//! pods and routes a steady 200 requests/s to them while tgbind-controller keeps the target group
//! in step with the Service. Each proof has a control run that shows the same test catches
//! failures when the safeguard is taken away.

mod support;

use std::time::Duration;

use support::traffic::{Fleet, LoadBalancer};
use support::{wait_for, Controller, Env, Spec};
use tgbind_testkit::load::{Load, Report};

const GATE: &str = "target-health.elbv2.k8s.aws/web";
/// Health checks every 10 s / 10 = 1 s, three passes to turn healthy; a 10 s / 10 = 1 s drain.
const TIME_SCALE: f64 = 10.0;
const RATE: u32 = 200;
/// Each deleted pod keeps serving this long (longer than the drain, as it must be).
const GRACE: Duration = Duration::from_secs(3);

/// One proof at a time: each drives 200 requests/s, an apiserver and a controller on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn controller(env: &Env, identity: &str, aws_endpoint: &str) -> Controller {
    Controller::start(env, identity, &[("HEALTH_RECHECK", "300ms"), ("AWS_ENDPOINT_URL", aws_endpoint)])
}

/// What goes wrong around the controller during the rollout.
#[derive(Clone, Copy, PartialEq)]
enum Weather {
    Calm,
    /// Two replicas; at each step the leader is killed (SIGKILL) and a new replica started, while
    /// 30% of the controller's AWS calls are throttled.
    Storm,
}

/// Replaces three pods one by one under load, as a Deployment with maxSurge 1 and
/// maxUnavailable 0 does: each new pod is Ready when its readiness gate passes (`gated`) or at
/// once (no gate), and only then is an old pod deleted.
async fn rolling_update(gated: bool, weather: Weather) -> Report {
    let env = Env::start_with_dataplane(TIME_SCALE).await;
    let dataplane = env.dataplane.clone().unwrap();
    // The controller reaches the data plane through a proxy that throttles in a storm.
    let faults = tgbind_testkit::faults::FaultProxy::start(dataplane.api.port());
    let aws = faults.endpoint();
    let lb = LoadBalancer::create(&env, "web", 10, 3, 10).await;
    let mut fleet = Fleet::new(&env, "web", gated.then_some(GATE)).await;
    for i in 0..3u8 {
        fleet.start(&format!("old-{i}"), 1, 10 + i).await;
        if gated {
            fleet.mark_ready(&format!("old-{i}")).await;
        }
    }
    let mut replicas = vec![controller(&env, "replica-0", &aws)];
    if weather == Weather::Storm {
        replicas.push(controller(&env, "replica-1", &aws));
    }
    env.binding("web", Spec::ip("web", 80, &lb.group)).await;
    wait_for("the old pods' targets healthy", Duration::from_secs(30), || async {
        let states = dataplane.target_states(&lb.group);
        states.len() == 3 && states.values().all(|s| s == "healthy")
    })
    .await;

    let load = Load::start(lb.address, "web.example.com", "/", RATE);
    tokio::time::sleep(Duration::from_secs(1)).await;
    if weather == Weather::Storm {
        faults.set(tgbind_testkit::faults::Faults {
            throttle: 0.3,
            ..Default::default()
        });
    }
    for i in 0..3u8 {
        let (new, old) = (format!("new-{i}"), format!("old-{i}"));
        fleet.start(&new, 2, 10 + i).await;
        if weather == Weather::Storm {
            let mut leader = None;
            wait_for("a leader", Duration::from_secs(30), || {
                leader = replicas.iter().position(|r| r.is_leader());
                std::future::ready(leader.is_some())
            })
            .await;
            replicas[leader.unwrap()].kill();
            replicas.remove(leader.unwrap());
            replicas.push(controller(&env, &format!("replica-{}", i + 2), &aws));
        }
        if gated {
            wait_for("the new pod's gate passes", Duration::from_secs(30), || async {
                env.pod_condition(&new, GATE).await.is_some_and(|c| c.0 == "True")
            })
            .await;
            fleet.mark_ready(&new).await;
        }
        let old_ip = fleet.ip(&old);
        fleet.delete(&old, GRACE).await;
        wait_for("the old pod's target deregistered", Duration::from_secs(15), || async {
            dataplane
                .target_states(&lb.group)
                .iter()
                .all(|(target, state)| target.id != old_ip || state == "draining")
        })
        .await;
        fleet.forget(&old).await;
    }
    wait_for("the new pods' targets healthy", Duration::from_secs(30), || async {
        let states = dataplane.target_states(&lb.group);
        states.len() == 3 && states.iter().all(|(t, s)| t.id.starts_with("127.0.2.") && s == "healthy")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    println!(
        "rolling update of 3 pods, {}{}: {}",
        if gated { "readiness gates" } else { "no gates (control)" },
        if weather == Weather::Storm {
            format!(
                ", leader killed at each step, {} AWS calls throttled",
                faults.counts().throttled.load(std::sync::atomic::Ordering::Relaxed)
            )
        } else {
            String::new()
        },
        report.summary()
    );
    report
}

#[tokio::test]
async fn rolling_update_with_readiness_gates_loses_no_request_under_load() {
    let _one = ONE_AT_A_TIME.lock().await;
    let report = rolling_update(true, Weather::Calm).await;
    assert_eq!(report.failed(), 0, "{}", report.summary());
    assert!(report.rate() >= RATE as f64 * 0.9, "{}", report.summary());
    let by = report.answered_by();
    assert!(
        (0..3).all(|i| by.contains_key(&format!("old-{i}")) && by.contains_key(&format!("new-{i}"))),
        "every pod answered: {by:?}"
    );
}

/// The control: the same rollout without readiness gates deletes old pods while the new targets
/// are still `initial`; the load balancer has nothing routable and requests fail.
#[tokio::test]
async fn control_rolling_update_without_readiness_gates_fails_requests() {
    let _one = ONE_AT_A_TIME.lock().await;
    let report = rolling_update(false, Weather::Calm).await;
    assert!(report.failed() > 0, "the control must show failures: {}", report.summary());
}

/// Leader failover at every step (the leader SIGKILLed, a new replica started) with 30% of AWS
/// calls throttled: the gates still hold each old pod until its successor is healthy.
#[tokio::test]
async fn rolling_update_through_leader_kills_and_throttling_loses_no_request() {
    let _one = ONE_AT_A_TIME.lock().await;
    let report = rolling_update(true, Weather::Storm).await;
    assert_eq!(report.failed(), 0, "{}", report.summary());
}

/// Draining and health as the data plane reports them: a removed pod's target drains (one
/// DeregisterTargets, never a second while more events arrive) and gets no new requests while its
/// server still serves; a new target counts as healthy in the binding's status once its checks
/// pass, with no Kubernetes event in between.
#[tokio::test]
async fn draining_targets_get_no_new_requests_and_are_deregistered_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::start_with_dataplane(TIME_SCALE).await;
    let dataplane = env.dataplane.clone().unwrap();
    let faults = tgbind_testkit::faults::FaultProxy::start(dataplane.api.port());
    let lb = LoadBalancer::create(&env, "drain", 10, 2, 30).await;
    let mut fleet = Fleet::new(&env, "web", None).await;
    fleet.start("p1", 3, 1).await;
    fleet.start("p2", 3, 2).await;
    let _controller = controller(&env, "drain", &faults.endpoint());
    env.binding("web", Spec::ip("web", 80, &lb.group)).await;
    wait_for("status counts two healthy targets", Duration::from_secs(30), || async {
        env.tgbs()
            .get("web")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.healthy_targets == Some(2))
    })
    .await;

    let load = Load::start(lb.address, "web.example.com", "/", RATE);
    tokio::time::sleep(Duration::from_secs(1)).await;
    fleet.delete("p2", Duration::from_secs(5)).await;
    wait_for("p2 draining", Duration::from_secs(10), || async {
        dataplane
            .target_states(&lb.group)
            .iter()
            .any(|(t, s)| t.id == "127.0.3.2" && s == "draining")
    })
    .await;
    let draining_from = load.so_far().elapsed;
    // More endpoint events while p2 drains.
    fleet.start("p3", 3, 3).await;
    fleet.forget("p2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.stop().await;
    println!("draining under load: {}", report.summary());
    assert_eq!(report.failed(), 0, "{}", report.summary());
    let after = report
        .window(draining_from + Duration::from_millis(50), report.elapsed)
        .answered_by();
    assert!(!after.contains_key("p2"), "a draining target got new requests: {after:?}");
    assert!(after.contains_key("p1"), "{after:?}");
    let deregistrations = faults
        .forwarded_bodies()
        .iter()
        .filter(|b| b.contains("Action=DeregisterTargets") && b.contains("127.0.3.2"))
        .count();
    assert_eq!(deregistrations, 1, "a draining target is deregistered once");
}
