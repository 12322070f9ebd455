//! The go-plugin side of the provider process: handshake, AutoMTLS, the socket server and
//! go-plugin's housekeeping services.

pub mod handshake;
mod server;
mod services;
pub mod tls;

pub use server::{serve, ServeOptions};
