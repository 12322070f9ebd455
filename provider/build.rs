//! Compiles the vendored plugin protocol definitions. `protox` parses them in Rust, so the build
//! needs no system `protoc`.
include!("../build-support/commit.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    emit_git_commit();
    let proto_root = "../proto";
    let files = [
        "tfplugin6/tfplugin6.proto",
        "plugin/grpc_controller.proto",
        "plugin/grpc_stdio.proto",
        "plugin/grpc_broker.proto",
    ];
    let descriptors = protox::compile(files, [proto_root])?;
    // Kept for the test that compares tfplugin6 with the descriptor a released Terraform embeds.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("plugin-protocol.fds"), prost::Message::encode_to_vec(&descriptors))?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Unimplemented RPCs (state storage, ephemeral resources, functions) answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={proto_root}");
    Ok(())
}
