//! `own [PORT]`: h2c (prior knowledge) on 127.0.0.1:PORT, our own frame layer over
//! loona-hpack in a single-threaded mio loop; every request gets `200 hello\n`.
fn main() -> std::io::Result<()> {
    pierhead_h2spike::serve(
        pierhead_h2spike::addr_from_args(),
        pierhead_h2spike::own::OwnSession::new,
    )
}
