//! `echo` (RFC 862): send back every byte received, in order.

use super::{Ctx, Next, Progress};

pub(super) fn on_input(input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
    ctx.out.extend_from_slice(input);
    Progress {
        consumed: input.len(),
        next: Next::Continue,
    }
}
