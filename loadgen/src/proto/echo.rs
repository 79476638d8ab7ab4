//! Echo: a payload per request, unique to its connection (so that bytes meant
//! for another connection are caught), which must come back byte for byte.

use super::answer::{Answers, Cut, Framing};

/// The payload of connection `conn`: its id, then a pattern, `len` bytes in all.
pub(crate) fn payload(conn: u64, len: usize) -> Vec<u8> {
    let id = conn.to_be_bytes();
    (0..len)
        .map(|i| match id.get(i) {
            Some(&b) => b,
            None => b'a' + ((i as u64 + conn) % 26) as u8,
        })
        .collect()
}

/// Compares what comes back with what was sent.
#[derive(Debug)]
pub(crate) struct Reader {
    payload: std::sync::Arc<[u8]>,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(payload: std::sync::Arc<[u8]>) -> Reader {
        Reader { payload, pos: 0 }
    }

    pub(crate) fn feed(&mut self, mut data: &[u8], out: &mut Answers) -> Result<(), Framing> {
        while !data.is_empty() {
            let want = &self.payload[self.pos..];
            let n = want.len().min(data.len());
            if data[..n] != want[..n] {
                return Err(Framing::Echo);
            }
            self.pos += n;
            data = &data[n..];
            if self.pos == self.payload.len() {
                self.pos = 0;
                out.complete += 1;
            }
        }
        Ok(())
    }

    /// The connection ended: fine between echoes, a [`Cut`] in the middle of one.
    pub(crate) fn eof(&mut self) -> Result<(), Cut> {
        if self.pos == 0 {
            Ok(())
        } else {
            Err(Cut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_counted_at_any_split_and_other_bytes_caught() {
        let p: std::sync::Arc<[u8]> = payload(7, 20).into();
        assert_ne!(payload(7, 20), payload(8, 20));
        let wire = p.repeat(3);
        for cut in 0..wire.len() {
            let mut r = Reader::new(p.clone());
            let mut a = Answers::default();
            r.feed(&wire[..cut], &mut a).unwrap();
            r.feed(&wire[cut..], &mut a).unwrap();
            assert_eq!(a.complete, 3);
        }
        let mut r = Reader::new(p.clone());
        let other = payload(8, 20);
        assert!(r.feed(&other, &mut Answers::default()).is_err());
        let mut r = Reader::new(p.clone());
        r.feed(&wire[..5], &mut Answers::default()).unwrap();
        assert!(r.eof().is_err());
    }
}
