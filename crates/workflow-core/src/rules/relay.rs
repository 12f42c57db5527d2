//! The relay's decisions (DISP-4, DISP-5): what a failed delivery attempt becomes (a retry after
//! a backoff with jitter, or a dead letter), and the transition that fails an attempt whose
//! dispatch was dead-lettered.

use super::*;
use crate::store::Delivery;

/// The error text prefix of an attempt failed by a dead-lettered dispatch (DISP-5).
pub const DISPATCH_FAILED: &str = "Dispatch failed";

/// How the relay retries (DISP-4) and when it gives up (DISP-5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayPolicy {
    /// The first retry waits about this long (half to all of it: jitter).
    pub backoff_base: chrono::Duration,
    /// No wait is longer than this.
    pub backoff_cap: chrono::Duration,
    /// A message that failed this many times...
    pub max_tries: u32,
    /// ...and has been failing for at least this long is dead-lettered.
    pub dead_after: chrono::Duration,
}

impl Default for RelayPolicy {
    /// 1 s doubling up to 5 min; dead after 12 tries and 30 min of failures.
    fn default() -> Self {
        RelayPolicy {
            backoff_base: chrono::Duration::seconds(1),
            backoff_cap: chrono::Duration::minutes(5),
            max_tries: 12,
            dead_after: chrono::Duration::minutes(30),
        }
    }
}

impl RelayPolicy {
    /// The wait after the `tries`-th failed attempt (1-based): `base · 2^(tries-1)`, capped,
    /// scaled by `jitter` ∈ [0, 1) into its upper half ("equal jitter"), so retries of messages
    /// that failed together spread out but none comes back sooner than half the backoff.
    pub fn backoff(&self, tries: u32, jitter: f64) -> chrono::Duration {
        let shift = tries.saturating_sub(1).min(30);
        let full = self
            .backoff_base
            .checked_mul(1 << shift)
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap);
        let ms = full.num_milliseconds().max(0) as f64;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        chrono::Duration::milliseconds((ms / 2.0 + ms / 2.0 * jitter) as i64)
    }

    /// What a failed attempt at `now` makes of `entry`: dead at once on a permanent refusal, or
    /// once it has failed `max_tries` times over at least `dead_after`; else a retry after the
    /// backoff, or after the runner's `Retry-After` if that is longer (HOOK-1). A `Retry-After`
    /// counts only up to `backoff_cap`, so a runner cannot park a message for longer than the
    /// relay itself ever would.
    pub fn after_failure(
        &self,
        entry: &OutboxEntry,
        error: &crate::DispatchError,
        now: Timestamp,
        jitter: f64,
    ) -> Delivery {
        let tries = entry.attempts + 1;
        let failing_since = entry.first_failed_at.unwrap_or(now);
        if !error.retryable {
            return Delivery::Dead {
                error: format!("permanent: {}", error.message),
            };
        }
        if tries >= self.max_tries && now - failing_since >= self.dead_after {
            return Delivery::Dead {
                error: format!("gave up after {tries} tries: {}", error.message),
            };
        }
        // Past chrono's range is past the cap too.
        let asked = error.retry_after.map_or(chrono::Duration::zero(), |d| {
            chrono::Duration::from_std(d)
                .unwrap_or(self.backoff_cap)
                .min(self.backoff_cap)
        });
        Delivery::Retry {
            error: error.message.clone(),
            next_try_at: now + self.backoff(tries, jitter).max(asked),
        }
    }
}

/// DISP-5: the dispatch of attempt `attempt` was dead-lettered with `error`: if the run is still
/// IN_PROGRESS at that attempt it fails now ("Dispatch failed: <error>", an ordinary transition
/// whose history actor the engine records as the system), so no run waits for a runner that
/// never got it. Anything else (already terminal, a later attempt) is left alone. The answer
/// says whether this call failed the run.
pub fn decide_dispatch_failed(
    now: Timestamp,
    run: &Run,
    attempt: u32,
    error: &str,
) -> Result<Decision<bool>> {
    if run.execution_state != ExecutionState::InProgress || run.attempt != attempt {
        return Ok(Decision::unchanged(false));
    }
    let text = format!("{DISPATCH_FAILED}: {error}");
    let next = fail(run, now, FailureKind::DispatchFailed, &text);
    let mut t = write(next, Event::Failed);
    t.reason = Some(text);
    Ok(Decision::write(t, true))
}
