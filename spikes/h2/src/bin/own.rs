//! `own [PORT] [httlib]`: h2c (prior knowledge) on 127.0.0.1:PORT, our own frame
//! layer in a single-threaded mio loop, HPACK by loona-hpack (or httlib-hpack);
//! every request gets `200 hello\n`.
use pierhead_h2spike::own::{Hpack, OwnSession};

fn main() -> std::io::Result<()> {
    let hpack = match std::env::args().nth(2).as_deref() {
        Some("httlib") => Hpack::Httlib,
        None | Some("loona") => Hpack::Loona,
        Some(other) => panic!("unknown HPACK decoder {other}"),
    };
    pierhead_h2spike::serve(pierhead_h2spike::addr_from_args(), move || {
        OwnSession::new(hpack)
    })
}
