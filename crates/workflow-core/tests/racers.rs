//! Real-thread racers on the memory store (CONC-1, CONC-2, CONC-3, REAP-2): 8 threads race on
//! one run per trial, `RACE_TRIALS` trials per race (default 1000). In every trial exactly one
//! transition commits and every loser gets the answer its idempotency rule promises.
//!
//! The races are forced, not left to luck: the store is wrapped ([`Intercepted`]) so that each
//! racer's first commit waits at a barrier until all 8 racers have reached theirs. Every racer
//! has therefore loaded and decided on the same version before any of them commits; one commit
//! wins and the 7 others take the engine's conflict path (reload, decide again).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use workflow_conformance::intercept::{Intercepted, Interceptor};
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

const THREADS: usize = 8;

thread_local! {
    /// Set on a racer thread until its first commit has waited at the barrier.
    static FIRST_COMMIT_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Holds every racer's first commit until all [`THREADS`] racers are about to commit.
struct CommitBarrier {
    barrier: Barrier,
    /// Racers that waited (reset by each race).
    waited: AtomicUsize,
}

impl Interceptor<MemoryStore> for CommitBarrier {
    fn commit(&self, _: &MemoryStore, _: &Commit) -> Option<StoreResult<CommitOutcome>> {
        if FIRST_COMMIT_PENDING.with(|f| f.replace(false)) {
            self.waited.fetch_add(1, Ordering::SeqCst);
            self.barrier.wait();
        }
        None
    }
}

type RaceStore = Intercepted<MemoryStore, CommitBarrier>;

fn world() -> Arc<World<RaceStore>> {
    let store = Intercepted::new(
        MemoryStore::new(),
        CommitBarrier {
            barrier: Barrier::new(THREADS),
            waited: AtomicUsize::new(0),
        },
    );
    Arc::new(World::new(store))
}

fn trials() -> usize {
    usize::try_from(workflow_conformance::env_count("RACE_TRIALS", 1000)).unwrap()
}

/// Runs `f(thread_index)` on 8 threads released together, each holding its first commit until
/// all 8 reach theirs; returns their answers in order. Every racer must have reached a commit
/// (so all 8 decided on the same state before any wrote).
fn race<T: Send + 'static>(
    w: &World<RaceStore>,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(THREADS));
    w.engine.store().hook.waited.store(0, Ordering::SeqCst);
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (f, start) = (f.clone(), start.clone());
            std::thread::spawn(move || {
                FIRST_COMMIT_PENDING.with(|p| p.set(true));
                start.wait();
                f(i)
            })
        })
        .collect();
    let answers = handles
        .into_iter()
        .map(|h| h.join().expect("racer panicked"))
        .collect();
    assert_eq!(
        w.engine.store().hook.waited.load(Ordering::SeqCst),
        THREADS,
        "every racer reached its commit together with the others"
    );
    answers
}

fn terminal_records(w: &World<RaceStore>, run: RunId) -> usize {
    w.history(run)
        .iter()
        .filter(|r| is_terminal_event(r.event))
        .count()
}

/// CONC-3, START-2: of 8 concurrent Starts exactly one dispatches; all return IN_PROGRESS.
#[test]
fn start_vs_start() {
    let w = world();
    for _ in 0..trials() {
        let run = w.draft();
        let ww = w.clone();
        let answers = race(&w, move |_| {
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
    let w = world();
    for _ in 0..trials() {
        let run = w.running();
        let ww = w.clone();
        let answers = race(&w, move |i| {
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
    let w = world();
    for _ in 0..trials() {
        let run = w.running();
        let ww = w.clone();
        let answers = race(&w, move |i| {
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
    let w = world();
    for _ in 0..trials() {
        let run = w.running();
        w.clock.advance(chrono::Duration::hours(2));
        let ww = w.clone();
        let answers = race(&w, move |i| {
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
    let w = world();
    for _ in 0..trials() {
        let run = w.run_in(Setup::FailedAfterStart);
        let ww = w.clone();
        let answers = race(&w, move |_| {
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
