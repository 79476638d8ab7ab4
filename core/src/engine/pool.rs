//! Per-worker pool of byte buffers.
//!
//! A connection holds a buffer only while bytes are in flight (partial input, unsent
//! output); an idle connection holds none. Buffers move by value (`Vec<u8>`): taking
//! one from the pool moves it out, giving it back moves it in, so a buffer is reachable
//! from exactly one connection or the pool, never two. Putting a buffer back twice, the
//! bug that sends one client's bytes to another in pooled servers, cannot be written.

/// Capacity of a fresh pooled buffer.
#[cfg(not(feature = "tiny-buffers"))]
pub(crate) const BUFFER_SIZE: usize = 16 * 1024;
/// Buffers that grew past this are freed instead of pooled, bounding pool memory.
#[cfg(not(feature = "tiny-buffers"))]
const MAX_POOLED_CAPACITY: usize = 64 * 1024;
/// Most buffers kept in the pool.
#[cfg(not(feature = "tiny-buffers"))]
const MAX_POOLED: usize = 128;

// The reliability build: every buffer is reused at once by the next connection.
#[cfg(feature = "tiny-buffers")]
pub(crate) const BUFFER_SIZE: usize = 64;
#[cfg(feature = "tiny-buffers")]
const MAX_POOLED_CAPACITY: usize = 1024;
#[cfg(feature = "tiny-buffers")]
const MAX_POOLED: usize = 2;

#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    /// An empty buffer with at least [`BUFFER_SIZE`] capacity.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_SIZE))
    }

    /// Returns a buffer; its contents are cleared.
    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() < BUFFER_SIZE
            || buf.capacity() > MAX_POOLED_CAPACITY
            || self.free.len() >= MAX_POOLED
        {
            return; // dropped
        }
        buf.clear();
        self.free.push(buf);
    }

    /// Moves `buf` out of its holder (leaving an unallocated `Vec`) back into the pool.
    pub(crate) fn reclaim(&mut self, holder: &mut Vec<u8>) {
        if holder.capacity() > 0 {
            self.give(std::mem::take(holder));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_clears() {
        let mut p = BufferPool::default();
        let mut b = p.take();
        b.extend_from_slice(b"secret of client A");
        let ptr = b.as_ptr();
        p.give(b);
        let b2 = p.take();
        assert_eq!(b2.as_ptr(), ptr);
        assert!(b2.is_empty());
    }

    #[test]
    fn reclaim_leaves_holder_unallocated() {
        let mut p = BufferPool::default();
        let mut holder = p.take();
        holder.push(1);
        p.reclaim(&mut holder);
        assert_eq!(holder.capacity(), 0);
        p.reclaim(&mut holder); // nothing to give back twice
        assert_eq!(p.free.len(), 1);
    }
}
