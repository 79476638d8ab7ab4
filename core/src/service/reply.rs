//! What a session answers to one batch of input: owned bytes, with shared slices
//! (large response bodies) between them.
//!
//! Small answers are copied into one buffer, so that a pipelined batch goes out in
//! one `send`. A large body that already lives in memory (a static route's body)
//! is not copied: its reference-counted [`Bytes`] is queued as it is, however many
//! connections send it, and the engine writes the pieces with one vectored send.

use bytes::Bytes;

/// Bodies at least this long are queued shared rather than copied.
pub(crate) const SHARE_MIN: usize = 16 * 1024;

/// An answer being built: `bytes`, with `shared` slices inserted at given offsets.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    bytes: Vec<u8>,
    /// Shared slices, each placed before `bytes[at..]`, in order of `at`.
    shared: Vec<(usize, Bytes)>,
    shared_len: usize,
}

impl Reply {
    /// An empty answer whose owned part has room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Reply {
        Reply {
            bytes: Vec::with_capacity(capacity),
            shared: Vec::new(),
            shared_len: 0,
        }
    }

    /// The owned buffer, to append to.
    #[inline]
    pub(crate) fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Appends a copy of `data`.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Appends `data`: shared if it is large, copied otherwise.
    #[inline(always)]
    pub(crate) fn push_shared(&mut self, data: &Bytes) {
        if data.len() < SHARE_MIN {
            self.bytes.extend_from_slice(data);
        } else {
            self.share(data);
        }
    }

    #[cold]
    fn share(&mut self, data: &Bytes) {
        self.shared_len += data.len();
        self.shared.push((self.bytes.len(), data.clone()));
    }

    /// Total length of the answer, shared slices included.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() + self.shared_len
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every byte is in the owned buffer (the common case: one plain send).
    #[inline]
    pub(crate) fn is_contiguous(&self) -> bool {
        self.shared.is_empty()
    }

    /// The owned buffer, when [`Reply::is_contiguous`].
    #[inline]
    pub(crate) fn as_contiguous(&self) -> Option<&[u8]> {
        self.is_contiguous().then_some(self.bytes.as_slice())
    }

    /// Empties the answer; a buffer that grew past `keep` bytes is given back to the
    /// allocator, so a burst does not pin its peak size.
    pub(crate) fn clear(&mut self, keep: usize) {
        self.bytes.clear();
        if self.bytes.capacity() > keep {
            self.bytes = Vec::with_capacity(keep);
        }
        self.shared.clear();
        self.shared_len = 0;
    }

    /// The pieces in order: owned runs (never empty) and shared slices.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        let mut at = 0;
        let mut shared = self.shared.iter();
        let mut pending: Option<&Bytes> = None;
        std::iter::from_fn(move || loop {
            if let Some(b) = pending.take() {
                return Some(Piece::Shared(b));
            }
            match shared.next() {
                Some((pos, b)) => {
                    pending = Some(b);
                    if *pos > at {
                        let run = &self.bytes[at..*pos];
                        at = *pos;
                        return Some(Piece::Owned(run));
                    }
                }
                None if at < self.bytes.len() => {
                    let run = &self.bytes[at..];
                    at = self.bytes.len();
                    return Some(Piece::Owned(run));
                }
                None => return None,
            }
        })
    }

    /// The whole answer as one vector (tests).
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for p in self.pieces() {
            v.extend_from_slice(p.as_slice());
        }
        v
    }
}

/// A piece of an answer.
#[derive(Debug)]
pub(crate) enum Piece<'a> {
    /// Bytes to copy if they cannot be sent at once.
    Owned(&'a [u8]),
    /// A shared slice, kept by reference if it cannot be sent at once.
    Shared(&'a Bytes),
}

impl<'a> Piece<'a> {
    /// The piece's bytes, borrowed from the answer (not from the piece).
    pub(crate) fn as_slice(&self) -> &'a [u8] {
        match *self {
            Piece::Owned(b) => b,
            Piece::Shared(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_slices_are_shared_small_ones_copied() {
        let big = Bytes::from(vec![b'x'; SHARE_MIN]);
        let small = Bytes::from_static(b"tiny");
        let mut out = Reply::with_capacity(16);
        out.extend_from_slice(b"head1;");
        out.push_shared(&big);
        out.push_shared(&big);
        out.extend_from_slice(b"head2;");
        out.push_shared(&small);
        assert_eq!(out.len(), 12 + 2 * SHARE_MIN + 4);
        assert!(!out.is_contiguous());
        let kinds: Vec<(bool, usize)> = out
            .pieces()
            .map(|p| (matches!(p, Piece::Shared(_)), p.as_slice().len()))
            .collect();
        assert_eq!(
            kinds,
            [
                (false, 6),
                (true, SHARE_MIN),
                (true, SHARE_MIN),
                (false, 10)
            ]
        );
        let whole = out.to_vec();
        assert!(whole.starts_with(b"head1;x") && whole.ends_with(b"xhead2;tiny"));
        // The shared pieces point at the original allocation: no copy.
        let ptrs: Vec<*const u8> = out
            .pieces()
            .filter_map(|p| match p {
                Piece::Shared(b) => Some(b.as_ptr()),
                Piece::Owned(_) => None,
            })
            .collect();
        assert_eq!(ptrs, [big.as_ptr(), big.as_ptr()]);
    }

    #[test]
    fn clear_gives_back_a_grown_buffer() {
        let mut out = Reply::with_capacity(64);
        out.extend_from_slice(&[0; 10_000]);
        out.clear(64);
        assert!(out.is_empty() && out.bytes().capacity() <= 64);
        out.extend_from_slice(&[0; 10]);
        out.clear(64);
        assert!(out.bytes().capacity() >= 10);
    }
}
