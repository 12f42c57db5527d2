//! SCHED-2: the occurrence calculator (`workflow_core::schedule`).
//!
//! * Table tests of named cases: Europe/London and America/New_York across both DST changes,
//!   Asia/Shanghai (no DST), the 31st through a year, 29 February over four years.
//! * Property tests against an independent oracle that walks local days one by one and resolves
//!   wall times by trying the zone's offsets around them (not `from_local_datetime`): the
//!   calculator's sequence equals the oracle's; occurrences strictly increase; never two in one
//!   local day/week/month period; a wall time in a gap fires at the first instant after the gap;
//!   one in an overlap fires once, at the earlier instant; monthly days clamp to the month's end.
//!
//! Cases: `PROPTEST_CASES` (default 256); the count is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use proptest::prelude::*;
use workflow_core::schedule::{latest_occurrence_at_or_before, next_occurrence};
use workflow_core::{Schedule, ScheduleCadence, Timestamp};

fn utc(s: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn sched(cadence: ScheduleCadence, start: &str, tz: &str) -> Schedule {
    Schedule {
        cadence,
        start_at: utc(start),
        timezone: tz.into(),
    }
}

/// The first `n` occurrences, by repeated `next_occurrence`.
fn first(s: &Schedule, n: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut after = s.start_at - Duration::seconds(1);
    while out.len() < n {
        let t = next_occurrence(s, after).unwrap();
        out.push(t);
        after = t;
    }
    out
}

fn rfc(ts: &[Timestamp]) -> Vec<String> {
    ts.iter()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

/// SCHED-2: London, daily 01:30 across the spring gap (01:00→02:00 on 2024-03-31: fires at the
/// gap's end, 02:00 BST = 01:00 UTC) and the autumn overlap (01:00-02:00 twice on 2024-10-27:
/// fires once, at the earlier instant, 01:30 BST = 00:30 UTC).
#[test]
fn sched_2_london_daily_across_both_dst_changes() {
    let s = sched(
        ScheduleCadence::Daily,
        "2024-03-30T01:30:00Z",
        "Europe/London",
    );
    assert_eq!(
        rfc(&first(&s, 3)),
        [
            "2024-03-30T01:30:00Z",
            "2024-03-31T01:00:00Z",
            "2024-04-01T00:30:00Z"
        ]
    );
    let s = sched(
        ScheduleCadence::Daily,
        "2024-10-26T00:30:00Z",
        "Europe/London",
    );
    assert_eq!(
        rfc(&first(&s, 3)),
        [
            "2024-10-26T00:30:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-28T01:30:00Z"
        ]
    );
    // 12:00 local: no gap, no overlap, the UTC hour follows the offset.
    let s = sched(
        ScheduleCadence::Daily,
        "2024-03-30T12:00:00Z",
        "Europe/London",
    );
    assert_eq!(
        rfc(&first(&s, 2)),
        ["2024-03-30T12:00:00Z", "2024-03-31T11:00:00Z"]
    );
}

/// SCHED-2: New York, weekly Sunday 02:30 across the spring gap (2024-03-10, 02:00→03:00: fires
/// at 03:00 EDT = 07:00 UTC) and daily 01:30 across the autumn overlap (2024-11-03: once, EDT).
#[test]
fn sched_2_new_york_across_both_dst_changes() {
    let s = sched(
        ScheduleCadence::Weekly,
        "2024-03-03T07:30:00Z",
        "America/New_York",
    );
    assert_eq!(
        rfc(&first(&s, 3)),
        [
            "2024-03-03T07:30:00Z",
            "2024-03-10T07:00:00Z",
            "2024-03-17T06:30:00Z"
        ]
    );
    let s = sched(
        ScheduleCadence::Daily,
        "2024-11-02T05:30:00Z",
        "America/New_York",
    );
    assert_eq!(
        rfc(&first(&s, 3)),
        [
            "2024-11-02T05:30:00Z",
            "2024-11-03T05:30:00Z",
            "2024-11-04T06:30:00Z"
        ]
    );
}

/// SCHED-2: Shanghai has no DST: 09:00 local is 01:00 UTC all year.
#[test]
fn sched_2_shanghai_no_dst() {
    let s = sched(
        ScheduleCadence::Weekly,
        "2024-01-01T01:00:00Z",
        "Asia/Shanghai",
    );
    for t in first(&s, 53) {
        assert_eq!((t.hour(), t.minute()), (1, 0), "{t}");
        assert_eq!(t.weekday(), chrono::Weekday::Mon);
    }
}

/// SCHED-2: monthly on the 31st (UTC) through a year: the last day of shorter months.
#[test]
fn sched_2_31st_through_a_year() {
    let s = sched(ScheduleCadence::Monthly, "2023-01-31T08:00:00Z", "UTC");
    let days: Vec<String> = first(&s, 13)
        .iter()
        .map(|t| t.format("%m-%d").to_string())
        .collect();
    assert_eq!(
        days,
        [
            "01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30",
            "10-31", "11-30", "12-31", "01-31"
        ]
    );
}

/// SCHED-2: monthly on 29 February: the 28th in common years' Februaries, the 29th in leap
/// years, the 29th in every other month; over four years.
#[test]
fn sched_2_29_february_over_four_years() {
    let s = sched(ScheduleCadence::Monthly, "2024-02-29T10:00:00Z", "UTC");
    let all = first(&s, 49);
    let febs: Vec<String> = all
        .iter()
        .filter(|t| t.month() == 2)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .collect();
    assert_eq!(
        febs,
        [
            "2024-02-29",
            "2025-02-28",
            "2026-02-28",
            "2027-02-28",
            "2028-02-29"
        ]
    );
    assert!(all.iter().filter(|t| t.month() != 2).all(|t| t.day() == 29));
}

/// SCHED-2: before `start_at` the next occurrence is `start_at`; the latest at or before is none
/// until then; an occurrence is its own latest and not its own next.
#[test]
fn sched_2_bounds() {
    let s = sched(ScheduleCadence::Daily, "2024-05-01T09:00:00Z", "UTC");
    assert_eq!(
        next_occurrence(&s, utc("2020-01-01T00:00:00Z")),
        Some(s.start_at)
    );
    assert_eq!(
        latest_occurrence_at_or_before(&s, utc("2024-05-01T08:59:59Z")),
        None
    );
    assert_eq!(
        latest_occurrence_at_or_before(&s, s.start_at),
        Some(s.start_at)
    );
    assert_eq!(
        next_occurrence(&s, s.start_at),
        Some(utc("2024-05-02T09:00:00Z"))
    );
    assert_eq!(
        latest_occurrence_at_or_before(&s, utc("2024-05-11T10:00:00Z")),
        Some(utc("2024-05-11T09:00:00Z"))
    );
}

// ---- the oracle ----

const ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Tehran",
    "America/Havana",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Africa/Casablanca",
];

fn local_of(tz: &Tz, t: Timestamp) -> NaiveDateTime {
    t.with_timezone(tz).naive_local()
}

/// Resolve a wall time without `from_local_datetime`: every offset the zone uses within 15 hours
/// gives a candidate instant; those that read back as the wall time are its instants. None: a
/// gap, whose first later instant is found by walking minutes, then seconds.
fn oracle_resolve(tz: &Tz, w: NaiveDateTime) -> (Timestamp, usize) {
    let base = w.and_utc();
    let mut offsets = Vec::new();
    let mut t = base - Duration::hours(16);
    while t <= base + Duration::hours(16) {
        let off = tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc();
        if !offsets.contains(&off) {
            offsets.push(off);
        }
        t += Duration::minutes(15);
    }
    let mut hits: Vec<Timestamp> = offsets
        .iter()
        .map(|o| base - Duration::seconds(i64::from(*o)))
        .filter(|c| local_of(tz, *c) == w)
        .collect();
    hits.sort();
    hits.dedup();
    if let Some(first) = hits.first() {
        return (*first, hits.len());
    }
    let mut t = base - Duration::hours(16);
    while local_of(tz, t) <= w {
        t += Duration::minutes(1);
    }
    while local_of(tz, t - Duration::seconds(1)) > w {
        t -= Duration::seconds(1);
    }
    (t, 0)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(y, m, *d).is_some())
        .unwrap()
}

/// One oracle occurrence: the intended local date, the instant, and how many instants the wall
/// time has (0: gap, 2: overlap).
struct Occ {
    date: NaiveDate,
    at: Timestamp,
    instants: usize,
}

/// Walk local days from `start_at`'s date; keep the days the cadence names.
fn oracle(s: &Schedule, n: usize) -> Vec<Occ> {
    let tz: Tz = s.timezone.parse().unwrap();
    let l0 = local_of(&tz, s.start_at);
    let d0 = l0.date();
    let mut out = vec![Occ {
        date: d0,
        at: s.start_at,
        instants: 1,
    }];
    let mut d = d0;
    while out.len() < n {
        d = d.succ_opt().unwrap();
        let due = match s.cadence {
            ScheduleCadence::Daily => true,
            ScheduleCadence::Weekly => (d - d0).num_days() % 7 == 0,
            ScheduleCadence::Monthly => d.day() == d0.day().min(days_in_month(d.year(), d.month())),
        };
        if due {
            let (at, instants) = oracle_resolve(&tz, d.and_time(l0.time()));
            out.push(Occ {
                date: d,
                at,
                instants,
            });
        }
    }
    out
}

fn cadence() -> impl Strategy<Value = ScheduleCadence> {
    prop_oneof![
        Just(ScheduleCadence::Daily),
        Just(ScheduleCadence::Weekly),
        Just(ScheduleCadence::Monthly)
    ]
}

/// Start instants 1990..2060, biased to wall times near DST transitions (00:00-04:00 local).
fn schedule() -> impl Strategy<Value = Schedule> {
    (
        cadence(),
        0..ZONES.len(),
        631_152_000i64..2_840_140_800,
        prop::bool::ANY,
        0i64..(4 * 3600),
    )
        .prop_map(|(cadence, z, secs, early, tod)| {
            let tz: Tz = ZONES[z].parse().unwrap();
            let mut start_at = Utc.timestamp_opt(secs, 0).unwrap();
            if early {
                // Move to the same local date at a wall time in 00:00..04:00.
                let l = local_of(&tz, start_at);
                let w = l.date().and_hms_opt(0, 0, 0).unwrap() + Duration::seconds(tod);
                start_at = oracle_resolve(&tz, w).0;
            }
            Schedule {
                cadence,
                start_at,
                timezone: ZONES[z].into(),
            }
        })
}

fn period(c: ScheduleCadence, d: NaiveDate) -> (i32, u32) {
    match c {
        ScheduleCadence::Daily => (d.year(), d.ordinal()),
        ScheduleCadence::Weekly => (d.iso_week().year(), d.iso_week().week()),
        ScheduleCadence::Monthly => (d.year(), d.month()),
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    println!("SCHED-2 property cases: {cases}");
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    /// SCHED-2: the calculator's first 30 occurrences equal the oracle's; they strictly
    /// increase; never two in one local period; gap and overlap rules; month-end clamping;
    /// `next_occurrence` / `latest_occurrence_at_or_before` agree with the oracle at any instant.
    #[test]
    fn sched_2_occurrences_match_the_day_walking_oracle(
        s in schedule(),
        probe in 0i64..(40 * 31 * 86_400),
    ) {
        let tz: Tz = s.timezone.parse().unwrap();
        let want = oracle(&s, 30);
        let got = first(&s, 30);
        let want_at: Vec<Timestamp> = want.iter().map(|o| o.at).collect();
        prop_assert_eq!(&got, &want_at, "{:?}", s);
        let l0 = local_of(&tz, s.start_at);
        for (i, o) in want.iter().enumerate() {
            prop_assert!(got[i] >= s.start_at);
            if i > 0 {
                prop_assert!(got[i] > got[i - 1], "strictly increasing");
                prop_assert!(period(s.cadence, o.date) != period(s.cadence, want[i - 1].date));
                let w = o.date.and_time(l0.time());
                match o.instants {
                    // Gap: after the wall time, and the instant before reads before it.
                    0 => {
                        prop_assert!(local_of(&tz, got[i]) > w);
                        prop_assert!(local_of(&tz, got[i] - Duration::seconds(1)) < w);
                    }
                    // Exists (once or twice): reads as the wall time; the earlier instant.
                    _ => {
                        prop_assert_eq!(local_of(&tz, got[i]), w);
                        if s.cadence == ScheduleCadence::Daily {
                            // Never two in one local day.
                            prop_assert!(local_of(&tz, got[i]).date()
                                != local_of(&tz, got[i - 1]).date() || want[i - 1].instants == 0);
                        }
                    }
                }
                if s.cadence == ScheduleCadence::Monthly {
                    let d = o.date;
                    prop_assert_eq!(d.day(), l0.day().min(days_in_month(d.year(), d.month())));
                }
            }
        }
        // Any instant within the oracle's span.
        let t = s.start_at - Duration::days(2) + Duration::seconds(probe);
        if t < want_at[29] {
            let next = want_at.iter().copied().find(|o| *o > t);
            prop_assert_eq!(next_occurrence(&s, t), next);
            let latest = want_at.iter().copied().rfind(|o| *o <= t);
            prop_assert_eq!(latest_occurrence_at_or_before(&s, t), latest);
        }
    }
}

/// SCHED-2, exhaustively around every DST transition of the oracle's zones in 2020-2030: a daily
/// schedule started two days before at each quarter hour of the day agrees with the oracle over
/// the transition (gaps and overlaps included; their counts are printed and must be non-zero).
#[test]
fn sched_2_every_transition_2020_2030_agrees_with_the_oracle() {
    let (mut gaps, mut overlaps, mut schedules) = (0, 0, 0);
    for zone in ZONES {
        let tz: Tz = zone.parse().unwrap();
        let offset = |t: Timestamp| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let mut t = utc("2020-01-01T00:00:00Z");
        let end = utc("2031-01-01T00:00:00Z");
        while t < end {
            let next = t + Duration::minutes(30);
            if offset(t) != offset(next) {
                let day = local_of(&tz, t).date() - Duration::days(2);
                for q in 0..96 {
                    let w = day.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(15 * q);
                    let s = Schedule {
                        cadence: ScheduleCadence::Daily,
                        start_at: oracle_resolve(&tz, w).0,
                        timezone: (*zone).into(),
                    };
                    let want = oracle(&s, 5);
                    let want_at: Vec<Timestamp> = want.iter().map(|o| o.at).collect();
                    assert_eq!(first(&s, 5), want_at, "{zone} {w}");
                    gaps += want[1..].iter().filter(|o| o.instants == 0).count();
                    overlaps += want[1..].iter().filter(|o| o.instants == 2).count();
                    schedules += 1;
                }
            }
            t = next;
        }
    }
    println!(
        "SCHED-2 transitions: {schedules} schedules, {gaps} gap and {overlaps} overlap occurrences"
    );
    assert!(gaps > 0 && overlaps > 0);
}
