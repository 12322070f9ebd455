//! A small provider framework on the plugin protocol: schemas, validation, planning and the gRPC
//! service. Resources implement [`Resource`]; they see [`Value`](crate::tfvalue::Value)s and
//! [`Diagnostics`], never protocol messages.

mod convert;
mod diag;
mod identity;
pub mod plan;
pub mod refresh;
mod resource;
pub mod schema;
mod server;
pub mod tags;
pub mod validators;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use resource::{Blocks, DataSource, ImportId, ProviderContext, ProviderDefinition, Resource};
pub use schema::{Attribute, Block, Check, NestedBlock, Nesting, Presence, Schema};
pub use server::ProviderService;
