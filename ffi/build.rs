//! Gives the shared library its soname, `libpierhead.so.<major>`, so that programs
//! linked against `libpierhead.so` find it again under that name.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpierhead.so.{major}");
}
