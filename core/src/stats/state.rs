//! The lifecycle states a snapshot reports: the server's ([`State`]) and its
//! backplane link's ([`BackplaneState`]).

use super::figures::{Figure, StatValue};

/// A state enum with its lower-case names, its `u8` form (for an atomic; values
/// past the last variant read as the last), `Display` and its stats value.
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident {
            $($(#[$vmeta:meta])* $Variant:ident = $text:literal,)+
        }
        $(#[$as_str_meta:meta])*
        as_str;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $Name {
            $($(#[$vmeta])* $Variant,)+
        }

        impl $Name {
            const ALL: &'static [$Name] = &[$($Name::$Variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            pub(crate) fn to_u8(self) -> u8 {
                self as u8
            }

            pub(crate) fn from_u8(v: u8) -> $Name {
                let last = $Name::ALL[$Name::ALL.len() - 1];
                $Name::ALL.get(usize::from(v)).copied().unwrap_or(last)
            }

            $(#[$as_str_meta])*
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($Name::$Variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $Name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Figure for $Name {
            const ZERO: $Name = $Name::ALL[0];

            fn value(&self) -> StatValue<'_> {
                StatValue::State {
                    now: self.as_str(),
                    all: $Name::NAMES,
                }
            }

            fn example(n: u64) -> $Name {
                $Name::ALL[(n % $Name::ALL.len() as u64) as usize]
            }
        }
    };
}

state_enum! {
    /// Lifecycle state of a server.
    pub enum State {
        /// Accepting and serving connections.
        Running = "running",
        /// `stop` was called: no longer accepting, draining in-flight work.
        Stopping = "stopping",
        /// Every worker thread has exited.
        Stopped = "stopped",
        /// A worker hit an error it could not recover from (its event loop failed).
        /// The other workers keep serving until `stop`.
        Failed = "failed",
    }
    /// Lower-case name, as printed by the CLI and in Prometheus labels.
    as_str;
}

state_enum! {
    /// Where the link to the broker stands.
    pub enum BackplaneState {
        /// The first connection is being made.
        Connecting = "connecting",
        /// Both connections are up and the broker answered `PING` on each: frames
        /// are published and received.
        Connected = "connected",
        /// The broker is unreachable or was lost: rooms are served locally, frames
        /// for other servers are dropped (counted), and the link retries with
        /// back-off.
        Down = "down",
        /// The server stopped; the connections are closed.
        Stopped = "stopped",
    }
    /// Lower-case name, as the CLI and the bindings print it.
    as_str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_u8() {
        for &s in State::ALL {
            assert_eq!(State::from_u8(s.to_u8()), s);
        }
        assert_eq!(State::from_u8(200), State::Failed);
        for &s in BackplaneState::ALL {
            assert_eq!(BackplaneState::from_u8(s.to_u8()), s);
        }
        assert_eq!(BackplaneState::from_u8(200), BackplaneState::Stopped);
        assert_eq!(
            (State::Running.to_u8(), State::Failed.to_u8()),
            (0, 3),
            "the values the atomics held before"
        );
        assert_eq!(State::Stopping.to_string(), "stopping");
        assert_eq!(BackplaneState::Down.to_string(), "down");
    }
}
