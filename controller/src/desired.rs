//! Pure decisions: which targets a binding wants, and which AWS writes get the group there.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tgbind_aws::{HealthState, Registration, Target, TargetHealth};

use crate::crd::IpAddressType;
use crate::endpoints::{Slice, SliceEndpoint};
use crate::nodes::eligible_instance;

/// Why a binding's targets cannot be computed. None of these deregisters anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("Service {0:?} has no port {1}")]
    PortNotFound(String, String),
    #[error("Service {0:?} port {1} has no nodePort (instance targets need a Service of type NodePort or LoadBalancer)")]
    NoNodePort(String, String),
}

/// The Service port a binding refers to: by number (`spec.ports[].port`) or by name, never by
/// target port.
fn find_port<'a>(service: &'a Service, port: &IntOrString) -> Result<&'a ServicePort, ResolveError> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    ports
        .iter()
        .find(|p| match port {
            IntOrString::Int(n) => p.port == *n,
            IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
        })
        .ok_or_else(|| ResolveError::PortNotFound(service.metadata.name.clone().unwrap_or_default(), shown(port)))
}

fn shown(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => format!("{s:?}"),
    }
}

/// The Service port's name, as EndpointSlices key it ("" when unnamed).
pub fn resolve_service_port(service: &Service, port: &IntOrString) -> Result<String, ResolveError> {
    Ok(find_port(service, port)?.name.clone().unwrap_or_default())
}

/// The Service port's NodePort, where instance targets receive its traffic.
pub fn resolve_node_port(service: &Service, port: &IntOrString) -> Result<i32, ResolveError> {
    find_port(service, port)?
        .node_port
        .ok_or_else(|| ResolveError::NoNodePort(service.metadata.name.clone().unwrap_or_default(), shown(port)))
}

/// Instance targets: every node that may serve the binding, at the Service's NodePort.
pub fn instance_targets<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    selector: Option<&LabelSelector>,
    node_port: i32,
) -> BTreeSet<Target> {
    nodes
        .into_iter()
        .filter_map(|n| eligible_instance(n, selector))
        .map(|id| Target {
            id: id.to_string(),
            port: node_port,
        })
        .collect()
}

/// Every endpoint of the address family with its target (address and the slice's port for the
/// Service port), ready or not.
pub fn endpoint_targets<'a>(
    slices: impl IntoIterator<Item = &'a Slice>,
    port_name: &'a str,
    family: IpAddressType,
) -> impl Iterator<Item = (&'a SliceEndpoint, Target)> {
    let address_type = match family {
        IpAddressType::Ipv4 => "IPv4",
        IpAddressType::Ipv6 => "IPv6",
    };
    slices
        .into_iter()
        .filter(move |s| s.address_type == address_type)
        .filter_map(move |slice| {
            let port = slice
                .ports
                .iter()
                .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
                .and_then(|p| p.port)?;
            Some(slice.endpoints.iter().map(move |ep| (ep, port)))
        })
        .flatten()
        .flat_map(|(ep, port)| ep.addresses.iter().map(move |a| (ep, Target { id: a.to_string(), port })))
}

/// The pod an endpoint belongs to, when it names one.
pub fn endpoint_pod(ep: &SliceEndpoint) -> Option<&str> {
    ep.pod.as_deref()
}

/// Pod IP targets: ready endpoints of the address family, with the target port the slices give for
/// the Service port, plus the not-ready endpoints of `gated_pods` (pods that wait only for this
/// binding's readiness gate, which can only pass once they are registered). Terminating endpoints
/// leave even while still serving (their pods are going).
pub fn ip_targets<'a>(
    slices: impl IntoIterator<Item = &'a Slice>,
    port_name: &'a str,
    family: IpAddressType,
    gated_pods: &BTreeSet<String>,
) -> BTreeSet<Target> {
    endpoint_targets(slices, port_name, family)
        .filter(|(ep, _)| {
            // A missing `ready` means ready (the API's rule for unknown state).
            let ready = ep.conditions.ready.unwrap_or(true);
            let terminating = ep.conditions.terminating.unwrap_or(false);
            let gated = endpoint_pod(ep).is_some_and(|p| gated_pods.contains(p));
            !terminating && (ready || gated)
        })
        .map(|(_, t)| t)
        .collect()
}

/// The writes that take the group from `current` to `desired`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetChanges {
    pub register: Vec<Target>,
    pub deregister: Vec<Target>,
}

impl TargetChanges {
    pub fn is_empty(&self) -> bool {
        self.register.is_empty() && self.deregister.is_empty()
    }
}

/// Registered targets that count as "in the group": draining ones are on their way out already
/// (deregistering them again would reset nothing; registering them again brings them back).
pub fn registered(current: &[TargetHealth]) -> BTreeSet<Target> {
    current
        .iter()
        .filter(|t| t.state != HealthState::Draining)
        .map(|t| t.target.clone())
        .collect()
}

pub fn plan_changes(desired: &BTreeSet<Target>, current: &[TargetHealth]) -> TargetChanges {
    let registered = registered(current);
    TargetChanges {
        register: desired.difference(&registered).cloned().collect(),
        deregister: registered.difference(desired).cloned().collect(),
    }
}

/// Multi-cluster groups (`multiClusterTargetGroup: true`): other clusters register targets in the
/// same group, so this cluster deregisters only targets it owns (recorded in its ownership
/// ConfigMap) and never touches the rest.
pub fn plan_owned_changes(desired: &BTreeSet<Target>, current: &[TargetHealth], owned: &BTreeSet<Target>) -> TargetChanges {
    let registered = registered(current);
    TargetChanges {
        register: desired.difference(&registered).cloned().collect(),
        deregister: registered.intersection(owned).filter(|t| !desired.contains(*t)).cloned().collect(),
    }
}

/// The ownership ConfigMap's `targets` value: `id:port` pairs, comma-separated, sorted.
pub fn format_owned(targets: &BTreeSet<Target>) -> String {
    targets.iter().map(Target::to_string).collect::<Vec<_>>().join(",")
}

/// Reads a `targets` value; entries that do not parse are skipped (never owned, never removed).
/// The port follows the last colon, so IPv6 addresses read correctly.
pub fn parse_owned(csv: &str) -> BTreeSet<Target> {
    csv.split(',')
        .filter_map(|entry| {
            let (id, port) = entry.trim().rsplit_once(':')?;
            let port = port.parse().ok()?;
            (!id.is_empty()).then(|| Target { id: id.to_string(), port })
        })
        .collect()
}

pub fn healthy_count(current: &[TargetHealth], desired: &BTreeSet<Target>) -> usize {
    current
        .iter()
        .filter(|t| t.state == HealthState::Healthy && desired.contains(&t.target))
        .count()
}

/// An IPv4 or IPv6 network (`10.0.0.0/16`, `2600:1f18::/56`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let network: std::net::IpAddr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        let mask = |bits: u32, width: u32| if bits == 0 { 0 } else { u128::MAX << (width - bits) };
        match (self.network, ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => {
                let m = mask(u32::from(self.prefix), 32) as u32;
                u32::from(n) & m == u32::from(*a) & m
            }
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => {
                let m = mask(u32::from(self.prefix), 128);
                u128::from(n) & m == u128::from(*a) & m
            }
            _ => false,
        }
    }
}

/// The registrations for new targets. IP targets outside the group's VPC CIDRs (`vpc`; `Some(None)`
/// when the VPC is not visible to this account, so every address counts as outside) get zone
/// `all`, as AWS requires for addresses of a peered VPC or another account; the rest register in
/// their own zone. Instance targets (`vpc` is `None`) always do.
pub fn registrations(targets: &[Target], vpc: Option<&Option<Vec<Cidr>>>) -> Vec<Registration> {
    targets
        .iter()
        .map(|t| {
            let outside = match vpc {
                None => false,
                Some(None) => true,
                Some(Some(cidrs)) => {
                    t.id.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| !cidrs.iter().any(|c| c.contains(&ip)))
                }
            };
            Registration {
                target: t.clone(),
                availability_zone: outside.then(|| "all".to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{SliceConditions, SliceEndpoint, SlicePort};
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};

    fn service(ports: &[(Option<&str>, i32, i32)]) -> Service {
        Service {
            metadata: kube::api::ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|(name, port, target)| ServicePort {
                            name: name.map(str::to_string),
                            port: *port,
                            target_port: Some(IntOrString::Int(*target)),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn endpoint(ip: &str, ready: Option<bool>, terminating: Option<bool>) -> SliceEndpoint {
        SliceEndpoint {
            addresses: [ip].into_iter().collect(),
            conditions: SliceConditions {
                ready,
                serving: ready,
                terminating,
            },
            ..Default::default()
        }
    }

    fn slice(kind: &str, port_name: Option<&str>, port: i32, endpoints: Vec<SliceEndpoint>) -> Slice {
        Slice {
            address_type: kind.into(),
            endpoints,
            ports: vec![SlicePort {
                name: port_name.map(str::to_string),
                port: Some(port),
                protocol: Some("TCP".into()),
            }],
        }
    }

    fn t(ip: &str, port: i32) -> Target {
        Target { id: ip.into(), port }
    }

    #[test]
    fn port_by_number_matches_service_port_not_target_port() {
        let svc = service(&[(Some("http"), 80, 8080), (Some("admin"), 9090, 9090)]);
        assert_eq!(resolve_service_port(&svc, &IntOrString::Int(80)).unwrap(), "http");
        assert!(matches!(
            resolve_service_port(&svc, &IntOrString::Int(8080)),
            Err(ResolveError::PortNotFound(..))
        ));
        assert_eq!(resolve_service_port(&svc, &IntOrString::String("admin".into())).unwrap(), "admin");
        assert!(resolve_service_port(&svc, &IntOrString::String("nope".into())).is_err());
        let unnamed = service(&[(None, 80, 8080)]);
        assert_eq!(resolve_service_port(&unnamed, &IntOrString::Int(80)).unwrap(), "");
    }

    #[test]
    fn only_ready_non_terminating_endpoints_of_the_family_with_the_slice_port() {
        let slices = vec![
            slice(
                "IPv4",
                Some("http"),
                8080,
                vec![
                    endpoint("10.0.0.1", Some(true), None),
                    endpoint("10.0.0.2", Some(false), None),
                    endpoint("10.0.0.3", None, None),
                    endpoint("10.0.0.4", Some(true), Some(true)),
                ],
            ),
            slice("IPv4", Some("admin"), 9090, vec![endpoint("10.0.0.9", Some(true), None)]),
            slice("IPv6", Some("http"), 8080, vec![endpoint("fd00::1", Some(true), None)]),
        ];
        assert_eq!(
            ip_targets(&slices, "http", IpAddressType::Ipv4, &BTreeSet::new()),
            BTreeSet::from([t("10.0.0.1", 8080), t("10.0.0.3", 8080)])
        );
        assert_eq!(
            ip_targets(&slices, "http", IpAddressType::Ipv6, &BTreeSet::new()),
            BTreeSet::from([t("fd00::1", 8080)])
        );
    }

    #[test]
    fn not_ready_endpoints_of_gated_pods_are_registered_but_terminating_ones_never() {
        let of_pod = |ip: &str, ready: bool, terminating: bool, pod: &str| SliceEndpoint {
            pod: Some(pod.into()),
            ..endpoint(ip, Some(ready), Some(terminating))
        };
        let slices = vec![slice(
            "IPv4",
            Some("http"),
            8080,
            vec![
                of_pod("10.0.0.1", true, false, "old"),
                of_pod("10.0.0.2", false, false, "new-gated"),
                of_pod("10.0.0.3", false, false, "new-starting"),
                of_pod("10.0.0.4", false, true, "leaving"),
            ],
        )];
        let gated = BTreeSet::from(["new-gated".to_string(), "leaving".to_string()]);
        assert_eq!(
            ip_targets(&slices, "http", IpAddressType::Ipv4, &gated),
            BTreeSet::from([t("10.0.0.1", 8080), t("10.0.0.2", 8080)])
        );
    }

    #[test]
    fn multi_cluster_changes_never_touch_targets_this_cluster_does_not_own() {
        let h = |ip: &str| TargetHealth {
            target: t(ip, 80),
            state: HealthState::Healthy,
            reason: None,
        };
        let current = vec![h("10.0.0.1"), h("10.0.0.2"), h("10.9.0.1")];
        let owned: BTreeSet<Target> = [t("10.0.0.1", 80), t("10.0.0.2", 80)].into();
        let desired: BTreeSet<Target> = [t("10.0.0.2", 80), t("10.0.0.3", 80)].into();
        let changes = plan_owned_changes(&desired, &current, &owned);
        assert_eq!(changes.register, vec![t("10.0.0.3", 80)]);
        assert_eq!(changes.deregister, vec![t("10.0.0.1", 80)], "10.9.0.1 belongs to another cluster");
        // Nothing owned yet (a fresh cluster): nothing is deregistered at all.
        assert!(plan_owned_changes(&BTreeSet::new(), &current, &BTreeSet::new())
            .deregister
            .is_empty());
    }

    #[test]
    fn ownership_records_round_trip_including_ipv6() {
        let owned: BTreeSet<Target> = [t("10.0.0.1", 80), t("2001:db8::1", 8080), t("i-0abc", 30080)].into();
        let csv = format_owned(&owned);
        assert_eq!(parse_owned(&csv), owned);
        assert_eq!(parse_owned(" 10.0.0.1:80 ,garbage,:1,10.0.0.2:x"), [t("10.0.0.1", 80)].into());
        assert!(parse_owned("").is_empty());
    }

    #[test]
    fn changes_ignore_draining_and_touch_only_the_difference() {
        let current = vec![
            TargetHealth {
                target: t("10.0.0.1", 80),
                state: HealthState::Healthy,
                reason: None,
            },
            TargetHealth {
                target: t("10.0.0.2", 80),
                state: HealthState::Healthy,
                reason: None,
            },
            TargetHealth {
                target: t("10.0.0.3", 80),
                state: HealthState::Draining,
                reason: None,
            },
        ];
        let desired = BTreeSet::from([t("10.0.0.1", 80), t("10.0.0.3", 80), t("10.0.0.4", 80)]);
        let changes = plan_changes(&desired, &current);
        assert_eq!(
            changes.register,
            vec![t("10.0.0.3", 80), t("10.0.0.4", 80)],
            "a draining target coming back is registered again"
        );
        assert_eq!(changes.deregister, vec![t("10.0.0.2", 80)]);
        assert!(plan_changes(&BTreeSet::from([t("10.0.0.1", 80), t("10.0.0.2", 80)]), &current).is_empty());
        assert_eq!(healthy_count(&current, &desired), 1);
    }

    #[test]
    fn addresses_outside_the_vpc_register_in_zone_all() {
        let vpc = Some(vec![Cidr::parse("10.0.0.0/16").unwrap(), Cidr::parse("100.64.0.0/16").unwrap()]);
        let targets = [t("10.0.3.4", 80), t("100.64.1.1", 80), t("192.168.0.9", 80)];
        let zones: Vec<Option<String>> = registrations(&targets, Some(&vpc))
            .into_iter()
            .map(|r| r.availability_zone)
            .collect();
        assert_eq!(zones, [None, None, Some("all".to_string())], "secondary CIDRs count as inside");
        let unseen = registrations(&targets, Some(&None));
        assert!(
            unseen.iter().all(|r| r.availability_zone.as_deref() == Some("all")),
            "a VPC of another account"
        );
        assert!(registrations(&[t("i-0abc", 30080)], None)[0].availability_zone.is_none());
        let v6 = Cidr::parse("2600:1f18:aaaa:bb00::/56").unwrap();
        assert!(v6.contains(&"2600:1f18:aaaa:bbff::1".parse().unwrap()));
        assert!(!v6.contains(&"2600:1f18:aaaa:cc00::1".parse().unwrap()));
        assert!(!v6.contains(&"10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none() && Cidr::parse("nope").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(&"8.8.8.8".parse().unwrap()));
    }
}
