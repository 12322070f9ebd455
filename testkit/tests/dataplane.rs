//! elb-dataplane against a real moto_server: real health checks of real serving pods, routing
//! under load, draining after DeregisterTargets, and DescribeTargetHealth answered with what the
//! checks saw.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tgbind_aws::elbv2;
use tgbind_aws::elbv2::types as t;
use tgbind_testkit::dataplane::{Dataplane, Options};
use tgbind_testkit::load::{get, Load};
use tgbind_testkit::moto::{elbv2_client_at, test_credentials, Moto};
use tgbind_testkit::pods::ServingPod;

/// Health checks every 0.5 s, deregistration delays of 1 s (configured 5 s and 10 s).
const TIME_SCALE: f64 = 10.0;

struct Setup {
    moto: Moto,
    dataplane: Dataplane,
    elb: elbv2::Client,
}

fn start() -> Setup {
    let moto = Moto::start();
    let dataplane = Dataplane::start(
        &moto.endpoint(),
        Options {
            time_scale: TIME_SCALE,
            refresh: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .unwrap();
    let elb = elbv2_client_at(&dataplane.endpoint(), test_credentials());
    Setup { moto, dataplane, elb }
}

/// A forward to one group.
fn forward(group: &str) -> t::Action {
    t::Action::builder()
        .r#type(t::ActionTypeEnum::Forward)
        .target_group_arn(group)
        .build()
}

impl Setup {
    /// A listener with this default action; its ARN.
    async fn listener(&self, load_balancer: &str, protocol: t::ProtocolEnum, port: i32, action: t::Action) -> String {
        let out = self
            .elb
            .create_listener()
            .load_balancer_arn(load_balancer)
            .protocol(protocol)
            .port(port)
            .default_actions(action)
            .send()
            .await
            .unwrap();
        out.listeners()[0].listener_arn().unwrap().to_string()
    }

    async fn load_balancer(&self, name: &str, kind: t::LoadBalancerTypeEnum) -> String {
        let out = self
            .elb
            .create_load_balancer()
            .name(name)
            .r#type(kind)
            .set_subnets(Some(self.moto.default_subnets()))
            .send()
            .await
            .unwrap();
        out.load_balancers()[0].load_balancer_arn().unwrap().to_string()
    }

    async fn group(&self, name: &str, protocol: t::ProtocolEnum, health_path: Option<&str>) -> String {
        let mut request = self
            .elb
            .create_target_group()
            .name(name)
            .protocol(protocol.clone())
            .port(8080)
            .vpc_id(self.moto.default_vpc())
            .target_type(t::TargetTypeEnum::Ip)
            .health_check_interval_seconds(5)
            .health_check_timeout_seconds(2)
            .healthy_threshold_count(2)
            .unhealthy_threshold_count(2);
        if let Some(path) = health_path {
            request = request
                .health_check_protocol(t::ProtocolEnum::Http)
                .health_check_path(path)
                .matcher(t::Matcher::builder().http_code("200").build());
        } else {
            request = request.health_check_protocol(t::ProtocolEnum::Tcp);
        }
        let arn = request.send().await.unwrap().target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(
                t::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value("10")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        arn
    }

    async fn register(&self, group: &str, pods: &[&ServingPod]) {
        let mut request = self.elb.register_targets().target_group_arn(group);
        for pod in pods {
            request = request.targets(t::TargetDescription::builder().id(pod.ip()).port(8080).build());
        }
        request.send().await.unwrap();
    }

    async fn deregister(&self, group: &str, pod: &ServingPod) {
        self.elb
            .deregister_targets()
            .target_group_arn(group)
            .targets(t::TargetDescription::builder().id(pod.ip()).port(8080).build())
            .send()
            .await
            .unwrap();
    }

    /// (ip, state, reason) of each target, as the API answers.
    async fn health(&self, group: &str) -> BTreeSet<(String, String, String)> {
        let out = self.elb.describe_target_health().target_group_arn(group).send().await.unwrap();
        out.target_health_descriptions()
            .iter()
            .map(|d| {
                let h = d.target_health().unwrap();
                (
                    d.target().unwrap().id().unwrap_or_default().to_string(),
                    h.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    h.reason().map(|r| r.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn wait_for_state(&self, group: &str, ip: &str, state: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let health = self.health(group).await;
            if health.iter().any(|(i, s, _)| i == ip && s == state) {
                return start.elapsed();
            }
            assert!(start.elapsed() < limit, "{ip} never {state}: {health:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn pod(name: &str, last_octet: u8) -> ServingPod {
    ServingPod::start(name, Ipv4Addr::new(127, 0, 0, last_octet), 8080).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_routing_draining_and_fail_open_under_load() {
    let s = start();
    let lb = s.load_balancer("web", t::LoadBalancerTypeEnum::Application).await;
    let group = s.group("web", t::ProtocolEnum::Http, Some("/healthz")).await;
    let spare = s.group("spare", t::ProtocolEnum::Http, Some("/healthz")).await;
    let listener = s.listener(&lb, t::ProtocolEnum::Http, 80, forward(&group)).await;
    let address = s.dataplane.wait_for_listener(&listener, Duration::from_secs(5));
    let (a, b) = (pod("web-a", 31), pod("web-b", 32));

    assert_eq!(get(address, "web", "/").await, Err("503".into()), "no target yet: 503");
    s.register(&group, &[&a, &b]).await;
    let initial = s.health(&group).await;
    assert!(initial.iter().all(|(_, state, _)| state == "initial"), "{initial:?}");
    assert_eq!(get(address, "web", "/").await, Err("503".into()), "initial targets get no requests");
    // Two passing checks 0.5 s apart (healthy_threshold 2, interval 5 s / 10).
    let took = s.wait_for_state(&group, "127.0.0.31", "healthy", Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(400),
        "healthy after {took:?}: before the threshold could pass"
    );
    s.wait_for_state(&group, "127.0.0.32", "healthy", Duration::from_secs(5)).await;

    // A group no listener forwards to is `unused`; a target not registered is NotRegistered.
    s.register(&spare, &[&a]).await;
    assert_eq!(
        s.health(&spare).await,
        BTreeSet::from([("127.0.0.31".into(), "unused".into(), "Target.NotInUse".into())])
    );

    let load = Load::start(address, "web", "/", 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // b fails its checks: unhealthy after two, and no longer gets requests.
    b.fail_health_checks(true);
    s.wait_for_state(&group, "127.0.0.32", "unhealthy", Duration::from_secs(5)).await;
    assert!(s
        .health(&group)
        .await
        .contains(&("127.0.0.32".into(), "unhealthy".into(), "Target.ResponseCodeMismatch".into())));
    let marked_unhealthy = load.so_far().elapsed;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // a deregistered: draining for 1 s, then gone; the group has only unhealthy b and fails open.
    let before_deregistering = load.so_far().elapsed;
    s.deregister(&group, &a).await;
    assert!(s
        .health(&group)
        .await
        .contains(&("127.0.0.31".into(), "draining".into(), "Target.DeregistrationInProgress".into())));
    let deregistered = load.so_far().elapsed;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let gone: Vec<String> = s.health(&group).await.into_iter().map(|h| h.0).collect();
    assert_eq!(gone, ["127.0.0.32"], "a left after its deregistration delay");
    let report = load.stop().await;
    eprintln!("{}", report.summary());

    assert_eq!(report.failed(), 0, "{:?}", report.failures());
    assert!(report.rate() > 150.0, "{}", report.summary());
    let healthy_both = report.window(Duration::ZERO, Duration::from_secs(2)).answered_by();
    assert!(healthy_both["web-a"] > 50 && healthy_both["web-b"] > 50, "{healthy_both:?}");
    let only_a = report
        .window(marked_unhealthy + Duration::from_millis(100), before_deregistering)
        .answered_by();
    assert_eq!(only_a.keys().collect::<Vec<_>>(), ["web-a"], "unhealthy b got requests: {only_a:?}");
    let fail_open = report
        .window(deregistered + Duration::from_millis(100), report.elapsed)
        .answered_by();
    assert_eq!(fail_open.keys().collect::<Vec<_>>(), ["web-b"], "{fail_open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_weights_fixed_responses_redirects_and_tcp_forwarding() {
    let s = start();
    let alb = s.load_balancer("rules", t::LoadBalancerTypeEnum::Application).await;
    let (blue, green) = (
        s.group("blue", t::ProtocolEnum::Http, Some("/")).await,
        s.group("green", t::ProtocolEnum::Http, Some("/")).await,
    );
    let (blue_pod, green_pod) = (pod("blue", 41), pod("green", 42));
    let fixed = t::Action::builder()
        .r#type(t::ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            t::FixedResponseActionConfig::builder()
                .status_code("404")
                .content_type("text/plain")
                .message_body("nothing here")
                .build(),
        )
        .build();
    let listener = s.listener(&alb, t::ProtocolEnum::Http, 80, fixed).await;
    let weighted = t::Action::builder()
        .r#type(t::ActionTypeEnum::Forward)
        .forward_config(
            t::ForwardActionConfig::builder()
                .target_groups(t::TargetGroupTuple::builder().target_group_arn(&blue).weight(1).build())
                .target_groups(t::TargetGroupTuple::builder().target_group_arn(&green).weight(3).build())
                .build(),
        )
        .build();
    let condition = |field: &str, value: &str| t::RuleCondition::builder().field(field).values(value).build();
    s.elb
        .create_rule()
        .listener_arn(&listener)
        .priority(10)
        .conditions(condition("host-header", "app.example.com"))
        .conditions(condition("path-pattern", "/api/*"))
        .actions(weighted)
        .send()
        .await
        .unwrap();
    let redirect = t::Action::builder()
        .r#type(t::ActionTypeEnum::Redirect)
        .redirect_config(
            t::RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(t::RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build();
    s.elb
        .create_rule()
        .listener_arn(&listener)
        .priority(5)
        .conditions(condition("path-pattern", "/login"))
        .actions(redirect)
        .send()
        .await
        .unwrap();
    let address = s.dataplane.wait_for_listener(&listener, Duration::from_secs(5));
    s.register(&blue, &[&blue_pod]).await;
    s.register(&green, &[&green_pod]).await;
    s.wait_for_state(&blue, "127.0.0.41", "healthy", Duration::from_secs(5)).await;
    s.wait_for_state(&green, "127.0.0.42", "healthy", Duration::from_secs(5)).await;

    assert_eq!(
        get(address, "app.example.com", "/other").await,
        Err("404".into()),
        "the default rule"
    );
    assert_eq!(
        get(address, "other.example.com", "/api/x").await,
        Err("404".into()),
        "both conditions must match"
    );
    assert_eq!(
        get(address, "app.example.com", "/login").await,
        Err("301".into()),
        "the redirect rule"
    );
    let load = Load::start(address, "app.example.com", "/api/items", 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop().await;
    assert_eq!(report.failed(), 0, "{}", report.summary());
    let by = report.answered_by();
    let green_share = by["green"] as f64 / report.sent() as f64;
    assert!((0.65..0.85).contains(&green_share), "weights 1:3 gave {by:?}");

    // An NLB: TCP forwarded to a TCP-checked group.
    let nlb = s.load_balancer("tcp", t::LoadBalancerTypeEnum::Network).await;
    let tcp_group = s.group("tcp", t::ProtocolEnum::Tcp, None).await;
    let tcp_listener = s.listener(&nlb, t::ProtocolEnum::Tcp, 9000, forward(&tcp_group)).await;
    s.register(&tcp_group, &[&blue_pod]).await;
    s.wait_for_state(&tcp_group, "127.0.0.41", "healthy", Duration::from_secs(5)).await;
    let tcp_address = s.dataplane.wait_for_listener(&tcp_listener, Duration::from_secs(5));
    assert_eq!(get(tcp_address, "any", "/").await, Ok("blue".into()));
}

/// One GET with an optional Cookie header: (status, body, Set-Cookie values).
async fn request(address: std::net::SocketAddr, cookie: Option<&str>) -> (u16, String, Vec<String>) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut builder = hyper::Request::get("/").header(hyper::header::HOST, "web");
    if let Some(c) = cookie {
        builder = builder.header(hyper::header::COOKIE, c);
    }
    let response = sender
        .send_request(builder.body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap())
        .await
        .unwrap();
    let cookies = response
        .headers()
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).trim().to_string(), cookies)
}

impl Setup {
    async fn attribute(&self, group: &str, key: &str, value: &str) {
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(group)
            .attributes(t::TargetGroupAttribute::builder().key(key).value(value).build())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_and_target_stickiness_and_slow_start() {
    let s = start();
    let alb = s.load_balancer("sticky", t::LoadBalancerTypeEnum::Application).await;
    let (blue, green) = (
        s.group("blue", t::ProtocolEnum::Http, Some("/")).await,
        s.group("green", t::ProtocolEnum::Http, Some("/")).await,
    );
    let (blue_1, blue_2, green_1) = (pod("blue-1", 51), pod("blue-2", 52), pod("green-1", 53));
    s.attribute(&blue, "stickiness.enabled", "true").await;
    s.attribute(&blue, "stickiness.type", "lb_cookie").await;
    let weighted = t::Action::builder()
        .r#type(t::ActionTypeEnum::Forward)
        .forward_config(
            t::ForwardActionConfig::builder()
                .target_groups(t::TargetGroupTuple::builder().target_group_arn(&blue).weight(1).build())
                .target_groups(t::TargetGroupTuple::builder().target_group_arn(&green).weight(1).build())
                .target_group_stickiness_config(
                    t::TargetGroupStickinessConfig::builder()
                        .enabled(true)
                        .duration_seconds(600)
                        .build(),
                )
                .build(),
        )
        .build();
    let listener = s.listener(&alb, t::ProtocolEnum::Http, 80, weighted).await;
    let address = s.dataplane.wait_for_listener(&listener, Duration::from_secs(5));
    s.register(&blue, &[&blue_1, &blue_2]).await;
    s.register(&green, &[&green_1]).await;
    for ip in ["127.0.0.51", "127.0.0.52"] {
        s.wait_for_state(&blue, ip, "healthy", Duration::from_secs(5)).await;
    }
    s.wait_for_state(&green, "127.0.0.53", "healthy", Duration::from_secs(5)).await;

    // Without cookies, both groups and both blue targets answer.
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        seen.insert(request(address, None).await.1);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // A client that got blue with its cookies stays on blue and on the same blue target.
    let (pod_name, cookies) = loop {
        let (status, pod_name, cookies) = request(address, None).await;
        assert_eq!(status, 200);
        if pod_name.starts_with("blue") {
            break (pod_name, cookies);
        }
    };
    assert!(cookies.iter().any(|c| c.starts_with("AWSALBTG=")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("AWSALB=127.0.0.5")), "{cookies:?}");
    let cookie_header = cookies.join("; ");
    for _ in 0..30 {
        assert_eq!(
            request(address, Some(&cookie_header)).await.1,
            pod_name,
            "sticky to its group and target"
        );
    }
    // Only the group cookie: always blue, either target.
    let group_cookie = cookies.iter().find(|c| c.starts_with("AWSALBTG=")).unwrap().clone();
    let mut blue_seen = BTreeSet::new();
    for _ in 0..40 {
        let answer = request(address, Some(&group_cookie)).await.1;
        assert!(answer.starts_with("blue"), "{answer}");
        blue_seen.insert(answer);
    }
    assert_eq!(blue_seen.len(), 2, "{blue_seen:?}");

    // Slow start (60 s configured, 6 s here): a new green target gets a growing share.
    s.attribute(&green, "slow_start.duration_seconds", "60").await;
    let green_2 = pod("green-2", 54);
    s.register(&green, &[&green_2]).await;
    s.wait_for_state(&green, "127.0.0.54", "healthy", Duration::from_secs(5)).await;
    let load = Load::start(address, "web", "/", 200);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let report = load.stop().await;
    let share = |from: u64, to: u64| {
        let by = report.window(Duration::from_millis(from), Duration::from_millis(to)).answered_by();
        let (new, old) = (*by.get("green-2").unwrap_or(&0) as f64, *by.get("green-1").unwrap_or(&0) as f64);
        new / (new + old).max(1.0)
    };
    let (early, late) = (share(0, 700), share(6500, 8000));
    eprintln!("slow start: the new target's share of its group {early:.2} in its first 0.7 s, {late:.2} after the ramp");
    // Without slow start it would get half from the start.
    assert!(
        early < 0.33 && early < late - 0.15,
        "{early:.2} of the group's requests in the first 0.7 s of a 6 s slow start, {late:.2} after"
    );
    assert!((0.35..0.65).contains(&late), "{late:.2} after the slow start");
}
