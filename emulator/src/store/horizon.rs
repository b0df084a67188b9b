//! What a sweeper knows without asking the database: the emulator-clock time before which it
//! has nothing to do.
//!
//! Some services clean up on the emulator clock before every request, so that moving the clock
//! takes effect at once: DynamoDB deletes expired items and trims stream records, KMS deletes
//! keys whose deletion date has passed. Asking whether anything is due costs a query on every
//! request; a [`Horizon`] answers instead until its time comes. Every write that can make
//! something due sooner lowers it ([`Horizon::lower`]); a time worked out while such a write
//! happened is not kept; a reset or restore of the state (a new [`Store::generation`]) makes it
//! unknown.
//!
//! [`Store::generation`]: super::Store::generation

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Horizon(std::sync::Mutex<State>);

#[derive(Debug, Default)]
struct State {
    /// Nothing is due before this (epoch seconds); `None` when unknown.
    until: Option<f64>,
    /// The store generation `until` was learnt in.
    generation: u64,
    /// Changes that may have made something due sooner, counted.
    changes: u64,
}

impl Horizon {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("horizon lock")
    }

    /// `Ok` when nothing is known to be due at `now`; else the change count to pass to
    /// [`Horizon::learn`] once the database has been asked.
    pub fn check(&self, now: f64, generation: u64) -> Result<(), u64> {
        let s = self.state();
        match s.until {
            Some(until) if s.generation == generation && now < until => Ok(()),
            _ => Err(s.changes),
        }
    }

    /// Keeps `until` (`f64::INFINITY`: nothing will come due), unless something changed since
    /// the count `seen` was taken.
    pub fn learn(&self, until: f64, generation: u64, seen: u64) {
        let mut s = self.state();
        if s.changes == seen {
            (s.until, s.generation) = (Some(until), generation);
        }
    }

    /// Something may be due from `at` on.
    pub fn lower(&self, at: f64) {
        let mut s = self.state();
        s.changes += 1;
        if s.until.is_some_and(|until| at < until) {
            s.until = Some(at);
        }
    }

    /// Nothing is known any more.
    pub fn forget(&self) {
        let mut s = self.state();
        s.changes += 1;
        s.until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::Horizon;

    #[test]
    fn it_holds_until_its_time_and_only_in_its_generation() {
        let h = Horizon::default();
        let seen = h.check(100.0, 0).expect_err("unknown at first");
        h.learn(500.0, 0, seen);
        assert!(h.check(499.0, 0).is_ok());
        assert!(h.check(500.0, 0).is_err(), "due at the time itself");
        assert!(h.check(100.0, 1).is_err(), "a reset or restore makes it unknown");
    }

    #[test]
    fn writes_lower_it_and_a_time_learnt_across_a_write_is_dropped() {
        let h = Horizon::default();
        let seen = h.check(100.0, 0).unwrap_err();
        h.learn(500.0, 0, seen);
        h.lower(200.0);
        assert!(h.check(199.0, 0).is_ok() && h.check(200.0, 0).is_err());
        h.lower(300.0);
        assert!(h.check(250.0, 0).is_err(), "a later time never raises it");

        // A sweep asks the database, a write lands meanwhile, then the sweep reports.
        let seen = h.check(250.0, 0).unwrap_err();
        h.lower(260.0);
        h.learn(1_000.0, 0, seen);
        assert!(h.check(250.0, 0).is_err(), "what the sweep saw may miss that write");

        h.learn(1_000.0, 0, h.check(250.0, 0).unwrap_err());
        assert!(h.check(250.0, 0).is_ok());
        h.forget();
        assert!(h.check(250.0, 0).is_err());
    }
}
