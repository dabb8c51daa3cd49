//! Generates the message types from `proto/enventa.proto` (the one schema
//! the .NET side also compiles). protoc comes from `protoc-bin-vendored`, so
//! no system package is needed.

fn main() {
    // Read at run time, not with env!: a build script compiled for one
    // checkout can be reused by another sharing the target dir.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let proto = std::path::Path::new(&manifest).join("../proto/enventa.proto");
    let dir = proto.parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed={}", proto.display());
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc for this platform");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    config.btree_map(["."]);
    config.compile_protos(&[proto], &[dir]).expect("compiling proto/enventa.proto");
}
