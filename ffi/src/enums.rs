//! Enums from C, taken as `int32_t` and checked.
//!
//! A C enum parameter can hold any `int`, but a Rust `#[repr(C)] enum` holding a
//! value outside its variants is undefined behaviour (a `match` on it jumps
//! anywhere). So no export takes an enum type: parameters and fields of input
//! structs are `int32_t`, documented with the enum they take, and go through
//! [`CEnum::from_arg`] before anything else happens. The enums stay in the header
//! as the named constants C code writes.

use crate::result::{pierhead_result, set_last_error};

/// A `#[repr(C)]` enum of the header, with the checked conversion from the
/// `int32_t` C passes. Implemented by [`c_enum!`].
pub(crate) trait CEnum: Copy + 'static {
    /// The enum's name in the header.
    const NAME: &'static str;
    /// Every variant with its name in the header.
    const ALL: &'static [(Self, &'static str)];

    /// The value C sees.
    fn to_c(self) -> i32;

    /// The variant `value` stands for, if any.
    fn from_c(value: i32) -> Option<Self> {
        Self::ALL
            .iter()
            .map(|&(e, _)| e)
            .find(|e| e.to_c() == value)
    }

    /// The variant the argument `param` stands for, or
    /// `PIERHEAD_RESULT_INVALID_PARAMETER` with a last error naming the parameter,
    /// the value and the accepted ones.
    fn from_arg(value: i32, param: &str) -> Result<Self, pierhead_result> {
        Self::from_c(value).ok_or_else(|| {
            let valid: Vec<String> = Self::ALL
                .iter()
                .map(|&(e, name)| format!("{name} = {}", e.to_c()))
                .collect();
            set_last_error(format!(
                "invalid parameter `{param}`: {value} is not a {} value ({})",
                Self::NAME,
                valid.join(", ")
            ));
            pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
        })
    }
}

/// Implements [`CEnum`] for a `#[repr(C)]` enum: `c_enum!(name { VARIANT, ... })`
/// with every variant listed (a variant added to the enum and not here is a
/// compile error).
macro_rules! c_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl $crate::enums::CEnum for $name {
            const NAME: &'static str = stringify!($name);
            const ALL: &'static [(Self, &'static str)] =
                &[$(($name::$variant, stringify!($variant))),+];

            fn to_c(self) -> i32 {
                // Exhaustive: the list above holds every variant.
                match self {
                    $($name::$variant)|+ => self as i32,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::CEnum;
    use crate::*;

    /// Every value of every enum converts back to itself; a value next to them
    /// and the extremes do not.
    fn round_trip<E: CEnum + PartialEq + std::fmt::Debug>() {
        for &(e, _) in E::ALL {
            assert_eq!(E::from_c(e.to_c()), Some(e));
        }
        let max = E::ALL.iter().map(|&(e, _)| e.to_c()).max().unwrap_or(0);
        for bad in [-1, max + 1, 99, i32::MAX, i32::MIN] {
            assert_eq!(E::from_c(bad), None, "{} {bad}", E::NAME);
            assert_eq!(
                E::from_arg(bad, "p"),
                Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER)
            );
        }
    }

    #[test]
    fn every_enum_is_checked() {
        round_trip::<pierhead_result>();
        round_trip::<pierhead_protocol>();
        round_trip::<pierhead_slow_consumer>();
        round_trip::<pierhead_fault>();
        round_trip::<pierhead_connect_fault>();
        round_trip::<pierhead_stream_end>();
        round_trip::<pierhead_tls_bad_cert>();
        round_trip::<pierhead_tls_fault>();
        round_trip::<pierhead_bench_protocol>();
        round_trip::<pierhead_ws_message_type>();
        round_trip::<pierhead_ws_match>();
        round_trip::<pierhead_ws_fault>();
    }

    #[test]
    fn the_message_names_the_parameter_the_value_and_the_accepted_ones() {
        assert!(pierhead_protocol::from_arg(99, "protocol").is_err());
        let mut buf = [0 as libc::c_char; 512];
        // SAFETY: a buffer of its length; out_len may be NULL.
        let r = unsafe {
            pierhead_last_error_message(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut())
        };
        assert_eq!(r, pierhead_result::PIERHEAD_RESULT_OK);
        // SAFETY: NUL-terminated by the call.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap();
        assert_eq!(
            msg,
            "invalid parameter `protocol`: 99 is not a pierhead_protocol value \
             (PIERHEAD_PROTOCOL_DISCARD = 1, PIERHEAD_PROTOCOL_ECHO = 2, \
             PIERHEAD_PROTOCOL_HTTP = 3, PIERHEAD_PROTOCOL_FRAME = 4, PIERHEAD_PROTOCOL_WS = 5)"
        );
    }
}
