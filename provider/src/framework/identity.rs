//! Resource identity (Terraform 1.12 and later): the value that names a remote object apart from its
//! state, used by `import { identity = { ... } }` blocks and kept beside the state. Every resource
//! of this provider is an ELBv2 object with an ARN, so its identity is that ARN, taken from the
//! state's `arn` attribute.

use std::collections::BTreeMap;

use super::convert::{decode_dynamic, encode_dynamic};
use super::Diagnostics;
use crate::proto::tfplugin6 as pb;
use crate::tfvalue::{Type, Value};

/// The one identity attribute, the same name as the state attribute it comes from.
const ARN: &str = "arn";

fn identity_type() -> Type {
    Type::Object(BTreeMap::from([(ARN.to_string(), Type::String)]))
}

/// The identity schema of a resource whose import IDs are `import_id` ("a target group ARN").
pub fn schema(import_id: &str) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: 0,
        identity_attributes: vec![pb::resource_identity_schema::IdentityAttribute {
            name: ARN.to_string(),
            r#type: Type::String.to_json().to_string().into_bytes(),
            required_for_import: true,
            optional_for_import: false,
            description: format!("The object's `arn`: {import_id}."),
        }],
    }
}

/// The identity of the object a state describes; none while its ARN is not known (a create being
/// planned) or once it is gone.
pub fn of_state(state: &Value) -> Option<pb::ResourceIdentityData> {
    let arn = state.get(ARN).as_str()?;
    let value = Value::object([(ARN, Value::string(arn))]);
    Some(pb::ResourceIdentityData {
        identity_data: Some(encode_dynamic(&value, &identity_type())),
    })
}

/// The ARN an identity names (an import by identity), if it names one.
pub fn arn_of(identity: Option<&pb::ResourceIdentityData>, diags: &mut Diagnostics) -> Option<String> {
    let data = identity?.identity_data.as_ref()?;
    let value = decode_dynamic(Some(data), &identity_type(), "resource identity", diags);
    value.get(ARN).as_str().map(str::to_string)
}

/// A stored identity (JSON) as the current identity schema's value: version 0 is the only one.
pub fn upgrade(raw_json: &[u8], diags: &mut Diagnostics) -> Option<pb::ResourceIdentityData> {
    match crate::tfvalue::decode_json(raw_json, &identity_type()) {
        Ok(value) => of_state(&value),
        Err(e) => {
            diags.error("Stored identity does not match the identity schema", e.to_string());
            None
        }
    }
}
