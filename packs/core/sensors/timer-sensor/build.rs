//! Records the target triple the binary is built for, for `--version`.
use std::env;

fn main() {
    let target = env::var("TARGET").unwrap_or_else(|_| String::from("unknown"));
    println!("cargo:rustc-env=BUILD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
