//! The frame protocol's wire format for Python: the core's own encoder and
//! decoder (`pierhead::frame`), so that `pierhead.FrameClient` speaks exactly
//! what the server does.

use pierhead::frame::{self, FrameType};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::frame_error;

/// A data frame carrying `payload`.
#[pyfunction]
pub(crate) fn frame_data(py: Python<'_>, payload: &[u8]) -> Py<PyBytes> {
    let mut out = Vec::with_capacity(frame::HEADER_LEN + payload.len());
    frame::encode(FrameType::Data, payload, &mut out);
    PyBytes::new(py, &out).unbind()
}

/// A control frame: `opcode` then `arg`.
#[pyfunction]
pub(crate) fn frame_control(py: Python<'_>, opcode: u8, arg: &[u8]) -> Py<PyBytes> {
    let mut out = Vec::new();
    frame::encode_control(opcode, arg, &mut out);
    PyBytes::new(py, &out).unbind()
}

/// A decoded frame as Python gets it: (kind, opcode, payload, bytes used).
type Decoded = (u8, u8, Py<PyBytes>, usize);

/// The first whole frame of `buf`: `(kind, opcode, payload, length)` where kind is
/// 1 (control; `payload` is the opcode's argument) or 2 (data; opcode 0), and
/// length the bytes it took; `None` until it has all arrived. `FrameError` for
/// bytes that are not a frame.
#[pyfunction]
pub(crate) fn frame_decode(
    py: Python<'_>,
    buf: &[u8],
    max_len: usize,
) -> PyResult<Option<Decoded>> {
    let decoded = frame::decode(buf, max_len).map_err(|e| frame_error(py, e.to_string(), ""))?;
    let Some((header, payload)) = decoded else {
        return Ok(None);
    };
    let len = header.frame_len();
    Ok(Some(match header.kind {
        FrameType::Data => (2, 0, PyBytes::new(py, payload).unbind(), len),
        FrameType::Control => {
            let (&opcode, arg) = payload
                .split_first()
                .ok_or_else(|| frame_error(py, "empty control frame".to_owned(), ""))?;
            (1, opcode, PyBytes::new(py, arg).unbind(), len)
        }
    }))
}
