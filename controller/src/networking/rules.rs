//! Pure decisions for `spec.networking`: the ingress permissions a binding asks for, the security
//! group of a target's interface that receives them, and the rules to add or revoke on a group.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::{Networking, NetworkingPeer, NetworkingProtocol, TargetType};

/// The description of every rule the controller manages (the AWS Load Balancer Controller's, so
/// either controller can take over). Rules without it are never revoked.
pub const SHARED_DESCRIPTION: &str = "elbv2.k8s.aws/targetGroupBinding=shared";

/// Where traffic may come from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    Cidr(String),
    Ipv6Cidr(String),
    Group(String),
}

/// One ingress rule: a protocol, a port range and a peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// `tcp` or `udp`, as EC2 spells it.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub peer: Peer,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports = if self.from_port == self.to_port {
            self.from_port.to_string()
        } else {
            format!("{}-{}", self.from_port, self.to_port)
        };
        let peer = match &self.peer {
            Peer::Cidr(c) | Peer::Ipv6Cidr(c) => c,
            Peer::Group(g) => g,
        };
        write!(f, "{} {ports} from {peer}", self.protocol)
    }
}

/// The highest port: a rule without a port covers 0-65535 of its protocol.
const ALL_PORTS: (i32, i32) = (0, 65535);

/// Port names the rules use (resolved against the pods' container ports before [`permissions`]).
pub fn named_ports(networking: &Networking) -> BTreeSet<String> {
    networking
        .ingress
        .iter()
        .flat_map(|rule| &rule.ports)
        .filter_map(|p| match &p.port {
            Some(IntOrString::String(name)) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Checks the form of `spec.networking`; the message names the offending field.
pub fn validate(networking: &Networking, target_type: TargetType) -> Result<(), String> {
    for (i, rule) in networking.ingress.iter().enumerate() {
        let at = format!("spec.networking.ingress[{i}]");
        if rule.from.is_empty() {
            return Err(format!("{at}.from is empty: name at least one securityGroup or ipBlock"));
        }
        for (j, peer) in rule.from.iter().enumerate() {
            peer_of(peer).map_err(|e| format!("{at}.from[{j}]: {e}"))?;
        }
        for (j, port) in rule.ports.iter().enumerate() {
            match &port.port {
                Some(IntOrString::Int(n)) if !(1..=65535).contains(n) => {
                    return Err(format!("{at}.ports[{j}].port: {n} is not a port (1-65535)"));
                }
                Some(IntOrString::String(name)) if target_type == TargetType::Instance => {
                    return Err(format!(
                        "{at}.ports[{j}].port: the named port {name:?} needs targetType ip; instance targets take a number"
                    ));
                }
                Some(IntOrString::String(name)) if name.is_empty() => {
                    return Err(format!("{at}.ports[{j}].port is an empty name"));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn peer_of(peer: &NetworkingPeer) -> Result<Peer, String> {
    match (&peer.ip_block, &peer.security_group) {
        (Some(block), None) => {
            let cidr = block.cidr.trim();
            let (addr, len) = cidr
                .split_once('/')
                .ok_or_else(|| format!("ipBlock.cidr {cidr:?} is not a CIDR (address/length)"))?;
            let addr: std::net::IpAddr = addr
                .parse()
                .map_err(|_| format!("ipBlock.cidr {cidr:?}: {addr:?} is not an IP address"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            match len.parse::<u8>() {
                Ok(n) if n <= max => {}
                _ => return Err(format!("ipBlock.cidr {cidr:?}: the prefix length must be 0-{max}")),
            }
            Ok(if addr.is_ipv4() {
                Peer::Cidr(cidr.to_string())
            } else {
                Peer::Ipv6Cidr(cidr.to_string())
            })
        }
        (None, Some(group)) => {
            let id = group.group_id.trim();
            if id.starts_with("sg-") && id.len() > 3 && id[3..].chars().all(|c| c.is_ascii_alphanumeric()) {
                Ok(Peer::Group(id.to_string()))
            } else {
                Err(format!("securityGroup.groupID {id:?} is not a security group ID (sg-...)"))
            }
        }
        (Some(_), Some(_)) => Err("set either securityGroup or ipBlock, not both".to_string()),
        (None, None) => Err("set securityGroup or ipBlock".to_string()),
    }
}

/// The permissions `networking` asks for. `named` gives the container port numbers behind a port
/// name (empty when no pod has it). Call [`validate`] first; invalid peers are skipped here.
pub fn permissions(networking: &Networking, named: impl Fn(&str) -> BTreeSet<i32>) -> Result<BTreeSet<Permission>, String> {
    let mut out = BTreeSet::new();
    for (i, rule) in networking.ingress.iter().enumerate() {
        let peers: Vec<Peer> = rule.from.iter().filter_map(|p| peer_of(p).ok()).collect();
        // No ports listed: every TCP port.
        let mut ranges: Vec<(&'static str, (i32, i32))> = Vec::new();
        if rule.ports.is_empty() {
            ranges.push(("tcp", ALL_PORTS));
        }
        for (j, port) in rule.ports.iter().enumerate() {
            let protocol = match port.protocol.unwrap_or(NetworkingProtocol::Tcp) {
                NetworkingProtocol::Tcp => "tcp",
                NetworkingProtocol::Udp => "udp",
            };
            match &port.port {
                None => ranges.push((protocol, ALL_PORTS)),
                Some(IntOrString::Int(n)) => ranges.push((protocol, (*n, *n))),
                Some(IntOrString::String(name)) => {
                    let numbers = named(name);
                    if numbers.is_empty() {
                        return Err(format!(
                            "spec.networking.ingress[{i}].ports[{j}].port: no pod behind the Service has a container port named {name:?}"
                        ));
                    }
                    ranges.extend(numbers.into_iter().map(|n| (protocol, (n, n))));
                }
            }
        }
        for (protocol, (from_port, to_port)) in ranges {
            for peer in &peers {
                out.insert(Permission {
                    protocol: protocol.to_string(),
                    from_port,
                    to_port,
                    peer: peer.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The tag that marks a security group as the cluster's when an interface has several.
pub fn cluster_tag(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

/// The group of an interface that receives the rules: its only group, or the one tagged for the
/// cluster among several. `tags` holds the tag keys of each of `groups`.
pub fn choose_group(groups: &[String], tags: &BTreeMap<String, BTreeSet<String>>, cluster: &str) -> Result<String, String> {
    match groups {
        [] => Err("the interface has no security group".to_string()),
        [only] => Ok(only.clone()),
        several => {
            if cluster.is_empty() {
                return Err(format!(
                    "the interface has several security groups ({}): set the controller's clusterName so the one tagged {} can be chosen",
                    several.join(", "),
                    cluster_tag("<clusterName>")
                ));
            }
            let tag = cluster_tag(cluster);
            let tagged: Vec<&String> = several.iter().filter(|g| tags.get(*g).is_some_and(|t| t.contains(&tag))).collect();
            match tagged.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(format!(
                    "the interface has several security groups ({}) and none is tagged {tag}",
                    several.join(", ")
                )),
                many => Err(format!(
                    "several security groups of the interface are tagged {tag} ({}): tag exactly one",
                    many.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
                )),
            }
        }
    }
}

/// What to change on one security group.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GroupChanges {
    pub authorize: Vec<Permission>,
    pub revoke: Vec<Permission>,
}

/// `current` holds only the group's rules with [`SHARED_DESCRIPTION`], so nothing else can be
/// revoked. Revocation waits (`may_revoke` false) while some binding's needs are not known yet.
pub fn plan_group(desired: &BTreeSet<Permission>, current: &BTreeSet<Permission>, may_revoke: bool) -> GroupChanges {
    GroupChanges {
        authorize: desired.difference(current).cloned().collect(),
        revoke: if may_revoke {
            current.difference(desired).cloned().collect()
        } else {
            Vec::new()
        },
    }
}

/// The union of what every binding asks of `group`.
pub fn aggregate<'a>(group: &str, contributions: impl Iterator<Item = &'a BTreeMap<String, BTreeSet<Permission>>>) -> BTreeSet<Permission> {
    contributions.filter_map(|c| c.get(group)).flatten().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{IpBlock, NetworkingIngressRule, NetworkingPort, SecurityGroup};

    fn from_group(id: &str) -> NetworkingPeer {
        NetworkingPeer {
            security_group: Some(SecurityGroup { group_id: id.into() }),
            ip_block: None,
        }
    }
    fn from_cidr(cidr: &str) -> NetworkingPeer {
        NetworkingPeer {
            ip_block: Some(IpBlock { cidr: cidr.into() }),
            security_group: None,
        }
    }
    fn port(protocol: Option<NetworkingProtocol>, port: Option<IntOrString>) -> NetworkingPort {
        NetworkingPort { protocol, port }
    }
    fn perm(protocol: &str, from: i32, to: i32, peer: Peer) -> Permission {
        Permission {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            peer,
        }
    }
    fn networking(rules: Vec<(Vec<NetworkingPeer>, Vec<NetworkingPort>)>) -> Networking {
        Networking {
            ingress: rules
                .into_iter()
                .map(|(from, ports)| NetworkingIngressRule { from, ports })
                .collect(),
        }
    }
    fn no_names(_: &str) -> BTreeSet<i32> {
        BTreeSet::new()
    }

    #[test]
    fn empty_ports_mean_every_tcp_port_and_a_portless_entry_every_port_of_its_protocol() {
        let n = networking(vec![
            (vec![from_group("sg-lb")], vec![]),
            (vec![from_cidr("10.0.0.0/8")], vec![port(Some(NetworkingProtocol::Udp), None)]),
        ]);
        let got = permissions(&n, no_names).unwrap();
        let want: BTreeSet<Permission> = [
            perm("tcp", 0, 65535, Peer::Group("sg-lb".into())),
            perm("udp", 0, 65535, Peer::Cidr("10.0.0.0/8".into())),
        ]
        .into();
        assert_eq!(got, want);
    }

    #[test]
    fn every_port_meets_every_peer_and_named_ports_resolve_to_container_ports() {
        let n = networking(vec![(
            vec![from_group("sg-lb"), from_cidr("2600:1f18::/32")],
            vec![
                port(None, Some(IntOrString::Int(8080))),
                port(None, Some(IntOrString::String("metrics".into()))),
            ],
        )]);
        let got = permissions(&n, |name| if name == "metrics" { [9090, 9091].into() } else { BTreeSet::new() }).unwrap();
        assert_eq!(got.len(), 6);
        assert!(got.contains(&perm("tcp", 8080, 8080, Peer::Ipv6Cidr("2600:1f18::/32".into()))));
        assert!(got.contains(&perm("tcp", 9091, 9091, Peer::Group("sg-lb".into()))));
        let missing = permissions(&n, no_names).unwrap_err();
        assert!(missing.contains("spec.networking.ingress[0].ports[1].port"), "{missing}");
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (networking(vec![(vec![], vec![])]), "spec.networking.ingress[0].from is empty"),
            (
                networking(vec![(vec![from_cidr("10.0.0.0")], vec![])]),
                "ingress[0].from[0]: ipBlock.cidr",
            ),
            (
                networking(vec![(vec![from_cidr("10.0.0.0/33")], vec![])]),
                "prefix length must be 0-32",
            ),
            (
                networking(vec![(vec![from_group("default")], vec![])]),
                "is not a security group ID",
            ),
            (
                networking(vec![(vec![NetworkingPeer::default()], vec![])]),
                "set securityGroup or ipBlock",
            ),
            (
                networking(vec![(vec![from_group("sg-1")], vec![port(None, Some(IntOrString::Int(70000)))])]),
                "ports[0].port: 70000 is not a port",
            ),
        ];
        for (n, want) in cases {
            let err = validate(&n, TargetType::Ip).unwrap_err();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        let named = networking(vec![(
            vec![from_group("sg-1")],
            vec![port(None, Some(IntOrString::String("http".into())))],
        )]);
        assert!(validate(&named, TargetType::Ip).is_ok());
        assert!(validate(&named, TargetType::Instance).unwrap_err().contains("needs targetType ip"));
    }

    #[test]
    fn the_cluster_tag_picks_among_several_groups() {
        let groups = vec!["sg-a".to_string(), "sg-b".to_string()];
        let mut tags = BTreeMap::new();
        tags.insert("sg-b".to_string(), BTreeSet::from([cluster_tag("prod")]));
        assert_eq!(choose_group(&groups[..1], &tags, "").unwrap(), "sg-a");
        assert_eq!(choose_group(&groups, &tags, "prod").unwrap(), "sg-b");
        assert!(choose_group(&groups, &tags, "").unwrap_err().contains("clusterName"));
        assert!(choose_group(&groups, &tags, "dev")
            .unwrap_err()
            .contains("none is tagged kubernetes.io/cluster/dev"));
        tags.insert("sg-a".to_string(), BTreeSet::from([cluster_tag("prod")]));
        assert!(choose_group(&groups, &tags, "prod").unwrap_err().contains("tag exactly one"));
    }

    #[test]
    fn rules_are_aggregated_and_only_unneeded_shared_rules_revoked_once_all_needs_are_known() {
        let a = BTreeMap::from([(
            "sg-t".to_string(),
            BTreeSet::from([perm("tcp", 80, 80, Peer::Group("sg-lb".into()))]),
        )]);
        let b = BTreeMap::from([(
            "sg-t".to_string(),
            BTreeSet::from([
                perm("tcp", 80, 80, Peer::Group("sg-lb".into())),
                perm("tcp", 443, 443, Peer::Group("sg-lb".into())),
            ]),
        )]);
        let desired = aggregate("sg-t", [&a, &b].into_iter());
        assert_eq!(desired.len(), 2);
        assert!(aggregate("sg-other", [&a, &b].into_iter()).is_empty());
        let stale = perm("tcp", 22, 22, Peer::Cidr("0.0.0.0/0".into()));
        let current = BTreeSet::from([perm("tcp", 80, 80, Peer::Group("sg-lb".into())), stale.clone()]);
        let changes = plan_group(&desired, &current, true);
        assert_eq!(changes.authorize, vec![perm("tcp", 443, 443, Peer::Group("sg-lb".into()))]);
        assert_eq!(changes.revoke, vec![stale]);
        assert!(plan_group(&desired, &current, false).revoke.is_empty());
    }
}
