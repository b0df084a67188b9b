//! The one clock every service reads.
//!
//! Either wall-clock time shifted by an offset, or a frozen instant (for reproducible runs).
//! Both can be advanced through the admin API, which is how tests drive expiry (presigned URLs,
//! key deletion windows, later TTL and token expiry) without sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug)]
pub struct Clock {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Wall { offset: Duration },
    Frozen { now: DateTime<Utc> },
}

impl Clock {
    pub fn wall() -> Self {
        Self { state: Mutex::new(State::Wall { offset: Duration::zero() }) }
    }

    pub fn frozen(at: DateTime<Utc>) -> Self {
        Self { state: Mutex::new(State::Frozen { now: at }) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self.state.lock().expect("clock lock") {
            State::Wall { offset } => Utc::now() + offset,
            State::Frozen { now } => now,
        }
    }

    pub fn is_frozen(&self) -> bool {
        matches!(*self.state.lock().expect("clock lock"), State::Frozen { .. })
    }

    /// The offset of a wall clock; `None` when frozen.
    pub fn offset(&self) -> Option<Duration> {
        match *self.state.lock().expect("clock lock") {
            State::Wall { offset } => Some(offset),
            State::Frozen { .. } => None,
        }
    }

    /// Freezes the clock at `at` (which may be earlier than now: loading a fixture sets time).
    pub fn freeze_at(&self, at: DateTime<Utc>) {
        *self.state.lock().expect("clock lock") = State::Frozen { now: at };
    }

    /// Runs the clock as wall time shifted by `offset`.
    pub fn run_with_offset(&self, offset: Duration) {
        *self.state.lock().expect("clock lock") = State::Wall { offset };
    }

    /// Moves time forward (never backward: a negative duration is ignored).
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let by = by.max(Duration::zero());
        let mut state = self.state.lock().expect("clock lock");
        match &mut *state {
            State::Wall { offset } => *offset += by,
            State::Frozen { now } => *now += by,
        }
        drop(state);
        self.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = Clock::frozen(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), t0 + Duration::seconds(90));
        clock.advance(Duration::seconds(-30));
        assert_eq!(clock.now(), t0 + Duration::seconds(90));
    }

    #[test]
    fn wall_clock_advance_shifts_now() {
        let clock = Clock::wall();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        assert!(clock.now() - before >= Duration::hours(2));
    }
}
