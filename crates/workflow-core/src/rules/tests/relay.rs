//! The relay's decisions: the backoff (DISP-4), what a failed attempt becomes (DISP-4, DISP-5),
//! and the transition that fails an attempt whose dispatch was dead-lettered (DISP-5).

use super::*;
use crate::store::{Delivery, DispatchError};

fn policy() -> RelayPolicy {
    RelayPolicy {
        backoff_base: Duration::seconds(2),
        backoff_cap: Duration::seconds(30),
        max_tries: 4,
        dead_after: Duration::minutes(10),
    }
}

fn entry(attempts: u32, first_failed_at: Option<Timestamp>) -> OutboxEntry {
    let run = running(false);
    let mut e = OutboxEntry::queued(7, dispatch_of(&run).unwrap());
    e.attempts = attempts;
    e.first_failed_at = first_failed_at;
    e
}

fn transient() -> DispatchError {
    DispatchError {
        retryable: true,
        message: "connection refused".into(),
        retry_after: None,
    }
}

/// DISP-4: the backoff doubles from the base per try, is capped, and jitter scales it within
/// its upper half: [full/2, full].
#[test]
fn disp_4_backoff_doubles_caps_and_jitters_in_the_upper_half() {
    let p = policy();
    let ms = |tries, jitter| p.backoff(tries, jitter).num_milliseconds();
    assert_eq!((ms(1, 0.0), ms(1, 1.0)), (1_000, 2_000));
    assert_eq!((ms(2, 0.0), ms(2, 1.0)), (2_000, 4_000));
    assert_eq!((ms(3, 0.0), ms(3, 0.5)), (4_000, 6_000));
    assert_eq!((ms(4, 0.0), ms(4, 1.0)), (8_000, 16_000));
    assert_eq!((ms(5, 0.0), ms(5, 1.0)), (15_000, 30_000), "capped at 30 s");
    assert_eq!(ms(80, 0.0), 15_000, "no overflow for huge try counts");
    assert_eq!(ms(0, 0.0), 1_000, "try 0 counts as the first");
    assert_eq!(ms(1, -3.0), 1_000, "jitter is clamped");
    assert_eq!(ms(1, 7.0), 2_000, "jitter is clamped");
    assert_eq!(ms(1, f64::NAN), 1_000, "a NaN jitter counts as 0");
    let defaults = RelayPolicy::default();
    assert_eq!(defaults.backoff_base, Duration::seconds(1));
    assert_eq!(defaults.backoff_cap, Duration::minutes(5));
    assert_eq!(
        (defaults.max_tries, defaults.dead_after),
        (12, Duration::minutes(30))
    );
}

/// DISP-4: a transient failure is retried at now + the backoff of its try, with the error.
#[test]
fn disp_4_transient_failure_is_a_retry_after_the_backoff() {
    let p = policy();
    let first = p.after_failure(&entry(0, None), &transient(), now(), 0.0);
    assert_eq!(
        first,
        Delivery::Retry {
            error: "connection refused".into(),
            next_try_at: now() + Duration::seconds(1),
        }
    );
    let third = p.after_failure(&entry(2, Some(now())), &transient(), now(), 1.0);
    assert_eq!(
        third,
        Delivery::Retry {
            error: "connection refused".into(),
            next_try_at: now() + Duration::seconds(8),
        }
    );
}

/// HOOK-1: a runner's `Retry-After` is honoured when it is longer than the backoff, never makes
/// the wait shorter than the backoff, and counts only up to the backoff cap.
#[test]
fn hook_1_retry_after_is_the_wait_when_longer_than_the_backoff_capped() {
    let p = policy();
    let wait = |tries: u32, retry_after: Option<u64>| {
        let error = transient().with_retry_after(retry_after.map(std::time::Duration::from_secs));
        match p.after_failure(&entry(tries, Some(now())), &error, now(), 0.0) {
            Delivery::Retry { next_try_at, .. } => (next_try_at - now()).num_seconds(),
            other => panic!("expected a retry, got {other:?}"),
        }
    };
    assert_eq!(wait(0, None), 1, "the backoff alone");
    assert_eq!(wait(0, Some(7)), 7, "a longer Retry-After wins");
    assert_eq!(
        wait(3, Some(1)),
        8,
        "a shorter Retry-After does not shorten the backoff"
    );
    assert_eq!(wait(0, Some(3600)), 30, "capped at backoff_cap");
    assert_eq!(wait(0, Some(u64::MAX)), 30, "no overflow");
}
/// DISP-5: a permanent refusal is dead at once, on its first try.
#[test]
fn disp_5_permanent_refusal_is_dead_at_once() {
    let refused = DispatchError {
        retryable: false,
        message: "namespace not found".into(),
        retry_after: None,
    };
    assert_eq!(
        policy().after_failure(&entry(0, None), &refused, now(), 0.5),
        Delivery::Dead {
            error: "permanent: namespace not found".into()
        }
    );
}

/// DISP-5: a transient failure is dead only once BOTH the tries (`max_tries`) and the time
/// (`dead_after` since the first failure) are used up: exactly at each boundary.
#[test]
fn disp_5_dead_after_both_tries_and_time() {
    let p = policy();
    let since = now() - Duration::minutes(10);
    let dead = Delivery::Dead {
        error: "gave up after 4 tries: connection refused".into(),
    };
    // The 4th try, failing for exactly 10 minutes: dead.
    assert_eq!(
        p.after_failure(&entry(3, Some(since)), &transient(), now(), 0.0),
        dead
    );
    // One try short: retried.
    assert!(matches!(
        p.after_failure(&entry(2, Some(since)), &transient(), now(), 0.0),
        Delivery::Retry { .. }
    ));
    // Enough tries, 1 s short of the time: retried.
    assert!(matches!(
        p.after_failure(
            &entry(3, Some(since + Duration::seconds(1))),
            &transient(),
            now(),
            0.0
        ),
        Delivery::Retry { .. }
    ));
    // Never failed before (no first failure): the time starts now, so no dead letter yet.
    assert!(matches!(
        p.after_failure(&entry(30, None), &transient(), now(), 0.0),
        Delivery::Retry { .. }
    ));
}

/// DISP-5: the dead-lettered dispatch of the current attempt of an IN_PROGRESS run fails it,
/// "Dispatch failed: <reason>", typed `DispatchFailed`, no message queued; anything else is left
/// alone.
#[test]
fn disp_5_dead_dispatch_fails_only_its_own_running_attempt() {
    let run = running(true);
    let d = decide_dispatch_failed(now(), &run, run.attempt, "permanent: refused").unwrap();
    let mut next = run.clone();
    next.version += 1;
    next.updated_at = now();
    next.execution_state = ExecutionState::Failed;
    next.completed_at = Some(now());
    next.deadline_at = None;
    next.error = Some("Dispatch failed: permanent: refused".into());
    next.failure = Some(FailureKind::DispatchFailed);
    let mut t = put(next, Event::Failed);
    t.reason = Some("Dispatch failed: permanent: refused".into());
    assert_eq!(d, Decision::write(t, true));

    let stale = decide_dispatch_failed(now(), &run, run.attempt + 1, "x").unwrap();
    assert_eq!(
        stale,
        Decision::unchanged(false),
        "another attempt's dead letter"
    );
    let older = decide_dispatch_failed(now(), &run, run.attempt - 1, "x").unwrap();
    assert_eq!(older, Decision::unchanged(false));
    for done in [
        completed(true, ApprovalState::Pending),
        failed_after_start(),
        draft(),
    ] {
        let d = decide_dispatch_failed(now(), &done, done.attempt, "x").unwrap();
        assert_eq!(d, Decision::unchanged(false), "{:?}", done.execution_state);
    }
}

/// DISP-4, DISP-5: an outbox entry after each outcome (`OutboxEntry::after`): attempts count,
/// the first failure is kept, a delivered or dead entry never changes again.
#[test]
fn disp_4_entry_after_each_outcome() {
    let e = entry(0, None);
    let later = now() + Duration::seconds(5);
    let retry = Delivery::Retry {
        error: "down".into(),
        next_try_at: later,
    };
    let once = e.after(now(), &retry);
    assert_eq!(
        (
            once.attempts,
            once.last_error.as_deref(),
            once.next_try_at,
            once.first_failed_at
        ),
        (1, Some("down"), Some(later), Some(now()))
    );
    assert!(once.is_pending() && !once.is_due(now()) && once.is_due(later));
    let twice = once.after(later, &retry);
    assert_eq!((twice.attempts, twice.first_failed_at), (2, Some(now())));
    let done = twice.after(later, &Delivery::Delivered);
    assert!(done.delivered && !done.is_pending() && !done.is_due(later));
    assert_eq!((done.attempts, done.next_try_at), (3, None));
    assert_eq!(
        done.last_error.as_deref(),
        Some("down"),
        "the last error stays for the record"
    );
    assert_eq!(
        done.after(later, &retry),
        done,
        "a delivered entry never changes"
    );
    let dead = once.after(
        later,
        &Delivery::Dead {
            error: "gone".into(),
        },
    );
    assert!(dead.dead && !dead.is_pending());
    assert_eq!(
        (dead.attempts, dead.next_try_at, dead.last_error.as_deref()),
        (2, None, Some("gone"))
    );
    assert_eq!(
        dead.after(later, &Delivery::Delivered),
        dead,
        "nor a dead one"
    );
    let fresh_dead = e.after(now(), &Delivery::Dead { error: "no".into() });
    assert_eq!(fresh_dead.first_failed_at, Some(now()));
}

/// VIS-2, CLONE-3, CLONE-4: a caller who can read the source but no longer the definition (its
/// triggerer, whose grant was removed) gets `not_found` whether or not the source has a
/// snapshot: permission is decided before state.
#[test]
fn vis_2_clone_decides_permission_before_state() {
    let mut def = definition(false);
    def.path = "/private/summarise".into();
    let triggerer = who("triggerer");
    let (ctx, cmd) = (
        triggerer.ctx(),
        CloneRun {
            include_inputs: true,
        },
    );
    for source in [draft(), running(false)] {
        assert_eq!(source.triggered_by, triggerer.id());
        let err = decide_clone(&ctx, &source, &def, cmd).unwrap_err();
        assert_eq!(
            err.code(),
            ErrorCode::NotFound,
            "{:?}",
            source.execution_state
        );
    }
}

/// RTOK-2, CB-4: outputs of a superseded attempt are refused (`conflict`); the current attempt,
/// or no attempt named (an API key), passes.
#[test]
fn rtok_2_outputs_only_for_the_current_attempt() {
    let run = running(false);
    assert!(check_output_attempt(&run, None).is_ok());
    assert!(check_output_attempt(&run, Some(run.attempt)).is_ok());
    for stale in [run.attempt - 1, run.attempt + 1] {
        let err = check_output_attempt(&run, Some(stale)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
    }
}
