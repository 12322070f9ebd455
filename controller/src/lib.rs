//! `tgbind-controller`: keeps the ready endpoints of a Service registered in the AWS target group a
//! TargetGroupBinding names.
//!
//! Pure decisions (no I/O, unit-tested):
//! - [`crd`]: the TargetGroupBinding resource (wire-compatible with `elbv2.k8s.aws`);
//! - [`bound`]: the record of the target group a binding writes to (an annotation, which any CRD keeps);
//! - [`validation`]: checks of a binding's spec before any AWS call;
//! - [`desired`]: targets wanted and the writes that get a group there; [`status`]: the status shown;
//! - [`synced`]: the record of what a binding last settled to, trusted after a restart;
//! - [`readiness`]: pod readiness-gate conditions; [`nodes`]: which nodes serve instance targets;
//! - [`networking::rules`]: security-group rules wanted by `spec.networking`.
//!
//! I/O:
//! - [`reconcile`]: one binding's reconcile — target writes to ELB, the finalizer's cleanup,
//!   readiness gates, status and events;
//! - [`networking`]: security-group rules, the controller's EC2 writes (driven by `reconcile`);
//! - [`ownership`]: the multi-cluster ownership ConfigMap;
//! - [`aws`]: the ELB API behind a trait, within the API budget ([`budget`]: a rate limit per API
//!   family with priority for changes, slowing down when AWS throttles); [`endpoints`]:
//!   EndpointSlices of either served version;
//! - [`run`]: watches, indexes ([`index`]) and the controller loop; [`leader`]: Lease election;
//! - [`webhook`]: the optional readiness-gate admission webhook;
//! - [`metrics`] and [`http`]: Prometheus metrics and health endpoints.
//!
//! [`context`] holds what every reconcile shares (clients, caches, settings) and its error type.

pub mod aws;
pub mod bound;
pub mod budget;
pub mod context;
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
pub mod synced;
pub mod validation;
pub mod webhook;
