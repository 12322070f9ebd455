//! The EC2 calls behind `spec.networking`, behind a trait like the ELB API: which security groups
//! a target's interface has, and the controller's ingress rules on a group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, UserIdGroupPair};
use tgbind_aws::{classify, AwsError, ErrorKind};

use super::rules::{Peer, Permission, SHARED_DESCRIPTION};
use crate::budget::{Budget, Family};
use crate::metrics::Metrics;

/// EC2 takes at most this many values in one filter.
const FILTER_VALUES: usize = 200;

#[async_trait]
pub trait SecurityGroupApi: Send + Sync {
    /// The security groups of the interface holding each address (IPv4 or IPv6); an address no
    /// interface holds is absent. Errors when an address is on interfaces in several VPCs and
    /// `vpc` is not given.
    async fn groups_of_addresses(&self, vpc: Option<&str>, addresses: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError>;
    /// The security groups of each instance's primary interface.
    async fn groups_of_instances(&self, instances: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError>;
    /// The tag keys of each group.
    async fn tag_keys(&self, groups: &[String]) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError>;
    /// The group's ingress rules that carry [`SHARED_DESCRIPTION`] (and only those).
    async fn shared_rules(&self, group: &str) -> Result<BTreeSet<Permission>, AwsError>;
    async fn authorize(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError>;
    async fn revoke(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError>;
}

pub struct Ec2 {
    client: aws_sdk_ec2::Client,
    metrics: Arc<Metrics>,
    budget: Arc<Budget>,
}

impl Ec2 {
    pub fn new(client: aws_sdk_ec2::Client, metrics: Arc<Metrics>, budget: Arc<Budget>) -> Self {
        Self { client, metrics, budget }
    }

    /// Counts a call's outcome and tells the budget whether EC2 throttled it.
    fn answered<T>(&self, operation: &str, result: &Result<T, AwsError>) {
        self.metrics.aws_result(operation, 1, result);
        let throttled = matches!(result, Err(e) if e.kind == ErrorKind::Throttled);
        self.budget.answered(Family::Ec2, throttled);
    }

    /// DescribeNetworkInterfaces, every page: (address, vpc, groups) for each address of each interface.
    async fn interfaces(&self, filters: Vec<Filter>) -> Result<Vec<(String, String, Vec<String>)>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_network_interfaces()
            .set_filters(Some(filters))
            .into_paginator()
            .send();
        loop {
            self.budget.acquire(Family::Ec2).await;
            let Some(page) = pages.next().await else { break };
            let page = page.map_err(|e| AwsError::from_sdk(&e));
            self.answered("DescribeNetworkInterfaces", &page);
            for eni in page?.network_interfaces() {
                let groups: Vec<String> = eni.groups().iter().filter_map(|g| g.group_id()).map(str::to_string).collect();
                let vpc = eni.vpc_id().unwrap_or_default().to_string();
                // The primary address is among `private_ip_addresses`, with the secondary ones.
                let v4 = eni.private_ip_addresses().iter().filter_map(|a| a.private_ip_address());
                let v6 = eni.ipv6_addresses().iter().filter_map(|a| a.ipv6_address());
                for address in v4.chain(v6) {
                    out.push((address.to_string(), vpc.clone(), groups.clone()));
                }
            }
        }
        Ok(out)
    }
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().collect())).build()
}

/// Rules with the same protocol and ports travel in one `IpPermission`.
fn ip_permissions(rules: &[Permission]) -> Vec<IpPermission> {
    let mut by_ports: BTreeMap<(&str, i32, i32), Vec<&Peer>> = BTreeMap::new();
    for r in rules {
        by_ports.entry((&r.protocol, r.from_port, r.to_port)).or_default().push(&r.peer);
    }
    by_ports
        .into_iter()
        .map(|((protocol, from, to), peers)| {
            let mut p = IpPermission::builder().ip_protocol(protocol).from_port(from).to_port(to);
            for peer in peers {
                p = match peer {
                    Peer::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).description(SHARED_DESCRIPTION).build()),
                    Peer::Ipv6Cidr(c) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).description(SHARED_DESCRIPTION).build()),
                    Peer::Group(g) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).description(SHARED_DESCRIPTION).build()),
                };
            }
            p.build()
        })
        .collect()
}

#[async_trait]
impl SecurityGroupApi for Ec2 {
    async fn groups_of_addresses(&self, vpc: Option<&str>, addresses: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
        let (v6, v4): (Vec<&String>, Vec<&String>) = addresses.iter().partition(|a| a.contains(':'));
        let mut found: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
        for (name, list) in [("addresses.private-ip-address", v4), ("ipv6-addresses.ipv6-address", v6)] {
            for chunk in list.chunks(FILTER_VALUES) {
                let mut filters = vec![filter(name, chunk.iter().map(|a| a.to_string()))];
                if let Some(vpc) = vpc {
                    filters.push(filter("vpc-id", [vpc.to_string()]));
                }
                for (address, vpc, groups) in self.interfaces(filters).await? {
                    found.entry(address).or_default().push((vpc, groups));
                }
            }
        }
        let wanted: BTreeSet<&String> = addresses.iter().collect();
        let mut out = BTreeMap::new();
        for (address, mut holders) in found.into_iter().filter(|(a, _)| wanted.contains(a)) {
            holders.sort();
            holders.dedup();
            if holders.len() > 1 {
                let vpcs: Vec<String> = holders.into_iter().map(|(v, _)| v).collect();
                return Err(AwsError {
                    kind: ErrorKind::Invalid,
                    code: "AmbiguousAddress".to_string(),
                    message: format!(
                        "address {address} is on interfaces in several VPCs ({}): set spec.vpcID",
                        vpcs.join(", ")
                    ),
                });
            }
            out.insert(address, holders.remove(0).1);
        }
        Ok(out)
    }

    async fn groups_of_instances(&self, instances: &[String]) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
        let mut out = BTreeMap::new();
        for chunk in instances.chunks(FILTER_VALUES) {
            self.budget.acquire(Family::Ec2).await;
            let r = self
                .client
                .describe_instances()
                .filters(filter("instance-id", chunk.iter().cloned()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e));
            self.answered("DescribeInstances", &r);
            for instance in r?.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = instance.instance_id() else { continue };
                // The primary interface (device 0) carries the node's groups; secondary ENIs of the
                // VPC CNI may carry others.
                let primary = instance
                    .network_interfaces()
                    .iter()
                    .find(|eni| eni.attachment().and_then(|a| a.device_index()) == Some(0));
                let groups: Vec<String> = match primary {
                    Some(eni) => eni.groups().iter().filter_map(|g| g.group_id()).map(str::to_string).collect(),
                    None => instance
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id())
                        .map(str::to_string)
                        .collect(),
                };
                out.insert(id.to_string(), groups);
            }
        }
        Ok(out)
    }

    async fn tag_keys(&self, groups: &[String]) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError> {
        self.budget.acquire(Family::Ec2).await;
        let r = self
            .client
            .describe_security_groups()
            .set_group_ids(Some(groups.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e));
        self.answered("DescribeSecurityGroups", &r);
        Ok(r?
            .security_groups()
            .iter()
            .filter_map(|g| {
                let keys = g.tags().iter().filter_map(|t| t.key()).map(str::to_string).collect();
                Some((g.group_id()?.to_string(), keys))
            })
            .collect())
    }

    async fn shared_rules(&self, group: &str) -> Result<BTreeSet<Permission>, AwsError> {
        self.budget.acquire(Family::Ec2).await;
        let r = self
            .client
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e));
        self.answered("DescribeSecurityGroups", &r);
        let mut out = BTreeSet::new();
        let ours = |d: Option<&str>| d == Some(SHARED_DESCRIPTION);
        for p in r?.security_groups().iter().flat_map(|g| g.ip_permissions()) {
            let protocol = p.ip_protocol().unwrap_or_default().to_string();
            let (from_port, to_port) = (p.from_port().unwrap_or_default(), p.to_port().unwrap_or_default());
            let rule = |peer| Permission {
                protocol: protocol.clone(),
                from_port,
                to_port,
                peer,
            };
            let v4 = p.ip_ranges().iter().filter(|r| ours(r.description())).filter_map(|r| r.cidr_ip());
            let v6 = p
                .ipv6_ranges()
                .iter()
                .filter(|r| ours(r.description()))
                .filter_map(|r| r.cidr_ipv6());
            let groups = p
                .user_id_group_pairs()
                .iter()
                .filter(|r| ours(r.description()))
                .filter_map(|r| r.group_id());
            out.extend(v4.map(|c| rule(Peer::Cidr(c.to_string()))));
            out.extend(v6.map(|c| rule(Peer::Ipv6Cidr(c.to_string()))));
            out.extend(groups.map(|g| rule(Peer::Group(g.to_string()))));
        }
        Ok(out)
    }

    async fn authorize(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError> {
        self.budget.acquire(Family::Ec2).await;
        let r = self
            .client
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(ip_permissions(rules)))
            .send()
            .await;
        let r = match r {
            Ok(_) => Ok(()),
            // Another writer added it meanwhile: the rule is there, as wanted.
            Err(e) if classify(&e) == ErrorKind::Duplicate => Ok(()),
            Err(e) => Err(AwsError::from_sdk(&e)),
        };
        self.answered("AuthorizeSecurityGroupIngress", &r);
        r
    }

    async fn revoke(&self, group: &str, rules: &[Permission]) -> Result<(), AwsError> {
        self.budget.acquire(Family::Ec2).await;
        let r = self
            .client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(ip_permissions(rules)))
            .send()
            .await;
        let r = match r {
            Ok(_) => Ok(()),
            Err(e) if classify(&e) == ErrorKind::NotFound && e.as_service_error().is_some() => Ok(()),
            Err(e) => Err(AwsError::from_sdk(&e)),
        };
        self.answered("RevokeSecurityGroupIngress", &r);
        r
    }
}
