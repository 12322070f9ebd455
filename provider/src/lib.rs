//! The `elbv2` Terraform provider.
//!
//! Layers, from the wire inwards:
//! - [`plugin`]: go-plugin process concerns (handshake, AutoMTLS, socket, Shutdown);
//! - [`framework`]: the tfplugin6 service, schemas, validation and planning;
//! - [`tfvalue`]: Terraform values and their msgpack/JSON encodings;
//! - [`provider`]: the provider block, configuring a [`context`] for the [`resources`] (which
//!   list every resource and data source).

pub mod context;
pub mod docs;
pub mod framework;
pub mod plugin;
pub mod proto;
pub mod provider;
pub mod resources;
pub mod tfvalue;

/// The provider's source address (`required_providers { elbv2 = { source = "tgbind/elbv2" } }`).
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/tgbind/elbv2";
