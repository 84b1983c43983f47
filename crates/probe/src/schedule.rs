//! The round scheduler and the global rate limit, both sans-IO: they are given
//! the time (microseconds on any monotonic scale) and a random number, and say
//! what is due and how long to wait. The engine owns the clock and the sockets.

/// When each target is next due.
#[derive(Clone, Debug)]
pub struct Schedule {
    due: Vec<i64>,
    interval_us: i64,
    jitter: f64,
}

impl Schedule {
    /// `count` targets, each probed every `interval_us` give or take `jitter` (a
    /// share of the interval). The first round is spread evenly over one interval
    /// from `start`, so the targets do not all fire at once.
    pub fn new(count: usize, start: i64, interval_us: i64, jitter: f64) -> Schedule {
        let interval_us = interval_us.max(1);
        let due = (0..count)
            .map(|i| start + (interval_us as i128 * i as i128 / count.max(1) as i128) as i64)
            .collect();
        Schedule {
            due,
            interval_us,
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    /// The target due first, and when.
    pub fn next_due(&self) -> Option<(usize, i64)> {
        self.due
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|(_, due)| *due)
    }

    /// The targets due at `now`.
    pub fn due_at(&self, now: i64) -> Vec<usize> {
        self.due
            .iter()
            .enumerate()
            .filter(|(_, due)| **due <= now)
            .map(|(i, _)| i)
            .collect()
    }

    /// Target `index` was started at `now`: it is next due one interval later,
    /// moved by `random` (in -1..=1) times the jitter.
    pub fn started(&mut self, index: usize, now: i64, random: f64) {
        let spread = self.interval_us as f64 * self.jitter * random.clamp(-1.0, 1.0);
        if let Some(due) = self.due.get_mut(index) {
            *due = now + (self.interval_us as f64 + spread).max(1.0) as i64;
        }
    }
}

impl Schedule {
    /// Target `index` is to be probed again by `at` (its result changed: a second
    /// look tells a lost packet from an outage, or a blip from a return).
    pub fn recheck(&mut self, index: usize, at: i64) {
        if let Some(due) = self.due.get_mut(index) {
            *due = (*due).min(at);
        }
    }
}

/// Which targets' results changed: the first failure after a pass, the first
/// pass after a failure. Only a change asks for a recheck, so a target that
/// stays dark is probed at its own interval, not faster.
#[derive(Clone, Debug)]
pub struct Changes {
    last_ok: Vec<Option<bool>>,
}

impl Changes {
    /// `count` targets, none with a result yet.
    pub fn new(count: usize) -> Changes {
        Changes {
            last_ok: vec![None; count],
        }
    }

    /// Target `index` gave a result; is it a change from the one before?
    pub fn changed(&mut self, index: usize, ok: bool) -> bool {
        let Some(last) = self.last_ok.get_mut(index) else {
            return false;
        };
        last.replace(ok).is_some_and(|before| before != ok)
    }
}

/// When the witnesses of a failure (a vantage point's controls) are asked
/// again: at once for a failure, then no sooner than a gap after the last
/// asking, however many failures come in between; failures while an asking is
/// due join it.
#[derive(Clone, Debug)]
pub struct Witnesses {
    gap: i64,
    last: Option<i64>,
}

impl Witnesses {
    /// Askings at least `gap` apart.
    pub fn new(gap: i64) -> Witnesses {
        Witnesses {
            gap: gap.max(0),
            last: None,
        }
    }

    /// A failure came in at `now`: when the witnesses are to be asked.
    pub fn ask(&mut self, now: i64) -> i64 {
        let at = match self.last {
            Some(due) if due >= now => due,
            Some(last) => now.max(last + self.gap),
            None => now,
        };
        self.last = Some(at);
        at
    }
}

/// A token bucket: at most `rate` probes a second, in bursts of at most `burst`.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: i64,
}

impl RateLimiter {
    /// A full bucket at `now`. A rate of 0 means no limit.
    pub fn new(rate: u32, burst: u32, now: i64) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
        }
    }

    /// Takes a token at `now`: returns 0 if one was there, or how many
    /// microseconds to wait before asking again.
    pub fn take(&mut self, now: i64) -> i64 {
        if self.rate <= 0.0 {
            return 0;
        }
        let elapsed = (now - self.last).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now.max(self.last);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            0
        } else {
            (((1.0 - self.tokens) / self.rate) * 1e6).ceil() as i64
        }
    }
}

/// A small, fast, seedable random source for jitter (not for anything secret).
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded; a zero seed is replaced.
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed.max(1))
    }

    /// A number in -1..=1 (xorshift64*).
    pub fn sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let value = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (value as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_round_is_spread_and_then_periodic() {
        let mut schedule = Schedule::new(4, 1000, 60_000_000, 0.1);
        assert_eq!(schedule.next_due(), Some((0, 1000)));
        assert_eq!(schedule.due_at(1000), vec![0]);
        assert_eq!(schedule.due_at(1000 + 30_000_000), vec![0, 1, 2]);
        schedule.started(0, 1000, 0.0);
        assert_eq!(schedule.next_due(), Some((1, 15_001_000)));
        schedule.started(1, 15_001_000, 1.0);
        schedule.started(2, 30_001_000, -1.0);
        schedule.started(3, 45_001_000, 0.5);
        let mut due: Vec<i64> = (0..4).map(|_| 0).collect();
        for (i, slot) in due.iter_mut().enumerate() {
            *slot = schedule.due[i];
        }
        assert_eq!(due, vec![60_001_000, 81_001_000, 84_001_000, 108_001_000]);
    }

    #[test]
    fn witnesses_are_asked_at_once_then_no_more_than_once_a_gap() {
        let mut witnesses = Witnesses::new(500);
        assert_eq!(witnesses.ask(1_000), 1_000, "the first failure: at once");
        assert_eq!(witnesses.ask(1_010), 1_500, "a burst waits for the gap");
        assert_eq!(witnesses.ask(1_200), 1_500, "and joins the asking due");
        assert_eq!(witnesses.ask(1_600), 2_000);
        assert_eq!(witnesses.ask(9_000), 9_000, "a quiet gap later: at once");
    }

    #[test]
    fn a_change_is_rechecked_sooner_and_only_a_change() {
        // Target 0 due at 0 s, target 1 at 5 s; target 0 starts, next due at 10 s.
        let mut schedule = Schedule::new(2, 0, 10_000_000, 0.0);
        schedule.started(0, 0, 0.0);
        assert_eq!(schedule.next_due(), Some((1, 5_000_000)));
        let mut changes = Changes::new(2);
        assert!(!changes.changed(0, true), "the first result is no change");
        assert!(changes.changed(0, false), "a pass, then a failure");
        assert!(!changes.changed(0, false), "still failing");
        assert!(changes.changed(0, true), "back");
        assert!(!changes.changed(1, false), "another target's first result");
        schedule.recheck(0, 2_500_000);
        assert_eq!(schedule.next_due(), Some((0, 2_500_000)));
        assert_eq!(schedule.due_at(2_500_000), vec![0]);
        // A recheck never puts a probe off.
        schedule.recheck(1, 99_000_000);
        assert_eq!(schedule.due_at(5_000_000), vec![0, 1]);
    }

    #[test]
    fn rate_limit() {
        let mut limiter = RateLimiter::new(10, 2, 0);
        assert_eq!(limiter.take(0), 0);
        assert_eq!(limiter.take(0), 0);
        assert_eq!(limiter.take(0), 100_000);
        assert_eq!(limiter.take(100_000), 0);
        assert!(limiter.take(100_000) > 0);
        let mut unlimited = RateLimiter::new(0, 1, 0);
        assert!((0..1000).all(|_| unlimited.take(0) == 0));
    }

    #[test]
    fn jitter_in_range() {
        let mut jitter = Jitter::new(42);
        let samples: Vec<f64> = (0..10_000).map(|_| jitter.sample()).collect();
        assert!(samples.iter().all(|x| (-1.0..=1.0).contains(x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
