//! Real-thread racers on the memory store (CONC-1, CONC-2, CONC-3, REAP-2): 8 threads race on
//! one run per trial, `RACE_TRIALS` trials per race (default 1000). In every trial exactly one
//! transition commits and every loser gets the answer its idempotency rule promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

const THREADS: usize = 8;

fn trials() -> usize {
    std::env::var("RACE_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Runs `f(thread_index)` on 8 threads released together; returns their answers in order.
fn race<T: Send + 'static>(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (f, barrier) = (f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("racer panicked"))
        .collect()
}

fn terminal_records(w: &World<MemoryStore>, run: RunId) -> usize {
    w.history(run)
        .iter()
        .filter(|r| is_terminal_event(r.event))
        .count()
}

/// CONC-3, START-2: of 8 concurrent Starts exactly one dispatches; all return IN_PROGRESS.
#[test]
fn start_vs_start() {
    let w = Arc::new(World::new(MemoryStore::new()));
    for _ in 0..trials() {
        let run = w.draft();
        let ww = w.clone();
        let answers = race(move |_| {
            ww.engine
                .start_run(&ww.triggerer, run.id, StartRun::default())
        });
        for a in &answers {
            let r = a.as_ref().expect("every start answers IN_PROGRESS");
            assert_eq!(
                (r.execution_state, r.attempt),
                (ExecutionState::InProgress, 1)
            );
        }
        let starts = w
            .history(run.id)
            .iter()
            .filter(|r| r.event == Event::Started)
            .count();
        assert_eq!(starts, 1);
        assert_eq!(
            w.engine
                .store()
                .outbox_for_run(w.tenant, run.id)
                .unwrap()
                .len(),
            1,
            "one dispatch"
        );
        w.assert_history_gapless(run.id);
    }
}

/// CONC-2, STOP-2, CB-3: 4 stops race 4 callbacks; exactly one terminal write commits; losing
/// stops return the run unchanged, losing callbacks answer already_terminal.
#[test]
fn stop_vs_callback() {
    let w = Arc::new(World::new(MemoryStore::new()));
    for _ in 0..trials() {
        let run = w.running();
        let ww = w.clone();
        let answers = race(move |i| {
            if i % 2 == 0 {
                ww.engine.stop_run(&ww.triggerer, run.id).map(|r| (None, r))
            } else {
                let cb = Callback {
                    status: CallbackStatus::Completed,
                    error: None,
                    attempt: Some(1),
                };
                ww.engine
                    .callback(&ww.triggerer.clone().assumed(), run.id, cb)
                    .map(|r| (Some(r.outcome), r.run))
            }
        });
        assert_eq!(terminal_records(&w, run.id), 1);
        let last = w.engine.get_run(&w.owner, run.id).unwrap();
        let updated = answers
            .iter()
            .filter(|a| matches!(a, Ok((Some(CallbackOutcome::Updated), _))))
            .count();
        match last.execution_state {
            ExecutionState::Completed => assert_eq!(updated, 1),
            ExecutionState::Failed => {
                assert_eq!(updated, 0);
                assert_eq!(last.error.as_deref(), Some("Stopped by user"));
            }
            s => panic!("not terminal: {s}"),
        }
        for a in answers {
            let (outcome, r) = a.expect("no loser gets an error");
            assert!(r.execution_state.is_terminal());
            assert!(matches!(
                outcome,
                None | Some(CallbackOutcome::Updated) | Some(CallbackOutcome::AlreadyTerminal)
            ));
        }
        w.assert_history_gapless(run.id);
    }
}

/// CONC-2, CB-3: 8 callbacks (mixed statuses): exactly one updated, seven already_terminal.
#[test]
fn callback_vs_callback() {
    let w = Arc::new(World::new(MemoryStore::new()));
    for _ in 0..trials() {
        let run = w.running();
        let ww = w.clone();
        let answers = race(move |i| {
            let status = if i % 2 == 0 {
                CallbackStatus::Completed
            } else {
                CallbackStatus::Failed
            };
            let cb = Callback {
                status,
                error: None,
                attempt: None,
            };
            ww.engine
                .callback(&ww.triggerer, run.id, cb)
                .expect("no error")
                .outcome
        });
        let updated = answers
            .iter()
            .filter(|o| **o == CallbackOutcome::Updated)
            .count();
        let already = answers
            .iter()
            .filter(|o| **o == CallbackOutcome::AlreadyTerminal)
            .count();
        assert_eq!((updated, already), (1, THREADS - 1), "{answers:?}");
        assert_eq!(terminal_records(&w, run.id), 1);
    }
}

/// CONC-2, REAP-2: 4 stops race 4 reapers past the deadline; exactly one terminal write.
#[test]
fn stop_vs_reap() {
    let w = Arc::new(World::new(MemoryStore::new()));
    for _ in 0..trials() {
        let run = w.running();
        w.clock.advance(chrono::Duration::hours(2));
        let ww = w.clone();
        let answers = race(move |i| {
            if i % 2 == 0 {
                ww.engine
                    .stop_run(&ww.triggerer, run.id)
                    .map(|r| r.execution_state)
                    .map(Some)
            } else {
                ww.engine
                    .reap_expired()
                    .map(|reaped| reaped.contains(&run.id).then_some(ExecutionState::Failed))
            }
        });
        for a in &answers {
            assert!(a.is_ok(), "{a:?}");
        }
        assert_eq!(terminal_records(&w, run.id), 1);
        let reaped = answers
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|a| matches!(a, Ok(Some(_))))
            .count();
        let last = w.history(run.id).pop().unwrap();
        assert_eq!(
            reaped,
            usize::from(last.event == Event::TimedOut),
            "reap reports only its own win"
        );
        w.assert_history_gapless(run.id);
    }
}

/// CONC-1, RETRY-2: 8 retries of a FAILED run: exactly one commits attempt 2; the others see
/// IN_PROGRESS and get conflict.
#[test]
fn retry_vs_retry() {
    let w = Arc::new(World::new(MemoryStore::new()));
    for _ in 0..trials() {
        let run = w.run_in(Setup::FailedAfterStart);
        let ww = w.clone();
        let answers = race(move |_| {
            ww.engine
                .retry_run(&ww.triggerer, run.id)
                .map(|r| r.attempt)
        });
        let ok: Vec<u32> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().copied())
            .collect();
        assert_eq!(ok, vec![2], "{answers:?}");
        for a in answers.iter().filter(|a| a.is_err()) {
            assert_eq!(a.as_ref().unwrap_err().code(), ErrorCode::Conflict);
        }
        let retries = w
            .history(run.id)
            .iter()
            .filter(|r| r.event == Event::Retried)
            .count();
        assert_eq!(retries, 1);
        assert_eq!(
            w.engine
                .store()
                .outbox_for_run(w.tenant, run.id)
                .unwrap()
                .len(),
            2
        );
    }
}
