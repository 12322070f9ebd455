//! Resources and data sources of the elbv2 provider, and the list the provider serves.
//!
//! Every resource has one folder with the same files in the same roles:
//! - `schema.rs`: its schema (attributes, blocks, validators, cross-attribute checks);
//! - `model.rs`: pure decisions — validation, plan adjustments, the attribute writes a plan needs,
//!   and the state that describes what AWS reports (`state_from_remote`), unit-tested;
//! - `aws.rs`: its AWS calls, turning SDK types into the model's plain `Remote*` structs;
//! - `mod.rs`: the [`Resource`] implementation that orders those calls;
//! - `data_source.rs` (when it has one): the data source, reusing the schema, model and calls.
//!
//! Adding a resource: a new folder with those files (the framework already plans `tags_all` for
//! schemas that have it, checks import IDs against [`ImportId`](crate::framework::ImportId), runs
//! the schema's checks, and gives every resource its identity, the state's `arn`), one line in
//! [`resources`] (and in [`data_sources`]), an example under
//! `examples/resources/<type>/resource.tf`, then `bash scripts/gen-docs.sh` for its page. Optional:
//! `list_schema` + `list` for `terraform query` (a `schema::list_schema()` and the Describe call
//! that lists ARNs, read through `remote::read_listed`), `moves_from` for `moved` blocks from
//! terraform-provider-aws, `Schema::keeps_blocks` for blocks of settings every object has.

pub mod actions;
pub mod coalesce;
pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod read_ahead;
pub mod remote;
pub mod target_group;
pub mod values;

use std::sync::Arc;

use crate::context::Elbv2Context;
use crate::framework::{DataSource, Resource};

/// Every resource type the provider serves.
pub fn resources() -> Vec<Arc<dyn Resource<Elbv2Context>>> {
    vec![
        Arc::new(target_group::TargetGroup),
        Arc::new(load_balancer::LoadBalancer),
        Arc::new(listener::Listener),
        Arc::new(listener_rule::ListenerRule),
    ]
}

/// Every data source the provider serves.
pub fn data_sources() -> Vec<Arc<dyn DataSource<Elbv2Context>>> {
    vec![
        Arc::new(target_group::data_source::TargetGroupData),
        Arc::new(load_balancer::data_source::LoadBalancerData),
    ]
}
