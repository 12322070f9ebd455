//! The value layer: Terraform's dynamic values (cty) as a Rust enum, their wire encodings
//! (msgpack for RPCs, JSON for stored state), types and attribute paths. Resource code works with
//! [`Value`] and [`AttributePath`] only and never sees msgpack.

mod json;
mod msgpack;
mod path;
mod types;
mod value;

pub use json::{decode_json, encode_json};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use path::{AttributePath, Step};
pub use types::Type;
pub use value::Value;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed {encoding}: {message}")]
    Malformed { encoding: &'static str, message: String },
    #[error("at {path}: expected {expected}, found {found}")]
    TypeMismatch {
        path: AttributePath,
        expected: String,
        found: String,
    },
}
