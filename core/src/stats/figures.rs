//! The stats table's vocabulary: what the table says about each figure
//! ([`StatField`]), the value a snapshot holds for it ([`StatValue`]), and
//! `stats_table!`, the macro that declares a group of figures once. From one
//! declaration it generates the snapshot struct (its public fields and their
//! docs), the list of fields with their metadata, and the block of counters the
//! threads write with the sum of such blocks into a snapshot.

use std::time::Duration;

/// What kind of figure a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// Only grows (a Prometheus `counter`: its name ends in `_total`).
    Counter,
    /// A level now, up or down (a Prometheus `gauge`).
    Gauge,
    /// One state out of a fixed set (in Prometheus, a 0/1 gauge per state).
    State,
    /// Not a measure: an identity, a text or a nested group of figures.
    Info,
}

/// What a figure counts or measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatUnit {
    /// Connections.
    Connections,
    /// Requests (HTTP requests, or frames).
    Requests,
    /// Responses (HTTP responses, or frames).
    Responses,
    /// Bytes (a base unit: Prometheus names end in `_bytes`).
    Bytes,
    /// Frames of the frame protocol.
    Frames,
    /// Messages from the backplane's broker.
    Messages,
    /// Rooms.
    Rooms,
    /// Room members.
    Members,
    /// Broker channels.
    Channels,
    /// Failures.
    Errors,
    /// Occurrences of an event.
    Events,
    /// Time (a base unit: Prometheus names end in `_seconds`).
    Seconds,
    /// No unit (states, identities, texts, groups).
    None,
}

impl StatUnit {
    /// Lower-case name (`bytes`, `seconds`, ...; `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatUnit::Connections => "connections",
            StatUnit::Requests => "requests",
            StatUnit::Responses => "responses",
            StatUnit::Bytes => "bytes",
            StatUnit::Frames => "frames",
            StatUnit::Messages => "messages",
            StatUnit::Rooms => "rooms",
            StatUnit::Members => "members",
            StatUnit::Channels => "channels",
            StatUnit::Errors => "errors",
            StatUnit::Events => "events",
            StatUnit::Seconds => "seconds",
            StatUnit::None => "none",
        }
    }
}

/// A part of the stats line (`pierhead serve`); parts are separated by ` | `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSection {
    /// `stats: up 2s running`.
    Head,
    /// `conns active 1 accepted 2 refused 0`.
    Conns,
    /// `requests 3 (3/s) responses 3`.
    Requests,
    /// `read 74 B (74 B/s) written 74 B`.
    Bytes,
    /// `rooms 1 members 2 broadcasts 1 ...`.
    Rooms,
    /// `backplane connected subscribed 1 ...`.
    Backplane,
    /// `errors protocol 0 timeouts 0 ...`.
    Errors,
}

impl LineSection {
    /// The word the part starts with, if any.
    pub fn heading(self) -> Option<&'static str> {
        match self {
            LineSection::Head => Some("stats:"),
            LineSection::Conns => Some("conns"),
            LineSection::Errors => Some("errors"),
            _ => None,
        }
    }
}

/// Where a figure appears in the stats line: `label value`, a byte count with
/// ` B`, and with `rate` its rate per second since the previous line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineItem {
    /// The part of the line.
    pub section: LineSection,
    /// The word before the value (empty: the value alone).
    pub label: &'static str,
    /// Followed by its rate per second, `(N/s)`.
    pub rate: bool,
}

/// `label value` in `section` of the stats line.
pub(crate) const fn line(section: LineSection, label: &'static str) -> Option<LineItem> {
    Some(LineItem {
        section,
        label,
        rate: false,
    })
}

/// `label value (rate/s)` in `section` of the stats line.
pub(crate) const fn line_with_rate(section: LineSection, label: &'static str) -> Option<LineItem> {
    Some(LineItem {
        section,
        label,
        rate: true,
    })
}

/// One field of a stats group ([`Stats`](crate::Stats),
/// [`BackplaneStats`](crate::BackplaneStats)) as the stats table declares it:
/// the one place its name, kind, unit, doc and surfaces are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatField {
    /// The field's name in Rust and Python.
    pub name: &'static str,
    /// Counter, gauge, state or other.
    pub kind: StatKind,
    /// What it counts.
    pub unit: StatUnit,
    /// Its documentation, the same on every surface (a surface may add a remark,
    /// e.g. on the unit it uses).
    pub doc: &'static str,
    /// Its Prometheus name without the `pierhead_` prefix and the `_total` suffix
    /// of counters (`None`: not exported).
    pub metric: Option<&'static str>,
    /// Its field in the C struct `pierhead_stats` (`None`: not there).
    pub c: Option<&'static str>,
    /// Where it appears in the stats line (`None`: not there).
    pub line: Option<LineItem>,
    /// Its label in the stop report (`None`: not there).
    pub stop: Option<&'static str>,
    /// The protocols it means something for (`None`: every protocol).
    pub protocols: Option<&'static [&'static str]>,
}

impl StatField {
    /// Whether the figure means something for a server speaking `protocol`
    /// (its name, as `Protocol::as_str` gives it).
    pub fn meaningful_for(&self, protocol: &str) -> bool {
        self.protocols.is_none_or(|p| p.contains(&protocol))
    }

    /// The full Prometheus name (`pierhead_..._total` for counters), if exported.
    pub fn metric_name(&self) -> Option<String> {
        let total = if self.kind == StatKind::Counter {
            "_total"
        } else {
            ""
        };
        self.metric.map(|m| format!("pierhead_{m}{total}"))
    }
}

/// The value of one field in a snapshot.
#[derive(Debug, Clone, Copy)]
pub enum StatValue<'a> {
    /// A count.
    Count(u64),
    /// A time.
    Time(Duration),
    /// A state (`now`) out of a fixed set (`all`).
    State {
        /// The state now.
        now: &'static str,
        /// Every state it can be in.
        all: &'static [&'static str],
    },
    /// A text, if there is one.
    Text(Option<&'a str>),
    /// A nested group of figures, if there is one.
    Group(Option<&'a dyn StatGroup>),
}

/// A group of figures declared by the stats table ([`Stats`](crate::Stats),
/// [`BackplaneStats`](crate::BackplaneStats)): its fields and their values.
pub trait StatGroup: std::fmt::Debug {
    /// The fields, in declaration order.
    fn fields(&self) -> &'static [StatField];

    /// The value of each field, in the order of [`fields`](StatGroup::fields).
    fn values(&self) -> Vec<StatValue<'_>>;

    /// Each field with its value.
    fn figures(&self) -> Vec<(&'static StatField, StatValue<'_>)> {
        self.fields().iter().zip(self.values()).collect()
    }
}

/// A type a stats field can have.
pub(crate) trait Figure: Sized {
    /// The value before anything was counted.
    const ZERO: Self;

    /// The value, as the surfaces read it.
    fn value(&self) -> StatValue<'_>;

    /// A value that differs for each `n`, for tests of the surfaces.
    fn example(n: u64) -> Self;
}

impl Figure for u64 {
    const ZERO: u64 = 0;

    fn value(&self) -> StatValue<'_> {
        StatValue::Count(*self)
    }

    fn example(n: u64) -> u64 {
        n
    }
}

impl Figure for Duration {
    const ZERO: Duration = Duration::ZERO;

    fn value(&self) -> StatValue<'_> {
        StatValue::Time(*self)
    }

    fn example(n: u64) -> Duration {
        Duration::from_millis(n * 1001)
    }
}

impl Figure for Option<String> {
    const ZERO: Option<String> = None;

    fn value(&self) -> StatValue<'_> {
        StatValue::Text(self.as_deref())
    }

    fn example(n: u64) -> Option<String> {
        Some(format!("error {n}"))
    }
}

/// Declares a group of stats figures once:
///
/// ```text
/// stats_table! {
///     /// Doc of the snapshot struct.
///     pub struct Group;
///     /// Doc of the counters block.
///     #[derive(Debug, Default)]
///     SOURCE counters in pub(crate) struct Block of Cell;
///     name: Type = {
///         kind: Counter, unit: Bytes, from: SOURCE, metric: Some("..."), c: Some("..."),
///         line: line(...), stop: Some("..."), protocols: ANY, doc: "...",
///     }
///     ...
/// }
/// ```
///
/// generates `pub struct Group` (a public field per entry, documented with its
/// `doc`), `Group::FIELDS` (a [`StatField`] per entry), `Group::ZERO`,
/// `Group::example_from`, [`StatGroup`] for `Group`, and `Block`: a field of type
/// `Cell` for each entry whose `from` is `SOURCE` (`worker`: a [`Counter`]
/// written by one thread; `link`: an `AtomicU64`), with `Block::add_to(&mut
/// Group)`. Entries from elsewhere (`given`) are set by the code that takes the
/// snapshot. The names it uses (`StatField`, `StatKind`, `StatUnit`, `StatGroup`,
/// `StatValue`, `Figure`) must be in scope where it is invoked.
///
/// [`Counter`]: super::counter::Counter
macro_rules! stats_table {
    // The counters block: the entries from `$from`, one at a time.
    (@block $from:ident [$($bmeta:tt)*] $Block:ident $Cell:ty [$($acc:tt)*]) => {
        $($bmeta)*
        pub(crate) struct $Block { $($acc)* }
    };
    (@block worker [$($bmeta:tt)*] $Block:ident $Cell:ty [$($acc:tt)*] worker $name:ident $($rest:tt)*) => {
        stats_table!(@block worker [$($bmeta)*] $Block $Cell [$($acc)* pub(crate) $name: $Cell,] $($rest)*);
    };
    (@block link [$($bmeta:tt)*] $Block:ident $Cell:ty [$($acc:tt)*] link $name:ident $($rest:tt)*) => {
        stats_table!(@block link [$($bmeta)*] $Block $Cell [$($acc)* pub(crate) $name: $Cell,] $($rest)*);
    };
    (@block $from:ident [$($bmeta:tt)*] $Block:ident $Cell:ty [$($acc:tt)*] $other:ident $name:ident $($rest:tt)*) => {
        stats_table!(@block $from [$($bmeta)*] $Block $Cell [$($acc)*] $($rest)*);
    };
    // Adding a block's counter to a snapshot.
    (@add worker worker $into:ident $block:ident $name:ident) => {
        $into.$name += $block.$name.get();
    };
    (@add link link $into:ident $block:ident $name:ident) => {
        $into.$name += $block.$name.load(::std::sync::atomic::Ordering::Relaxed);
    };
    (@add $from:ident $other:ident $into:ident $block:ident $name:ident) => {};
    (
        $(#[$meta:meta])*
        pub struct $Group:ident;
        $(#[$bmeta:meta])*
        $from:ident counters in pub(crate) struct $Block:ident of $Cell:ty;
        $(
            $name:ident: $ty:ty = {
                kind: $kind:ident,
                unit: $unit:ident,
                from: $source:ident,
                metric: $metric:expr,
                c: $c:expr,
                line: $line:expr,
                stop: $stop:expr,
                protocols: $protocols:expr,
                doc: $doc:literal $(,)?
            }
        )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $Group {
            $(
                #[doc = $doc]
                pub $name: $ty,
            )*
        }

        impl $Group {
            /// Every field as the stats table declares it, in declaration order:
            /// name, kind, unit, doc, and where it appears.
            pub const FIELDS: &'static [StatField] = &[$(
                StatField {
                    name: stringify!($name),
                    kind: StatKind::$kind,
                    unit: StatUnit::$unit,
                    doc: $doc,
                    metric: $metric,
                    c: $c,
                    line: $line,
                    stop: $stop,
                    protocols: $protocols,
                },
            )*];

            /// Nothing counted yet.
            pub(crate) const ZERO: $Group = $Group {
                $($name: <$ty as Figure>::ZERO,)*
            };

            /// A snapshot in which every figure differs (numbered from `first`
            /// on), for tests of the surfaces that copy it (C, Python).
            #[doc(hidden)]
            pub fn example_from(first: u64) -> $Group {
                let mut n = first;
                $(
                    n += 1;
                    let $name = <$ty as Figure>::example(n);
                )*
                $Group { $($name,)* }
            }
        }

        impl StatGroup for $Group {
            fn fields(&self) -> &'static [StatField] {
                Self::FIELDS
            }

            fn values(&self) -> Vec<StatValue<'_>> {
                vec![$(Figure::value(&self.$name),)*]
            }
        }

        stats_table!(@block $from [$(#[$bmeta])*] $Block $Cell [] $($source $name)*);

        impl $Block {
            /// Adds this block's counters to `into`.
            pub(crate) fn add_to(&self, into: &mut $Group) {
                $(stats_table!(@add $from $source into self $name);)*
            }
        }
    };
}

pub(crate) use stats_table;
