//! Incremental UTF-8 validation of a text message as its fragments arrive, failing
//! fast: a message is refused at the byte that makes it invalid, even when that
//! byte ends a piece in the middle of a sequence (`F4 90` can begin no code point),
//! not at the message's end.
//!
//! Built on [`std::str::from_utf8`]: its error says whether the bytes are invalid
//! (`error_len()` is `Some`) or only end in a sequence that is valid so far
//! (`None`); such a tail (at most 3 bytes) is carried over to the next piece.

/// A text message's payload is not UTF-8 (close code 1007).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 in a text message")]
pub(crate) struct Utf8Error;

impl Utf8Error {
    /// The close code to fail the connection with: 1007 (invalid payload data).
    pub(crate) fn close_code(&self) -> u16 {
        super::close::code::INVALID_PAYLOAD
    }
}

/// The validation state of one text message: the bytes of a sequence that the
/// last piece left incomplete.
#[derive(Debug, Default)]
pub(crate) struct Utf8Validator {
    /// The incomplete sequence (its first `carried` bytes).
    carry: [u8; 4],
    /// How many bytes of `carry` are in use (0 to 3).
    carried: u8,
}

impl Utf8Validator {
    /// Validates the next piece of a text message. `Err` as soon as the bytes so
    /// far cannot be the start of valid UTF-8, including when the invalid byte is
    /// in an incomplete sequence at the end. After an `Err` the validator is
    /// reset.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let rest = match self.complete_carry(bytes) {
            Ok(rest) => rest,
            Err(e) => {
                self.carried = 0;
                return Err(e);
            }
        };
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // A sequence valid so far, cut by the end of the piece.
                let tail = &rest[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carried = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// The message ended: `Err` if its last sequence is incomplete. Resets the
    /// validator for the next message either way.
    pub(crate) fn finish(&mut self) -> Result<(), Utf8Error> {
        let incomplete = self.carried != 0;
        self.carried = 0;
        if incomplete {
            Err(Utf8Error)
        } else {
            Ok(())
        }
    }

    /// Completes the carried sequence with the first bytes of `bytes` (as many as
    /// it needs, or all of them); returns the bytes after it.
    fn complete_carry<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], Utf8Error> {
        let have = usize::from(self.carried);
        if have == 0 {
            return Ok(bytes);
        }
        // The carried lead byte passed from_utf8, so it is C2-F4: its length is
        // the count of its leading ones.
        let need = self.carry[0].leading_ones() as usize;
        let take = (need - have).min(bytes.len());
        self.carry[have..have + take].copy_from_slice(&bytes[..take]);
        let seq = &self.carry[..have + take];
        match std::str::from_utf8(seq) {
            Ok(_) => {
                self.carried = 0;
                Ok(&bytes[take..])
            }
            Err(e) if e.error_len().is_none() => {
                // Still incomplete (the piece ended), still valid so far.
                self.carried = seq.len() as u8;
                Ok(&bytes[take..])
            }
            Err(_) => Err(Utf8Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: `bytes` can still begin valid UTF-8 (is valid, or valid
    /// but for an incomplete last sequence).
    fn valid_so_far(bytes: &[u8]) -> bool {
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
    }

    /// Feeds `pieces` and finishes; `Err` carries the index of the failing piece
    /// (`pieces.len()` for `finish`).
    fn validate(pieces: &[&[u8]]) -> Result<(), usize> {
        let mut v = Utf8Validator::default();
        for (i, p) in pieces.iter().enumerate() {
            v.feed(p).map_err(|_| i)?;
        }
        v.finish().map_err(|_| pieces.len())
    }

    /// Checks `bytes` whole, cut at every position, and byte by byte: the
    /// verdict is `valid` every way, and fed byte by byte it fails at the first
    /// byte after which no valid UTF-8 can follow (or at the end).
    fn check(valid: bool, bytes: &[u8]) {
        assert_eq!(
            std::str::from_utf8(bytes).is_ok(),
            valid,
            "table {bytes:x?}"
        );
        assert_eq!(validate(&[bytes]).is_ok(), valid, "whole {bytes:x?}");
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            let got = validate(&[a, b]);
            assert_eq!(got.is_ok(), valid, "{bytes:x?} cut at {at}");
            if let Err(piece) = got {
                let want = if !valid_so_far(a) {
                    0
                } else if !valid_so_far(bytes) {
                    1
                } else {
                    2
                };
                assert_eq!(piece, want, "{bytes:x?} cut at {at}: fails late");
            }
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        let first_bad = (1..=bytes.len())
            .find(|&n| !valid_so_far(&bytes[..n]))
            .map_or(bytes.len(), |n| n - 1);
        match validate(&bytewise) {
            Ok(()) => assert!(valid),
            Err(at) => assert_eq!(at, first_bad, "{bytes:x?} byte by byte"),
        }
    }

    /// Autobahn|Testsuite's 6.5-6.22 sequences (case6_x_x.py, after Markus
    /// Kuhn's UTF-8-test.txt): (valid, bytes).
    fn autobahn_6_x_x() -> Vec<(bool, Vec<u8>)> {
        let kappa = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
        let mut v: Vec<(bool, Vec<u8>)> = Vec::new();
        let mut add = |valid: bool, b: &[u8]| v.push((valid, b.to_vec()));
        // 6.5: some valid UTF-8.
        for b in [
            &b"hello\x24world"[..],
            b"hello\xC2\xA2world",
            b"hello\xE2\x82\xACworld",
            b"hello\xF0\xA4\xAD\xA2world",
            kappa,
        ] {
            add(true, b);
        }
        // 6.6: every prefix of a valid string with multi-byte code points.
        for i in 1..=kappa.len() {
            add(std::str::from_utf8(&kappa[..i]).is_ok(), &kappa[..i]);
        }
        // 6.7-6.11: first and last sequences of each length; 5- and 6-byte forms.
        for b in [
            &b"\x00"[..],
            b"\xc2\x80",
            b"\xe0\xa0\x80",
            b"\xf0\x90\x80\x80",
            b"\x7f",
            b"\xdf\xbf",
            b"\xef\xbf\xbf",
            b"\xf4\x8f\xbf\xbf",
            b"\xed\x9f\xbf",
            b"\xee\x80\x80",
            b"\xef\xbf\xbd",
        ] {
            add(true, b);
        }
        for b in [
            &b"\xf8\x88\x80\x80\x80"[..],
            b"\xfc\x84\x80\x80\x80\x80",
            b"\xf7\xbf\xbf\xbf",
            b"\xfb\xbf\xbf\xbf\xbf",
            b"\xfd\xbf\xbf\xbf\xbf\xbf",
            b"\xf4\x90\x80\x80",
        ] {
            add(false, b);
        }
        // 6.12: unexpected continuation bytes.
        for b in [
            &b"\x80"[..],
            b"\xbf",
            b"\x80\xbf",
            b"\x80\xbf\x80",
            b"\x80\xbf\x80\xbf",
            b"\x80\xbf\x80\xbf\x80",
            b"\x80\xbf\x80\xbf\x80\xbf",
        ] {
            add(false, b);
        }
        add(false, &(0x80..0xbf).collect::<Vec<u8>>());
        // 6.13: lonely start characters, each followed by a space.
        for (lo, hi) in [
            (0xc0u8, 0xdfu8),
            (0xe0, 0xef),
            (0xf0, 0xf7),
            (0xf8, 0xfb),
            (0xfc, 0xfd),
        ] {
            add(
                false,
                &(lo..hi).flat_map(|b| [b, 0x20]).collect::<Vec<u8>>(),
            );
        }
        // 6.14-6.15: sequences with the last continuation byte missing, and all
        // of them concatenated.
        let cut: [&[u8]; 10] = [
            b"\xc0",
            b"\xe0\x80",
            b"\xf0\x80\x80",
            b"\xf8\x80\x80\x80",
            b"\xfc\x80\x80\x80\x80",
            b"\xdf",
            b"\xef\xbf",
            b"\xf7\xbf\xbf",
            b"\xfb\xbf\xbf\xbf",
            b"\xfd\xbf\xbf\xbf\xbf",
        ];
        for b in cut {
            add(false, b);
        }
        add(false, &cut.concat());
        // 6.16-6.19: impossible bytes, overlong forms, single and paired
        // UTF-16 surrogates.
        for b in [
            &b"\xfe"[..],
            b"\xff",
            b"\xfe\xfe\xff\xff",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xf0\x80\x80\xaf",
            b"\xf8\x80\x80\x80\xaf",
            b"\xfc\x80\x80\x80\x80\xaf",
            b"\xc1\xbf",
            b"\xe0\x9f\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xf8\x87\xbf\xbf\xbf",
            b"\xfc\x83\xbf\xbf\xbf\xbf",
            b"\xc0\x80",
            b"\xe0\x80\x80",
            b"\xf0\x80\x80\x80",
            b"\xf8\x80\x80\x80\x80",
            b"\xfc\x80\x80\x80\x80\x80",
            b"\xed\xa0\x80",
            b"\xed\xad\xbf",
            b"\xed\xae\x80",
            b"\xed\xaf\xbf",
            b"\xed\xb0\x80",
            b"\xed\xbe\x80",
            b"\xed\xbf\xbf",
            b"\xed\xa0\x80\xed\xb0\x80",
            b"\xed\xa0\x80\xed\xbf\xbf",
            b"\xed\xad\xbf\xed\xb0\x80",
            b"\xed\xad\xbf\xed\xbf\xbf",
            b"\xed\xae\x80\xed\xb0\x80",
            b"\xed\xae\x80\xed\xbf\xbf",
            b"\xed\xaf\xbf\xed\xb0\x80",
            b"\xed\xaf\xbf\xed\xbf\xbf",
        ] {
            add(false, b);
        }
        // 6.20-6.21: non-characters and specials (valid UTF-8).
        add(true, b"\xef\xbf\xbe");
        add(true, b"\xef\xbf\xbf");
        for z1 in [0xf0u8, 0xf1, 0xf2, 0xf3, 0xf4] {
            for z2 in [0x8fu8, 0x9f, 0xaf, 0xbf] {
                if z1 == 0xf4 && z2 != 0x8f {
                    continue;
                }
                for z3 in [0xbeu8, 0xbf] {
                    if !(z1 == 0xf0 && z2 == 0x8f) {
                        add(true, &[z1, z2, 0xbf, z3]);
                    }
                }
            }
        }
        for last in 0xb9..=0xbf {
            add(true, &[0xef, 0xbf, last]);
        }
        v
    }

    #[test]
    fn autobahn_6_x_cases_split_everywhere() {
        // 6.1: empty; 6.2: valid text in fragments.
        check(true, b"");
        check(true, "Hello-µ@ßöäüàá-UTF-8!!".as_bytes());
        // 6.3: invalid (a surrogate) in the middle, in fragments.
        check(
            false,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
        );
        // 6.4: an out-of-range code point in the middle.
        check(
            false,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
        );
        let table = autobahn_6_x_x();
        assert!(table.len() > 130, "{} sequences", table.len());
        for (valid, bytes) in &table {
            check(*valid, bytes);
        }
    }

    #[test]
    fn autobahn_6_4_fails_at_the_fragment_that_makes_it_bad() {
        let part1: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
        let part3: &[u8] = b"\x65\x64\x69\x74\x65\x64";
        // 6.4.1 / 6.4.3: the whole bad sequence in the second fragment.
        assert_eq!(validate(&[part1, b"\xf4\x90\x80\x80", part3]), Err(1));
        // 6.4.2 / 6.4.4: the second fragment is the single byte 0x90 after an F4
        // that ended the first: it fails at once.
        let mut first = part1.to_vec();
        first.push(0xf4);
        assert_eq!(
            validate(&[&first, b"\x90", b"\x80\x80\x65\x64\x69\x74\x65\x64"]),
            Err(1)
        );
        // Incomplete but so far valid tails do not fail early; bad ones do.
        assert_eq!(validate(&[b"\xf4", b"\x8f"]), Err(2));
        assert_eq!(validate(&[b"\xf4\x90"]), Err(0));
        assert_eq!(validate(&[b"\xe0\x80"]), Err(0));
        assert_eq!(validate(&[b"\xe0", b"\x80"]), Err(1));
        assert_eq!(validate(&[b"\xed", b"\xa0"]), Err(1));
        assert_eq!(validate(&[b"\xf0", b"\x9f", b"\x98", b"\x80"]), Ok(()));
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut v = Utf8Validator::default();
        v.feed(b"ok\xe2\x82").unwrap();
        assert_eq!(v.finish(), Err(Utf8Error));
        v.feed(b"\xac").unwrap_err();
        v.feed("\u{20ac}".as_bytes()).unwrap();
        assert_eq!(v.finish(), Ok(()));
        assert_eq!(Utf8Error.close_code(), 1007);
    }

    proptest! {
        #[test]
        fn agrees_with_std_however_the_message_is_cut(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x80u8..0xc0, 0xc2u8..0xf5], 0..24),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
            text in ".{0,8}",
        ) {
            for bytes in [bytes, text.into_bytes()] {
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
                at.sort_unstable();
                let mut pieces = Vec::new();
                let mut from = 0;
                for &to in at.iter().chain([bytes.len()].iter()) {
                    pieces.push(&bytes[from..to]);
                    from = to;
                }
                let got = validate(&pieces);
                prop_assert_eq!(got.is_ok(), std::str::from_utf8(&bytes).is_ok());
                if let Err(piece) = got {
                    // It fails at the first piece after which the bytes cannot be
                    // valid UTF-8 any more.
                    let mut end = 0;
                    let mut want = pieces.len();
                    for (i, p) in pieces.iter().enumerate() {
                        end += p.len();
                        if !valid_so_far(&bytes[..end]) {
                            want = i;
                            break;
                        }
                    }
                    prop_assert_eq!(piece, want);
                }
            }
        }
    }
}
