//! Serving pods with their Kubernetes objects, for the proofs under load: each pod is a real HTTP
//! server on its own loopback address (`tgbind_testkit::pods`), and the Pod and EndpointSlice
//! objects are written as the kubelet and the EndpointSlice controller would (there are neither
//! here): ContainersReady when the server listens, Ready once every readiness gate is True,
//! terminating endpoints while a deleted pod serves out its grace.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tgbind_aws::elbv2::types as t;
use tgbind_testkit::pods::ServingPod;

use super::Env;

/// An ALB with an HTTP listener forwarding to an `ip` target group whose health checks (every
/// `interval_s` seconds, `healthy_threshold` passes) hit `/healthz`; `deregistration_delay_s` drains.
pub struct LoadBalancer {
    pub group: String,
    pub listener: String,
    pub address: SocketAddr,
}

impl LoadBalancer {
    pub async fn create(env: &Env, name: &str, interval_s: i32, healthy_threshold: i32, deregistration_delay_s: u32) -> LoadBalancer {
        let lb = env
            .elb
            .create_load_balancer()
            .name(name)
            .r#type(t::LoadBalancerTypeEnum::Application)
            .set_subnets(Some(env.moto.default_subnets()))
            .send()
            .await
            .unwrap();
        let lb = lb.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let group = env
            .elb
            .create_target_group()
            .name(name)
            .protocol(t::ProtocolEnum::Http)
            .port(8080)
            .vpc_id(&env.vpc)
            .target_type(t::TargetTypeEnum::Ip)
            .health_check_path("/healthz")
            .health_check_interval_seconds(interval_s)
            .health_check_timeout_seconds(2)
            .healthy_threshold_count(healthy_threshold)
            .unhealthy_threshold_count(2)
            .send()
            .await
            .unwrap();
        let group = group.target_groups()[0].target_group_arn().unwrap().to_string();
        env.elb
            .modify_target_group_attributes()
            .target_group_arn(&group)
            .attributes(
                t::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(deregistration_delay_s.to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let listener = env
            .elb
            .create_listener()
            .load_balancer_arn(&lb)
            .protocol(t::ProtocolEnum::Http)
            .port(80)
            .default_actions(
                t::Action::builder()
                    .r#type(t::ActionTypeEnum::Forward)
                    .target_group_arn(&group)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let listener = listener.listeners()[0].listener_arn().unwrap().to_string();
        let address = env
            .dataplane
            .as_ref()
            .expect("an Env with a data plane")
            .wait_for_listener(&listener, Duration::from_secs(10));
        LoadBalancer { group, listener, address }
    }
}

struct Member {
    name: String,
    server: ServingPod,
    ready: bool,
    terminating: bool,
}

/// The pods of Service `service` (port 80 -> 8080) and its one EndpointSlice.
pub struct Fleet<'e> {
    env: &'e Env,
    service: String,
    gate: Option<String>,
    members: Vec<Member>,
}

impl<'e> Fleet<'e> {
    /// `gate`: the readiness gate the pods carry (`target-health.elbv2.k8s.aws/<binding>`).
    pub async fn new(env: &'e Env, service: &str, gate: Option<&str>) -> Fleet<'e> {
        env.service(service, &[("http", 80, 8080)]).await;
        Fleet {
            env,
            service: service.into(),
            gate: gate.map(str::to_string),
            members: Vec::new(),
        }
    }

    /// Starts pod `name` serving on 127.0.`subnet`.`host`:8080; Ready at once unless it has a gate.
    pub async fn start(&mut self, name: &str, subnet: u8, host: u8) {
        let server = ServingPod::start(name, Ipv4Addr::new(127, 0, subnet, host), 8080).expect("the pod's address binds");
        let ready = self.gate.is_none();
        self.env.pod(name, &server.ip(), self.gate.as_deref(), true, ready).await;
        self.members.push(Member {
            name: name.into(),
            server,
            ready,
            terminating: false,
        });
        self.write_slice().await;
    }

    pub fn ip(&self, name: &str) -> String {
        self.member(name).server.ip()
    }

    fn member(&self, name: &str) -> &Member {
        self.members.iter().find(|m| m.name == name).expect("a pod of the fleet")
    }

    /// The kubelet: every gate True, so the pod turns Ready (and its endpoint ready).
    pub async fn mark_ready(&mut self, name: &str) {
        let ip = self.ip(name);
        self.env.pod_ready(name, &ip, true, true).await;
        self.members.iter_mut().find(|m| m.name == name).unwrap().ready = true;
        self.write_slice().await;
    }

    /// `kubectl delete pod`: the endpoint turns terminating and not ready, the server keeps
    /// serving for `grace`, then stops.
    pub async fn delete(&mut self, name: &str, grace: Duration) {
        let member = self.members.iter_mut().find(|m| m.name == name).unwrap();
        member.server.terminate(grace);
        member.ready = false;
        member.terminating = true;
        self.env.delete_pod(name).await;
        self.write_slice().await;
    }

    /// The pod object is gone: its endpoint leaves the slice.
    pub async fn forget(&mut self, name: &str) {
        self.members.retain(|m| m.name != name);
        self.write_slice().await;
    }

    async fn write_slice(&self) {
        let endpoints: Vec<(String, &str, bool, bool)> = self
            .members
            .iter()
            .map(|m| (m.server.ip(), m.name.as_str(), m.ready, m.terminating))
            .collect();
        let refs: Vec<(&str, &str, bool, bool)> = endpoints.iter().map(|(ip, n, r, t)| (ip.as_str(), *n, *r, *t)).collect();
        self.env
            .slice_of_pods(&format!("{}-a", self.service), &self.service, 8080, &refs)
            .await;
    }
}
