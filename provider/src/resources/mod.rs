//! Resources and data sources of the elbv2 provider.

pub mod arn;
pub mod tags;
pub mod target_group;
pub mod target_group_data;
