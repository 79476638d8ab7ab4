//! One answer's schedule: the faults of a route ([`Fault`]) and a streamed body
//! ([`Step`]s) as one timeline of beats (the head, body pieces, waits, and how it
//! ends) that every service renders its own way: HTTP/1 writes the head and the
//! pieces (as chunks when streamed); HTTP/2 would send HEADERS and DATA frames,
//! WebSocket messages, a proxy bytes.

use std::time::Duration;

use bytes::Bytes;

use super::fault::Fault;
use super::steps::{Step, Steps};

/// One beat of an answer's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Beat {
    /// The head (for HTTP: the status line and headers).
    Head,
    /// Body bytes.
    Piece(Bytes),
    /// Nothing until this long has passed.
    Wait(Duration),
    /// The body is complete.
    End,
    /// The connection closes here, before the body is complete.
    Cut,
    /// The connection is reset (RST) here.
    Reset,
    /// Nothing more, ever: the client, a timeout or a stop ends it.
    Hang,
}

/// What is played.
#[derive(Debug, Clone)]
enum Plan {
    /// After a delay (if any), the head and the whole body (if any) at once.
    Whole {
        delay: Option<Duration>,
        body: Option<Bytes>,
    },
    /// The head, then the body `bytes` at a time, `interval` before each piece.
    Drip {
        body: Bytes,
        bytes: usize,
        interval: Duration,
    },
    /// The head (announcing the body), then a cut.
    CutAfterHead,
    Reset,
    Hang,
    /// After a delay (if any), the head, then the steps of a streamed body.
    Stream {
        delay: Option<Duration>,
        steps: Steps,
    },
}

/// Plays an answer's schedule, beat by beat ([`Player::next`]).
#[derive(Debug, Clone)]
pub(crate) struct Player {
    plan: Plan,
    /// Beats played so far.
    at: usize,
    /// Body bytes sent so far (a drip).
    sent: usize,
}

impl Player {
    /// The schedule of an answer with `fault` (none: as it is), whose body is
    /// `body` (`None`: no body is sent, as for HEAD) or the streamed `steps`.
    pub(crate) fn new(fault: Option<Fault>, body: Option<&Bytes>, steps: Option<&Steps>) -> Player {
        let plan = match (fault, steps) {
            (Some(Fault::Reset), _) => Plan::Reset,
            (Some(Fault::NoResponse), _) => Plan::Hang,
            (Some(Fault::CloseAfterHeaders), _) => Plan::CutAfterHead,
            (Some(Fault::Delay(d)), Some(steps)) => Plan::Stream {
                delay: Some(d),
                steps: steps.clone(),
            },
            // A streamed body has its own timeline: a drip does not apply.
            (None | Some(Fault::Drip { .. }), Some(steps)) => Plan::Stream {
                delay: None,
                steps: steps.clone(),
            },
            (Some(Fault::Delay(d)), None) => Plan::Whole {
                delay: Some(d),
                body: body.cloned(),
            },
            (Some(Fault::Drip { bytes, interval }), None) => match body {
                Some(b) if !b.is_empty() => Plan::Drip {
                    body: b.clone(),
                    bytes: bytes.max(1),
                    interval,
                },
                _ => Plan::Whole {
                    delay: None,
                    body: body.cloned(),
                },
            },
            (None, None) => Plan::Whole {
                delay: None,
                body: body.cloned(),
            },
        };
        Player {
            plan,
            at: 0,
            sent: 0,
        }
    }

    /// Whether the body goes out in pieces of a stream (HTTP/1.1 then frames it
    /// in chunks) rather than as one known length.
    pub(crate) fn streamed(&self) -> bool {
        matches!(self.plan, Plan::Stream { .. })
    }

    /// The next beat. After `End`, `Cut`, `Reset` or `Hang` the schedule is over
    /// (and keeps answering `End`).
    pub(crate) fn next(&mut self) -> Beat {
        let at = self.at;
        self.at += 1;
        match &self.plan {
            Plan::Reset if at == 0 => Beat::Reset,
            Plan::Hang if at == 0 => Beat::Hang,
            Plan::CutAfterHead => match at {
                0 => Beat::Head,
                1 => Beat::Cut,
                _ => Beat::End,
            },
            Plan::Whole { delay, body } => {
                let at = if delay.is_none() { at + 1 } else { at };
                match (at, delay, body) {
                    (0, Some(d), _) => Beat::Wait(*d),
                    (1, _, _) => Beat::Head,
                    (2, _, Some(b)) if !b.is_empty() => Beat::Piece(b.clone()),
                    _ => Beat::End,
                }
            }
            Plan::Drip {
                body,
                bytes,
                interval,
            } => {
                if at == 0 {
                    return Beat::Head;
                }
                if self.sent >= body.len() {
                    return Beat::End;
                }
                // Odd beats wait, even ones send the next piece.
                if at % 2 == 1 {
                    return Beat::Wait(*interval);
                }
                let end = (self.sent + bytes).min(body.len());
                let piece = body.slice(self.sent..end);
                self.sent = end;
                Beat::Piece(piece)
            }
            Plan::Stream { delay, steps } => {
                let at = if delay.is_none() { at + 1 } else { at };
                match (at, delay) {
                    (0, Some(d)) => return Beat::Wait(*d),
                    (1, _) => return Beat::Head,
                    _ => {}
                }
                // Steps from `self.sent` on (an empty piece is skipped: an empty
                // chunk would end the body).
                while let Some(step) = steps.get(self.sent) {
                    self.sent += 1;
                    return match step {
                        Step::Send(data) if data.is_empty() => continue,
                        Step::Send(data) => Beat::Piece(data.clone()),
                        Step::Pause(d) => Beat::Wait(*d),
                        Step::Cut => Beat::Cut,
                        Step::Reset => Beat::Reset,
                    };
                }
                Beat::End
            }
            Plan::Reset | Plan::Hang => Beat::End,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn play(mut p: Player) -> Vec<Beat> {
        let mut beats = Vec::new();
        loop {
            let b = p.next();
            let over = matches!(b, Beat::End | Beat::Cut | Beat::Reset | Beat::Hang);
            beats.push(b);
            if over {
                return beats;
            }
        }
    }

    fn piece(s: &'static str) -> Beat {
        Beat::Piece(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn every_fault_is_a_timeline_of_beats() {
        let body = Bytes::from_static(b"abcdefg");
        let ms = Duration::from_millis;
        use Beat::*;
        assert_eq!(
            play(Player::new(None, Some(&body), None)),
            [Head, piece("abcdefg"), End]
        );
        assert_eq!(play(Player::new(None, None, None)), [Head, End]);
        assert_eq!(
            play(Player::new(Some(Fault::Delay(ms(5))), Some(&body), None)),
            [Wait(ms(5)), Head, piece("abcdefg"), End]
        );
        let drip = Fault::Drip {
            bytes: 3,
            interval: ms(10),
        };
        assert_eq!(
            play(Player::new(Some(drip), Some(&body), None)),
            [
                Head,
                Wait(ms(10)),
                piece("abc"),
                Wait(ms(10)),
                piece("def"),
                Wait(ms(10)),
                piece("g"),
                End
            ]
        );
        // A drip of nothing (HEAD, or an empty body) is the answer as it is.
        assert_eq!(play(Player::new(Some(drip), None, None)), [Head, End]);
        assert_eq!(
            play(Player::new(
                Some(Fault::CloseAfterHeaders),
                Some(&body),
                None
            )),
            [Head, Cut]
        );
        assert_eq!(
            play(Player::new(Some(Fault::Reset), Some(&body), None)),
            [Reset]
        );
        assert_eq!(
            play(Player::new(Some(Fault::NoResponse), None, None)),
            [Hang]
        );
    }

    #[test]
    fn a_streamed_body_plays_its_steps() {
        use Beat::*;
        let ms = Duration::from_millis;
        let steps: Steps = Arc::from(vec![
            Step::send("a"),
            Step::send(""),
            Step::pause(ms(7)),
            Step::send("b"),
            Step::Cut,
            Step::send("never"),
        ]);
        let p = Player::new(None, None, Some(&steps));
        assert!(p.streamed());
        assert_eq!(play(p), [Head, piece("a"), Wait(ms(7)), piece("b"), Cut]);
        // A delay comes first; a drip does not apply to a stream.
        let p = Player::new(Some(Fault::Delay(ms(3))), None, Some(&steps));
        assert_eq!(play(p)[..2], [Wait(ms(3)), Head]);
        let drip = Fault::Drip {
            bytes: 1,
            interval: ms(1),
        };
        assert_eq!(
            play(Player::new(Some(drip), None, Some(&steps)))[..2],
            [Head, piece("a")]
        );
        let done: Steps = Arc::from(vec![Step::send("x")]);
        assert_eq!(
            play(Player::new(None, None, Some(&done))),
            [Head, piece("x"), End]
        );
    }
}
