//! `tgbind-controller`: keeps the ready endpoints of a Service registered in the AWS target group a
//! TargetGroupBinding names.
//!
//! - [`crd`]: the TargetGroupBinding resource (wire-compatible with `elbv2.k8s.aws/v1beta1`);
//! - [`desired`] and [`status`]: pure decisions (targets wanted, writes needed, status to show);
//! - [`reconcile`]: one binding's reconcile, the only place that writes to AWS;
//! - [`run`]: watches and the controller loop; [`index`]: Service -> bindings; [`leader`]: Lease election;
//! - [`aws`]: the ELB API behind a trait; [`endpoints`]: EndpointSlices of either served version;
//! - [`metrics`] and [`http`]: Prometheus metrics and health endpoints.

pub mod aws;
pub mod crd;
pub mod desired;
pub mod endpoints;
pub mod http;
pub mod index;
pub mod leader;
pub mod metrics;
pub mod networking;
pub mod nodes;
pub mod ownership;
pub mod readiness;
pub mod reconcile;
pub mod run;
pub mod status;
pub mod webhook;
