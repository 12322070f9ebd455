//! Resources and data sources of the elbv2 provider.

pub mod actions;
pub mod arn;
pub mod common;
pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod load_balancer_data;
pub mod tags;
pub mod target_group;
pub mod target_group_data;
