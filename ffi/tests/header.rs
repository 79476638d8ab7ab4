//! The committed `include/pierhead.h` must be exactly what cbindgen generates from
//! the sources: a change to the C surface without regenerating the header fails here.

use std::path::Path;

#[test]
fn committed_header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = crate_dir.join("../include/pierhead.h");
    if std::env::var_os("PIERHEAD_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("writing include/pierhead.h");
    }
    let committed = std::fs::read(&path).expect("include/pierhead.h");
    assert!(
        generated == committed,
        "include/pierhead.h has drifted from ffi/src. Regenerate it with:\n  \
         PIERHEAD_BLESS_HEADER=1 cargo test -p pierhead-ffi --test header\n  \
         (or: cbindgen --config ffi/cbindgen.toml --crate pierhead-ffi --output include/pierhead.h)"
    );
}
