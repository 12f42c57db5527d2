//! # Linearizability checking (CONC-1, CONC-2, CONC-3)
//!
//! CONC-1 says that operations on one run are linearizable: whatever the interleaving of
//! concurrent calls, the outcome equals some serial order of them. This module records real
//! concurrent histories against any [`Store`] and checks each against the sequential reference
//! model ([`crate::model::Model`]):
//!
//! 1. A world is built on a fresh store from the caller's factory, and one run is brought into a
//!    random starting state (draft, running, completed, failed; with its deadline passed or not).
//! 2. `threads` threads (default 4) each perform `ops_per_thread` operations (default 5) on
//!    that run, in rounds released together by a barrier: start, stop, callbacks (COMPLETED or
//!    FAILED, for the current, a stale or no attempt), retry, get, the thread gate, approve,
//!    output writes, (rarely) delete and reaper sweeps, by the triggerer, the assumed
//!    triggerer, the owner or a read-only user. Each operation's invocation and return are
//!    stamped from one global counter.
//! 3. The checker (Wing & Gong's search, memoised on the set of linearized operations and the
//!    model state) looks for a total order that respects real time (an operation that returned
//!    before another was invoked comes first) in which the model, applied in that order, gives
//!    every operation exactly the answer it got: the same error code, or the same state,
//!    approval, attempt, snapshot presence, version and error, or the same callback answer.
//!
//! Since versions are part of every answer, a linearization also proves that exactly the
//! transitions of that serial order were committed: two racing terminal writers cannot both
//! commit (CONC-2), and of N concurrent Starts exactly one dispatches while all see IN_PROGRESS
//! (CONC-3).
//!
//! ```
//! use workflow_conformance::linearizability::{check_store, Config};
//! let report = check_store(workflow_store_memory::MemoryStore::new, &Config {
//!     histories: 5,
//!     ..Config::default()
//! })
//! .unwrap();
//! assert_eq!(report.histories, 5);
//! ```

use crate::model::{ActorKind, Driver, Expected, Model, Op};
use crate::world::Setup;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use workflow_core::{CallbackStatus, Store, StoreResult};

/// How many histories of what shape to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Concurrent threads per history (at most 8).
    pub threads: usize,
    /// Operations per thread (threads × ops at most 24).
    pub ops_per_thread: usize,
    /// Histories to record and check.
    pub histories: usize,
    /// Seed of the random operation mix.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 4,
            ops_per_thread: 5,
            histories: 1000,
            seed: 0x11ea_5eed,
        }
    }
}

impl Config {
    /// The default shape with `histories` taken from the environment variable `var` when set
    /// (e.g. `LIN_HISTORIES`); 0 or a non-number panics ([`crate::env_count`]).
    pub fn from_env(var: &str) -> Self {
        let default = Config::default().histories as u64;
        let histories = usize::try_from(crate::env_count(var, default)).unwrap_or(usize::MAX);
        Config {
            histories,
            ..Config::default()
        }
    }
}

/// One completed call of a recorded history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The thread that made it.
    pub thread: usize,
    /// What it did.
    pub op: Op,
    /// Who did it.
    pub actor: ActorKind,
    /// Stamp taken just before the call.
    pub invoked: u64,
    /// Stamp taken just after it returned.
    pub returned: u64,
    /// What it answered, in model terms.
    pub answer: Expected,
}

/// A recorded concurrent history and the model state it started from.
#[derive(Clone, Debug)]
pub struct History {
    /// The model of the run before any call.
    pub initial: Model,
    /// Every call, in no particular order.
    pub calls: Vec<Call>,
}

/// Totals of a successful check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Histories recorded and found linearizable.
    pub histories: usize,
    /// Calls in them.
    pub calls: usize,
    /// Calls that overlapped in time with at least one other call.
    pub overlapping_calls: usize,
    /// Calls that committed a transition (per the linearization).
    pub committing_calls: usize,
}

/// A history no serial order explains.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Index of the history.
    pub index: usize,
    /// The history itself.
    pub history: History,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "history {} is not linearizable (CONC-1); it started from {:?}; calls by invocation:",
            self.index, self.history.initial.runs
        )?;
        let mut calls = self.history.calls.clone();
        calls.sort_by_key(|c| c.invoked);
        for c in calls {
            writeln!(
                f,
                "  [{:>3}..{:>3}] thread {} {:?} by {:?} -> {:?}",
                c.invoked, c.returned, c.thread, c.op, c.actor, c.answer
            )?;
        }
        Ok(())
    }
}

/// SplitMix64, so the operation mix depends on the seed only.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn random_call(rng: &mut Rng) -> (Op, ActorKind) {
    let actor = [
        ActorKind::Triggerer,
        ActorKind::TriggererAssumed,
        ActorKind::Owner,
        ActorKind::UserRead,
    ][[0, 0, 1, 1, 1, 2, 2, 3][rng.below(8)]];
    let status = if rng.below(2) == 0 {
        CallbackStatus::Completed
    } else {
        CallbackStatus::Failed
    };
    let op = match rng.below(18) {
        0..=2 => Op::Start { run: 0 },
        3..=4 => Op::Stop { run: 0 },
        5..=8 => Op::Callback {
            run: 0,
            status,
            attempt: [None, Some(1), Some(2)][rng.below(3)],
            error_too_long: false,
        },
        9..=10 => Op::Retry { run: 0 },
        11 => Op::Get { run: 0 },
        12 => Op::ThreadMessage { run: 0 },
        13 => Op::Approve {
            run: 0,
            approved: true,
        },
        14 => Op::AddOutput { run: 0 },
        15 if rng.below(4) == 0 => Op::Delete { run: 0 },
        _ => Op::Reap,
    };
    (op, actor)
}

/// Records one history on a fresh store.
pub fn record<S: Store>(store: S, config: &Config, rng_seed: u64) -> History {
    let mut rng = Rng(rng_seed);
    let (setup, state) = [
        (Setup::InProgress, "IN_PROGRESS"),
        (Setup::InProgress, "IN_PROGRESS"),
        (Setup::NotStarted, "NOT_STARTED"),
        (Setup::FailedAfterStart, "FAILED_AFTER_START"),
        (
            Setup::CompletedApprovalPending,
            "COMPLETED_APPROVAL_PENDING",
        ),
    ][rng.below(5)];
    let late = rng.below(2) == 0;
    let driver = Driver::new(store);
    let run = driver.world.run_in(setup);
    driver.adopt(run.id);
    let mut initial = Model::in_vector_state(state).unwrap_or_default();
    if late {
        // Past the first attempt's deadline, so a sweep races the other writers (REAP-2).
        let jump = Op::AdvanceClock { seconds: 700 };
        driver.observe(&jump, ActorKind::Owner);
        initial.apply(&jump, ActorKind::Owner);
    }
    let plans: Vec<Vec<(Op, ActorKind)>> = (0..config.threads)
        .map(|_| {
            (0..config.ops_per_thread)
                .map(|_| random_call(&mut rng))
                .collect()
        })
        .collect();
    let clock = AtomicU64::new(0);
    let barrier = Barrier::new(config.threads);
    let calls = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(thread, plan)| {
                let (driver, clock, barrier) = (&driver, &clock, &barrier);
                s.spawn(move || {
                    plan.iter()
                        .map(|(op, actor)| {
                            // Every round of calls is released together, so they overlap.
                            barrier.wait();
                            let invoked = clock.fetch_add(1, Ordering::SeqCst);
                            let answer = driver.observe(op, *actor);
                            let returned = clock.fetch_add(1, Ordering::SeqCst);
                            Call {
                                thread,
                                op: op.clone(),
                                actor: *actor,
                                invoked,
                                returned,
                                answer,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    History { initial, calls }
}

/// A serial order of the calls (indices into `history.calls`) that respects real time and in
/// which the model gives every call the answer it got; `None` when there is none.
pub fn linearize(history: &History) -> Option<Vec<usize>> {
    let n = history.calls.len();
    if n > 24 {
        return None;
    }
    let mut failed: HashSet<(u32, Model)> = HashSet::new();
    let mut order = Vec::with_capacity(n);
    if search(history, 0, &history.initial, &mut order, &mut failed) {
        Some(order)
    } else {
        None
    }
}

fn search(
    h: &History,
    done: u32,
    model: &Model,
    order: &mut Vec<usize>,
    failed: &mut HashSet<(u32, Model)>,
) -> bool {
    let n = h.calls.len();
    if order.len() == n {
        return true;
    }
    if failed.contains(&(done, model.clone())) {
        return false;
    }
    let pending = |i: usize| done & (1 << i) == 0;
    // A call may go next only if no other pending call returned before it was invoked.
    let horizon = (0..n)
        .filter(|i| pending(*i))
        .map(|i| h.calls[i].returned)
        .min()
        .unwrap_or(u64::MAX);
    for i in 0..n {
        let c = &h.calls[i];
        if !pending(i) || c.invoked > horizon {
            continue;
        }
        let mut next = model.clone();
        if next.apply(&c.op, c.actor) != c.answer {
            continue;
        }
        order.push(i);
        if search(h, done | (1 << i), &next, order, failed) {
            return true;
        }
        order.pop();
    }
    failed.insert((done, model.clone()));
    false
}

/// Records `config.histories` histories, each on a fresh store from `factory`, and checks every
/// one (CONC-1, CONC-2, CONC-3). The first history no serial order explains is the error.
pub fn check_store<S: Store, F: FnMut() -> S>(
    mut factory: F,
    config: &Config,
) -> Result<Report, Box<Violation>> {
    let mut report = Report::default();
    let mut seeds = Rng(config.seed);
    for index in 0..config.histories {
        let history = record(factory(), config, seeds.next());
        let Some(order) = linearize(&history) else {
            return Err(Box::new(Violation { index, history }));
        };
        report.histories += 1;
        report.calls += history.calls.len();
        report.overlapping_calls += history
            .calls
            .iter()
            .filter(|a| {
                history
                    .calls
                    .iter()
                    .any(|b| a != &b && a.invoked < b.returned && b.invoked < a.returned)
            })
            .count();
        let mut model = history.initial.clone();
        for i in order {
            let before = model.total_transitions();
            let c = &history.calls[i];
            model.apply(&c.op, c.actor);
            if model.total_transitions() != before {
                report.committing_calls += 1;
            }
        }
    }
    Ok(report)
}

/// A store that yields the thread before every run read and every commit, so that on a fast
/// in-memory store the load → decide → commit windows of racing calls really interleave (and
/// the engine's reload-on-conflict path runs). Behaviour is otherwise the wrapped store's.
pub type Yielding<S> = crate::intercept::Intercepted<S, YieldBeforeRunCalls>;

/// A [`Yielding`] store over `inner`.
pub fn yielding<S: Store>(inner: S) -> Yielding<S> {
    crate::intercept::Intercepted::new(inner, YieldBeforeRunCalls)
}

/// The hook of [`Yielding`]: yields before `load_run` and `commit`.
#[derive(Clone, Copy, Debug, Default)]
pub struct YieldBeforeRunCalls;

impl<S> crate::intercept::Interceptor<S> for YieldBeforeRunCalls {
    fn before(&self, _: &S, call: crate::intercept::Call<'_>) -> StoreResult<()> {
        if matches!(
            call,
            crate::intercept::Call::LoadRun(..) | crate::intercept::Call::Commit(_)
        ) {
            std::thread::yield_now();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::RunView;
    use workflow_core::{ApprovalState, ExecutionState};

    fn call(thread: usize, op: Op, invoked: u64, returned: u64, answer: Expected) -> Call {
        Call {
            thread,
            op,
            actor: ActorKind::Triggerer,
            invoked,
            returned,
            answer,
        }
    }

    fn view(execution_state: ExecutionState, version: u64) -> RunView {
        RunView {
            execution_state,
            approval_state: ApprovalState::NotRequired,
            attempt: 1,
            has_snapshot: true,
            version,
            error: None,
        }
    }

    /// CONC-3: two overlapping Starts that both claim to have committed (both answer version 3)
    /// are not linearizable; the checker must refuse the history.
    #[test]
    fn conc_3_checker_refuses_two_committing_starts() {
        let initial = Model::in_vector_state("NOT_STARTED").unwrap();
        let started = Expected::Run {
            run: 0,
            view: view(ExecutionState::InProgress, 2),
        };
        let ok = History {
            initial: initial.clone(),
            calls: vec![
                call(0, Op::Start { run: 0 }, 0, 3, started.clone()),
                call(1, Op::Start { run: 0 }, 1, 2, started.clone()),
            ],
        };
        assert!(
            linearize(&ok).is_some(),
            "one start commits, the other sees it"
        );
        let mut bad = ok.clone();
        bad.calls[1].answer = Expected::Run {
            run: 0,
            view: view(ExecutionState::InProgress, 3),
        };
        assert!(linearize(&bad).is_none());
    }

    /// CONC-1: real-time order is respected: a Get that returned NOT_STARTED after a Start had
    /// already returned IN_PROGRESS is refused, though the reverse serial order would explain it.
    #[test]
    fn conc_1_checker_respects_real_time() {
        let initial = Model::in_vector_state("NOT_STARTED").unwrap();
        let draft = Expected::Run {
            run: 0,
            view: RunView {
                attempt: 0,
                has_snapshot: false,
                ..view(ExecutionState::NotStarted, 1)
            },
        };
        let started = Expected::Run {
            run: 0,
            view: view(ExecutionState::InProgress, 2),
        };
        let overlapping = History {
            initial,
            calls: vec![
                call(0, Op::Start { run: 0 }, 0, 2, started),
                call(1, Op::Get { run: 0 }, 1, 3, draft),
            ],
        };
        assert!(linearize(&overlapping).is_some());
        let mut sequential = overlapping.clone();
        sequential.calls[1].invoked = 2;
        sequential.calls[1].returned = 3;
        sequential.calls[0].returned = 1;
        assert!(linearize(&sequential).is_none());
    }
}
