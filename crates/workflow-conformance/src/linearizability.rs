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
//!    every operation exactly the answer it got: the same error code, or the same run view
//!    ([`crate::model::RunView`]: state, approval and its record, attempt, version, name, scope,
//!    snapshot contents, error and its text, and every timestamp), or the same callback answer.
//! 4. The store's final row, history records and outbox are then checked against that serial
//!    order replayed on the model ([`check_final_state`]).
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

use crate::model::{ActorKind, Driver, Expected, FailReason, Model, Op, RunView, StoreState};
use crate::world::Setup;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use workflow_core::{CallbackStatus, ExecutionState, OutboxMessage, Store, StoreResult};

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

/// A recorded concurrent history, the model state it started from, and what the store held
/// before the first call and after the last one.
#[derive(Clone, Debug)]
pub struct History {
    /// The model of the run before any call.
    pub initial: Model,
    /// Every call, in no particular order.
    pub calls: Vec<Call>,
    /// The store's row, history and outbox of the run before any call.
    pub store_before: StoreState,
    /// The same after every call returned.
    pub store_after: StoreState,
    /// The model's view of the run's final row (`None` once deleted).
    pub final_view: Option<RunView>,
}

impl History {
    /// Whether some call's invocation–response interval overlaps another call's.
    pub fn overlaps(&self) -> bool {
        self.overlapping_calls() > 0
    }

    /// How many calls overlap in time with at least one other call.
    pub fn overlapping_calls(&self) -> usize {
        let c = &self.calls;
        (0..c.len())
            .filter(|&i| {
                (0..c.len())
                    .any(|j| i != j && c[i].invoked < c[j].returned && c[j].invoked < c[i].returned)
            })
            .count()
    }
}

impl Report {
    /// The share (0.0..=1.0) of histories in which calls really overlapped.
    pub fn overlap_share(&self) -> f64 {
        if self.histories == 0 {
            return 0.0;
        }
        self.overlapping_histories as f64 / self.histories as f64
    }
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
    /// Histories in which at least one call overlapped another.
    pub overlapping_histories: usize,
    /// Calls that committed a transition (per the linearization).
    pub committing_calls: usize,
}

/// A history no serial order explains, or whose final store state is not the one the serial
/// order that explains its answers leads to.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Index of the history.
    pub index: usize,
    /// What is wrong.
    pub reason: String,
    /// The history itself.
    pub history: History,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "history {}: {} (CONC-1); it started from {:?}; calls by invocation:",
            self.index, self.reason, self.history.initial.runs
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
///
/// A worker thread that panics (in the engine, the store or the driver) keeps passing the
/// barrier of each remaining round without calling, so the others are not left waiting, and its
/// panic is raised again here once every worker has finished: a panic fails the history.
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
    let store_before = driver.state();
    let clock = AtomicU64::new(0);
    let barrier = Barrier::new(config.threads);
    let joined: Vec<std::thread::Result<Vec<Call>>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(thread, plan)| {
                let (driver, clock, barrier) = (&driver, &clock, &barrier);
                s.spawn(move || {
                    let mut calls = Vec::with_capacity(plan.len());
                    let mut panicked = None;
                    for (op, actor) in plan {
                        // Every round of calls is released together, so they overlap.
                        barrier.wait();
                        if panicked.is_some() {
                            continue;
                        }
                        let invoked = clock.fetch_add(1, Ordering::SeqCst);
                        let observed =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                driver.observe(op, *actor)
                            }));
                        let returned = clock.fetch_add(1, Ordering::SeqCst);
                        match observed {
                            Ok(answer) => calls.push(Call {
                                thread,
                                op: op.clone(),
                                actor: *actor,
                                invoked,
                                returned,
                                answer,
                            }),
                            Err(payload) => panicked = Some(payload),
                        }
                    }
                    if let Some(payload) = panicked {
                        std::panic::resume_unwind(payload);
                    }
                    calls
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut calls = Vec::new();
    for result in joined {
        match result {
            Ok(c) => calls.extend(c),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
    let store_after = driver.state();
    let final_view = store_after
        .runs
        .first()
        .and_then(Option::as_ref)
        .map(|row| driver.view(row));
    History {
        initial,
        calls,
        store_before,
        store_after,
        final_view,
    }
}

/// One outbox message as the serial order predicts it: a dispatch or a cancel of an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    Dispatch(u32),
    Cancel(u32),
}

fn message(m: &OutboxMessage) -> Message {
    match m {
        OutboxMessage::Dispatch(d) => Message::Dispatch(d.key.attempt),
        OutboxMessage::Cancel(c) => Message::Cancel(c.key.attempt),
    }
}

/// Replays `order` on the model from `history.initial` and checks that the store ended where
/// that serial order leads: the run's row (its view, or no row once deleted), one history record
/// per committed call appended in that order (seq, from, to, attempt), and the outbox messages
/// those calls queue (a dispatch per new attempt, a cancel per stop or time-out), in order.
pub fn check_final_state(history: &History, order: &[usize]) -> Result<(), String> {
    use ExecutionState as S;
    let mut model = history.initial.clone();
    let (before, after) = (&history.store_before, &history.store_after);
    let (Some(history_before), Some(history_after)) =
        (before.histories.first(), after.histories.first())
    else {
        return Err("the store knows no run".into());
    };
    let (Some(outbox_before), Some(outbox_after)) =
        (before.outboxes.first(), after.outboxes.first())
    else {
        return Err("the store knows no run".into());
    };
    let mut records = Vec::new();
    let mut messages = Vec::new();
    for &i in order {
        let c = &history.calls[i];
        let Some(prev) = model.runs.first().cloned() else {
            return Err("the model knows no run".into());
        };
        model.apply(&c.op, c.actor);
        let now = &model.runs[0];
        match now.transitions - prev.transitions {
            0 => {}
            1 => records.push((
                Some(prev.execution_state),
                (!now.deleted).then_some(now.execution_state),
                now.attempt,
            )),
            n => return Err(format!("{:?} committed {n} transitions", c.op)),
        }
        if now.attempt > prev.attempt {
            messages.push(Message::Dispatch(now.attempt));
        }
        if prev.execution_state == S::InProgress
            && now.execution_state == S::Failed
            && matches!(now.error, Some(FailReason::Stopped | FailReason::TimedOut))
        {
            messages.push(Message::Cancel(prev.attempt));
        }
    }
    let run = &model.runs[0];
    // The row.
    match (&after.runs[0], run.deleted) {
        (None, true) => {}
        (Some(_), false) => {
            let got = history.final_view.as_ref();
            if got != Some(&run.view()) {
                return Err(format!(
                    "final row {got:?}, but the serial order leads to {:?}",
                    run.view()
                ));
            }
        }
        (row, deleted) => {
            return Err(format!(
                "final row {row:?}, but the serial order leaves the run deleted = {deleted}"
            ))
        }
    }
    // The history: what was there, then one record per committing call of the order.
    let n = history_before.len();
    if history_after.get(..n) != Some(&history_before[..]) {
        return Err("the run's earlier history records changed".into());
    }
    let appended: Vec<_> = history_after[n..]
        .iter()
        .map(|r| (r.from, r.to, r.attempt))
        .collect();
    if appended != records {
        return Err(format!(
            "history appended (from, to, attempt) {appended:?}, the serial order commits \
             {records:?}"
        ));
    }
    if history_after.last().map(|r| r.seq) != Some(run.transitions) {
        return Err(format!(
            "history ends at seq {:?}, the model counts {} transitions",
            history_after.last().map(|r| r.seq),
            run.transitions
        ));
    }
    // The outbox: the earlier messages stay, then the order's, in commit order.
    let earlier: Vec<(u64, Message)> = outbox_before
        .iter()
        .map(|e| (e.seq, message(&e.message)))
        .collect();
    let now: Vec<(u64, Message)> = outbox_after
        .iter()
        .map(|e| (e.seq, message(&e.message)))
        .collect();
    if now.get(..earlier.len()) != Some(&earlier[..]) {
        return Err("the run's earlier outbox messages changed".into());
    }
    let queued: Vec<Message> = now[earlier.len()..].iter().map(|(_, m)| *m).collect();
    if queued != messages {
        return Err(format!(
            "outbox queued {queued:?}, the serial order queues {messages:?}"
        ));
    }
    Ok(())
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
            return Err(Box::new(Violation {
                index,
                reason: "no serial order explains the answers".into(),
                history,
            }));
        };
        if let Err(reason) = check_final_state(&history, &order) {
            return Err(Box::new(Violation {
                index,
                reason: format!(
                    "the store's final state disagrees with the serial order: {reason}"
                ),
                history,
            }));
        }
        report.histories += 1;
        report.calls += history.calls.len();
        let overlapping = history.overlapping_calls();
        report.overlapping_calls += overlapping;
        report.overlapping_histories += usize::from(overlapping > 0);
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
    use workflow_core::ExecutionState;

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

    /// The run of `initial` after a Start, with `version`.
    fn started_view(initial: &Model, version: u64) -> RunView {
        let mut m = initial.clone();
        match m.apply(&Op::Start { run: 0 }, ActorKind::Triggerer) {
            Expected::Run { view, .. } => {
                assert_eq!(view.execution_state, ExecutionState::InProgress);
                RunView { version, ..view }
            }
            other => panic!("start answered {other:?}"),
        }
    }

    /// CONC-3: two overlapping Starts that both claim to have committed (both answer version 3)
    /// are not linearizable; the checker must refuse the history.
    #[test]
    fn conc_3_checker_refuses_two_committing_starts() {
        let initial = Model::in_vector_state("NOT_STARTED").unwrap();
        let started = Expected::Run {
            run: 0,
            view: started_view(&initial, 2),
        };
        let ok = History {
            initial: initial.clone(),
            store_before: StoreState::default(),
            store_after: StoreState::default(),
            final_view: None,
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
            view: started_view(&initial, 3),
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
            view: initial.runs[0].view(),
        };
        let started = Expected::Run {
            run: 0,
            view: started_view(&initial, 2),
        };
        let overlapping = History {
            initial,
            store_before: StoreState::default(),
            store_after: StoreState::default(),
            final_view: None,
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

    /// A store whose reaper query panics: the panic happens on a worker thread.
    struct PanicOnReap;

    impl<S> crate::intercept::Interceptor<S> for PanicOnReap {
        fn before(&self, _: &S, call: crate::intercept::Call<'_>) -> StoreResult<()> {
            if matches!(call, crate::intercept::Call::ExpiredRuns) {
                panic!("injected panic in a worker");
            }
            Ok(())
        }
    }

    /// A worker thread that panics fails the check (the panic is not swallowed as an empty
    /// list of calls), and the other workers are not left waiting at the barrier.
    #[test]
    fn a_panicking_worker_fails_the_check() {
        let config = Config {
            histories: 3,
            ..Config::default()
        };
        let outcome = std::panic::catch_unwind(|| {
            check_store(
                || {
                    crate::intercept::Intercepted::new(
                        workflow_store_memory::MemoryStore::new(),
                        PanicOnReap,
                    )
                },
                &config,
            )
        });
        assert!(outcome.is_err(), "the worker's panic was swallowed");
    }

    /// The final store state is checked against the serial order: a history whose store lost
    /// its last history record, or gained an outbox message, or whose row moved on, is refused.
    #[test]
    fn final_state_must_follow_the_serial_order() {
        let config = Config::default();
        let mut seeds = Rng(config.seed);
        let mut checked = 0;
        for _ in 0..20 {
            let h = record(
                workflow_store_memory::MemoryStore::new(),
                &config,
                seeds.next(),
            );
            let order = linearize(&h).unwrap();
            check_final_state(&h, &order).unwrap();
            if h.store_after.histories[0].len() == h.store_before.histories[0].len() {
                continue;
            }
            let mut lost = h.clone();
            lost.store_after.histories[0].pop();
            assert!(check_final_state(&lost, &order).is_err());
            let mut extra = h.clone();
            let mut m = extra.store_after.outboxes[0][0].clone();
            m.seq += 1000;
            extra.store_after.outboxes[0].push(m);
            assert!(check_final_state(&extra, &order).is_err());
            if let Some(row) = &mut h.clone().store_after.runs[0] {
                let mut moved = h.clone();
                let mut row = row.clone();
                row.version += 1;
                moved.store_after.runs[0] = Some(row);
                if let Some(v) = moved.final_view.as_mut() {
                    v.version += 1;
                }
                assert!(check_final_state(&moved, &order).is_err());
            }
            checked += 1;
        }
        assert!(checked > 0, "no history committed anything");
    }
}
