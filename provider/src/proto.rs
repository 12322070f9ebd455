//! Generated protocol types (see `build.rs` and `proto/`).
#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

pub mod plugin {
    tonic::include_proto!("plugin");
}

/// The compiled descriptors of `proto/` (a `FileDescriptorSet`), as `build.rs` wrote them.
pub const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/plugin-protocol.fds"));
