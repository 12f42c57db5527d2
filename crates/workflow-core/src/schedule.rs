//! Occurrences of a definition's [`Schedule`] (SCHED-2), pure: no clock, no I/O.
//!
//! Occurrence 0 is `start_at` itself. Occurrence `k ≥ 1` falls on the `k`-th local date after
//! `start_at`'s local date (every day, every 7 days, or every month on `start_at`'s day of
//! month, clamped to the month's last day in shorter months: the 31st fires on 30 April and on
//! 28 or 29 February), at `start_at`'s local wall time in the schedule's IANA zone, resolved
//! with the zone database of `chrono-tz`:
//!
//! * a wall time that exists once is that instant;
//! * a wall time a DST overlap repeats fires once, at the earlier instant;
//! * a wall time a DST gap skips fires at the first instant after the gap (the transition
//!   instant: 01:30 on the day London springs forward fires at 02:00 BST = 01:00 UTC).
//!
//! Occurrences are strictly increasing and never precede `start_at`.

use crate::model::{Schedule, ScheduleCadence, Timestamp};
use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Days in `month` of `year`.
fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    u32::try_from((next - first).num_days()).ok()
}

/// A schedule resolved once: its zone and `start_at`'s local wall clock.
struct Resolved {
    tz: Tz,
    start_at: Timestamp,
    start_local: NaiveDateTime,
    cadence: ScheduleCadence,
}

impl Resolved {
    fn new(schedule: &Schedule) -> Option<Self> {
        let tz: Tz = schedule.timezone.parse().ok()?;
        Some(Self {
            tz,
            start_at: schedule.start_at,
            start_local: schedule.start_at.with_timezone(&tz).naive_local(),
            cadence: schedule.cadence,
        })
    }

    /// The local date of occurrence `k`.
    fn date(&self, k: u64) -> Option<NaiveDate> {
        let d0 = self.start_local.date();
        match self.cadence {
            ScheduleCadence::Daily => d0.checked_add_signed(Duration::try_days(k as i64)?),
            ScheduleCadence::Weekly => {
                d0.checked_add_signed(Duration::try_days(i64::try_from(k).ok()?.checked_mul(7)?)?)
            }
            ScheduleCadence::Monthly => {
                let months = i64::from(d0.year()) * 12 + i64::from(d0.month0());
                let m = months.checked_add(i64::try_from(k).ok()?)?;
                let year = i32::try_from(m.div_euclid(12)).ok()?;
                let month = u32::try_from(m.rem_euclid(12)).ok()? + 1;
                let day = d0.day().min(days_in_month(year, month)?);
                NaiveDate::from_ymd_opt(year, month, day)
            }
        }
    }

    /// Occurrence `k` as an instant.
    fn occurrence(&self, k: u64) -> Option<Timestamp> {
        if k == 0 {
            return Some(self.start_at);
        }
        let local = self.date(k)?.and_time(self.start_local.time());
        resolve_local(&self.tz, local)
    }

    /// An index at or below the first occurrence after `after`'s local date minus a period.
    fn estimate(&self, after: Timestamp) -> u64 {
        let d0 = self.start_local.date();
        let d = after.with_timezone(&self.tz).date_naive();
        let est = match self.cadence {
            ScheduleCadence::Daily => (d - d0).num_days(),
            ScheduleCadence::Weekly => (d - d0).num_days() / 7,
            ScheduleCadence::Monthly => {
                (i64::from(d.year()) - i64::from(d0.year())) * 12 + i64::from(d.month0())
                    - i64::from(d0.month0())
            }
        };
        u64::try_from(est.saturating_sub(2)).unwrap_or(0)
    }

    /// The index of the first occurrence strictly after `after`.
    fn first_index_after(&self, after: Timestamp) -> Option<u64> {
        if after < self.start_at {
            return Some(0);
        }
        let mut k = self.estimate(after);
        // Step back while the estimate already lies after `after` (it never should by more
        // than a step; this keeps the answer exact whatever the estimate).
        while k > 0 && self.occurrence(k)? > after {
            k -= 1;
        }
        loop {
            if self.occurrence(k)? > after {
                return Some(k);
            }
            k += 1;
        }
    }
}

/// Resolve a local wall time in `tz` by the SCHED-2 rules: the earlier instant of an overlap,
/// the first instant after a gap.
pub fn resolve_local(tz: &Tz, local: NaiveDateTime) -> Option<Timestamp> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant whose local wall time in `tz` lies after `local`, a wall time in a gap:
/// the instant the clocks jumped. Found by bisection over instants with the zone's own offsets
/// (no offset is assumed): local time is increasing across a gap, and no zone has an overlap
/// within a day of a gap.
fn gap_end(tz: &Tz, local: NaiveDateTime) -> Option<Timestamp> {
    let at = |s: i64| Utc.timestamp_opt(s, 0).single();
    let local_at = |s: i64| at(s).map(|t| t.with_timezone(tz).naive_local());
    let guess = local.and_utc().timestamp();
    let (mut lo, mut hi) = (guess.checked_sub(27 * 3600)?, guess.checked_add(27 * 3600)?);
    if local_at(lo)? > local || local_at(hi)? <= local {
        return None;
    }
    // Invariant: local_at(lo) <= local < local_at(hi); transitions fall on whole seconds.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid)? > local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    at(hi)
}

/// The first occurrence of `schedule` strictly after `after` (never before `start_at`), or
/// `None` when the zone is unknown or the date is out of range (SCHED-2).
pub fn next_occurrence(schedule: &Schedule, after: Timestamp) -> Option<Timestamp> {
    let r = Resolved::new(schedule)?;
    let k = r.first_index_after(after)?;
    r.occurrence(k)
}

/// The latest occurrence of `schedule` at or before `now`: the one a scheduler that has been
/// down fires (SCHED-4). `None` before `start_at`.
pub fn latest_occurrence_at_or_before(schedule: &Schedule, now: Timestamp) -> Option<Timestamp> {
    let r = Resolved::new(schedule)?;
    let k = r.first_index_after(now)?;
    r.occurrence(k.checked_sub(1)?)
}

/// The occurrences of `schedule` in `(after, until]`, at most `limit` of them, in order: used
/// to count the occurrences a catch-up skips (SCHED-4).
pub fn occurrences_between(
    schedule: &Schedule,
    after: Timestamp,
    until: Timestamp,
    limit: usize,
) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let Some(r) = Resolved::new(schedule) else {
        return out;
    };
    let Some(mut k) = r.first_index_after(after) else {
        return out;
    };
    while out.len() < limit {
        match r.occurrence(k) {
            Some(t) if t <= until => out.push(t),
            _ => break,
        }
        k += 1;
    }
    out
}

/// The local wall time of `at` in the schedule's zone, as `YYYY-MM-DD HH:MM` (run names,
/// SCHED-3); UTC when the zone is unknown.
pub fn local_label(schedule: &Schedule, at: Timestamp) -> String {
    match schedule.timezone.parse::<Tz>() {
        Ok(tz) => at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
