//! `h2crate [PORT]`: h2c (prior knowledge) on 127.0.0.1:PORT, hyperium's h2 polled
//! from a single-threaded mio loop; every request gets `200 hello\n`.
fn main() -> std::io::Result<()> {
    pierhead_h2spike::serve(
        pierhead_h2spike::addr_from_args(),
        pierhead_h2spike::viah2::H2Session::new,
    )
}
