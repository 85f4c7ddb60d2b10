//! When to try again, and when to stop.

use clef_core::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles with each further one.
    pub base_ms: Millis,
    /// No single wait is longer than this.
    pub max_delay_ms: Millis,
    /// A message still failing this long after it was written is given up on.
    pub max_age_ms: Millis,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base_ms: 30_000, max_delay_ms: 30 * 60_000, max_age_ms: 24 * 3_600_000 }
    }
}

impl RetryPolicy {
    /// The time of the next attempt after `failures` failed ones, or `None` when the
    /// message has run out of time. `jitter` in [0, 1) spreads retries of many messages:
    /// the wait is drawn from [delay / 2, delay).
    pub fn next_attempt(
        &self,
        failures: u32,
        created_at: Millis,
        now: Millis,
        jitter: f64,
    ) -> Option<Millis> {
        let exp = failures.saturating_sub(1).min(30);
        let delay = self.base_ms.saturating_mul(1 << exp).min(self.max_delay_ms).max(1);
        let wait = delay / 2 + ((delay / 2) as f64 * jitter.clamp(0.0, 1.0)) as Millis;
        self.within_age(now.saturating_add(wait), created_at)
    }

    /// The time of the next attempt when the receiver asked us to wait `wait` (capped at the
    /// longest delay), or `None` when the message runs out of time first.
    pub fn after(&self, wait: std::time::Duration, created_at: Millis, now: Millis) -> Option<Millis> {
        let wait = Millis::try_from(wait.as_millis()).unwrap_or(Millis::MAX).min(self.max_delay_ms).max(1);
        self.within_age(now.saturating_add(wait), created_at)
    }

    fn within_age(&self, at: Millis, created_at: Millis) -> Option<Millis> {
        (at <= created_at.saturating_add(self.max_age_ms)).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicy = RetryPolicy { base_ms: 1000, max_delay_ms: 8000, max_age_ms: 60_000 };

    #[test]
    fn delays_double_within_the_cap_and_carry_jitter() {
        let waits: Vec<Millis> = (1..=6).map(|f| P.next_attempt(f, 0, 0, 0.0).unwrap_or(-1)).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(P.next_attempt(1, 0, 0, 0.999), Some(999));
    }

    #[test]
    fn gives_up_once_the_window_closes() {
        assert!(P.next_attempt(3, 0, 50_000, 0.0).is_some());
        assert_eq!(P.next_attempt(3, 0, 59_000, 0.0), None);
        assert_eq!(P.next_attempt(u32::MAX, 0, 0, 1.0), Some(8000));
    }
}
