//! Deterministic simulation on the memory store: one `u64` seed drives a random schedule of
//! operations and faults, and the same seed always replays the same schedule.
//!
//! Faults: a dispatcher that fails, that times out after succeeding (it recorded the delivery but
//! answers `Err`), that delivers twice, or late (the runner sees the attempt only some steps
//! later); late, duplicate and stale-attempt callbacks from a simulated runner; clock jumps;
//! reaper sweeps (`reap_expired`); relay passes (`relay_outbox`); a store whose commit sometimes
//! answers a version conflict without writing (the engine must reload and decide again) or fails
//! as unavailable (the call must fail having written nothing).
//!
//! Checked after every step, for every run:
//! * CONC-5: a run IN_PROGRESS has a dispatch of its current attempt in the outbox (queued or
//!   delivered); CONC-3: exactly one dispatch is queued per attempt, however often the relay
//!   redelivers it;
//! * CONC-2, CB-3, CB-4, REAP-2, STOP-2: at most one terminal write per attempt (history), and a
//!   runner's callback never fails except as `not_found` (run deleted) or `service_unavailable`
//!   (injected);
//! * AUDIT-1: history is seq 1..=version, chained from/to, with no gaps;
//! * SNAP-7: a snapshot never changes after Start (Retry reuses it);
//! * section 2: COMPLETED stays COMPLETED;
//! * ERR-2: a call that failed wrote nothing; ERR-1: no call answers `internal_error`;
//! * the answer agrees with the store after the step: a run the call answered is exactly the
//!   row `load_run` returns; a refusal is `not_found` exactly when the run has no row (VIS-1,
//!   DELETE-3); a deleted run has no row; a run a sweep reports reaped is FAILED (REAP-1).
//!
//! Schedules (SCHED-3, SCHED-4): the world holds one more definition, `nightly`, with a DAILY
//! schedule (UTC, first occurrence within the seed's first hour). A random step fires the due
//! schedules (`fire_due_schedules`), sometimes after a downtime of one to three days, and
//! sometimes twice at the same clock. The model predicts each firing exactly: the occurrence is
//! the latest `start + k days` at or before now; one it already fired answers `AlreadyFired` with
//! its run (so a second pass at the same clock creates nothing); a new one skips exactly the
//! occurrences since the last one that fired (SCHED-4) and either starts a run, leaves it
//! NOT_STARTED (`StartRefused`, an injected store failure) or creates nothing (`CreateFailed`).
//! After every step the definition's runs are exactly the occurrences that fired, one run each,
//! keyed `schedule:<occurrence>` and triggered by the owner (SCHED-3); scheduled runs take part
//! in the other steps (but are never deleted) and so in every invariant above.
//!
//! At the end of each seed the faults stop and the relay drains the outbox: every queued
//! message is delivered at least once (CONC-5).
//!
//! `SIM_SEEDS` (default 10000) seeds are run; `SIM_SEED=<n>` replays one. A failure names its
//! seed. A run of 100 seeds or more must also reach every outcome the invariants are about
//! (starts, stops, updated/already-terminal/stale callbacks, retries, deletes, time-outs,
//! injected store failures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_conformance::world::World;
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug)]
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
    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Fault rates of one seed, in percent.
#[derive(Clone, Copy, Debug, Default)]
struct Rates {
    dispatch_fail: u64,
    dispatch_timeout: u64,
    dispatch_twice: u64,
    dispatch_late: u64,
    commit_conflict: u64,
    commit_unavailable: u64,
}

/// The seed's randomness, shared by the schedule, the dispatcher and the store.
#[derive(Debug)]
struct Faults {
    rng: Mutex<Rng>,
    rates: Rates,
    on: AtomicBool,
    /// Commits to let through before one injected `unavailable` (for targeted tests).
    fail_commit_after: Mutex<Option<u32>>,
}

impl Faults {
    fn roll(&self, percent: u64) -> bool {
        self.on.load(Ordering::SeqCst) && self.rng.lock().unwrap().chance(percent)
    }
}

/// The runner side of the dispatcher.
#[derive(Debug)]
struct SimDispatcher {
    faults: Arc<Faults>,
    /// Attempts the runner has seen (duplicates included).
    seen: Mutex<Vec<DispatchKey>>,
    /// Attempts delivered but not yet seen by the runner.
    late: Mutex<Vec<DispatchKey>>,
    /// Every key the dispatcher ever accepted or recorded.
    handed: Mutex<BTreeSet<DispatchKey>>,
}

impl Dispatcher for SimDispatcher {
    fn dispatch(&self, m: &Dispatch) -> Result<(), DispatchError> {
        let f = &self.faults;
        if f.roll(f.rates.dispatch_fail) {
            return Err(DispatchError {
                retryable: true,
                message: "runner unreachable".into(),
                retry_after: None,
            });
        }
        self.handed.lock().unwrap().insert(m.key);
        if f.roll(f.rates.dispatch_late) {
            self.late.lock().unwrap().push(m.key);
        } else {
            self.seen.lock().unwrap().push(m.key);
            if f.roll(f.rates.dispatch_twice) {
                self.seen.lock().unwrap().push(m.key);
            }
        }
        if f.roll(f.rates.dispatch_timeout) {
            return Err(DispatchError {
                retryable: true,
                message: "timed out after delivery".into(),
                retry_after: None,
            });
        }
        Ok(())
    }
    fn cancel(&self, _: &Cancel) -> Result<(), DispatchError> {
        let f = &self.faults;
        if f.roll(f.rates.dispatch_fail) {
            return Err(DispatchError {
                retryable: true,
                message: "runner unreachable".into(),
                retry_after: None,
            });
        }
        Ok(())
    }
}

/// The memory store whose commit sometimes answers a version conflict without writing, or fails.
type FlakyStore = Intercepted<MemoryStore, Flaky>;

/// The faults of [`FlakyStore`].
struct Flaky {
    faults: Arc<Faults>,
    /// Targeted race: when this path part is next looked up, the run is deleted first (as a
    /// concurrent Delete that committed between the engine's load and its lookup would).
    delete_on_lookup: Mutex<Option<(PathPartId, TenantId, RunId)>>,
}

/// Commits the deletion of `run` straight to the store (DELETE-3's commit), bypassing the
/// engine: the stand-in for a Delete by another thread.
fn delete_behind_the_engines_back(store: &MemoryStore, tenant: TenantId, run: RunId) {
    let r = store.load_run(tenant, run).unwrap().unwrap();
    let mut catalog: Vec<CatalogWrite> = store
        .descendants(tenant, run.into())
        .unwrap()
        .iter()
        .rev()
        .map(|p| CatalogWrite::RemovePart(tenant, p.id))
        .collect();
    catalog.push(CatalogWrite::RemovePart(tenant, run.into()));
    let commit = Commit {
        tenant_id: tenant,
        run_id: run,
        expected_version: r.version,
        write: RunWrite::Delete,
        history: HistoryRecord {
            run_id: run,
            tenant_id: tenant,
            seq: r.version + 1,
            from: Some(r.execution_state),
            to: None,
            event: Event::Deleted,
            actor: ActorStamp::SYSTEM,
            at: r.updated_at,
            attempt: r.attempt,
            reason: None,
        },
        outbox: vec![],
        catalog,
        keys_unchanged: false,
    };
    assert_eq!(store.commit(commit).unwrap(), CommitOutcome::Committed);
}

impl Interceptor<MemoryStore> for Flaky {
    fn before(&self, inner: &MemoryStore, call: Call<'_>) -> StoreResult<()> {
        let Call::PathPart(_, id) = call else {
            return Ok(());
        };
        let race = {
            let mut hook = self.delete_on_lookup.lock().unwrap();
            match *hook {
                Some((part, t, run)) if part == id => {
                    *hook = None;
                    Some((t, run))
                }
                _ => None,
            }
        };
        if let Some((t, run)) = race {
            delete_behind_the_engines_back(inner, t, run);
        }
        Ok(())
    }

    fn commit(&self, inner: &MemoryStore, commit: &Commit) -> Option<StoreResult<CommitOutcome>> {
        let f = &self.faults;
        if f.roll(f.rates.commit_conflict) {
            let current = match inner.load_run(commit.tenant_id, commit.run_id) {
                Ok(run) => run.map(|r| r.version),
                Err(e) => return Some(Err(e)),
            };
            return Some(Ok(CommitOutcome::Conflict(ConflictKind::Version {
                current,
            })));
        }
        let scheduled = {
            let mut g = f.fail_commit_after.lock().unwrap();
            match *g {
                Some(0) => {
                    *g = None;
                    true
                }
                Some(n) => {
                    *g = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        if scheduled || f.roll(f.rates.commit_unavailable) {
            return Some(Err(StoreError::unavailable("injected: database is locked")));
        }
        None
    }
}

/// What the store holds about one run.
#[derive(Clone, Debug, PartialEq)]
struct RunState {
    row: Option<Run>,
    history: Vec<HistoryRecord>,
    outbox: Vec<OutboxEntry>,
}

/// What a step's engine call answered about a run, compared with the store after the step.
#[derive(Debug)]
enum Answer {
    /// No engine call on a run (or a create that failed).
    Nothing,
    /// The call answered this run.
    Run(Box<Run>),
    /// The call succeeded on this run without answering it (an output write): the row exists.
    Exists(RunId),
    /// The run was deleted (DELETE-3): its row is gone.
    Deleted(RunId),
    /// The call on this run was refused with this code.
    Refused(RunId, ErrorCode),
    /// A reaper sweep failed exactly these runs.
    Reaped(Vec<RunId>),
}

impl Answer {
    fn of(id: RunId, r: &Result<Run, Error>) -> Answer {
        match r {
            Ok(run) => Answer::Run(Box::new(run.clone())),
            Err(e) => Answer::Refused(id, e.code()),
        }
    }
}

struct Sim {
    world: World<Arc<FlakyStore>>,
    engine: Engine<Arc<FlakyStore>>,
    faults: Arc<Faults>,
    dispatcher: Arc<SimDispatcher>,
    runs: Vec<RunId>,
    uploads: HashMap<RunId, PathPartId>,
    snapshots: HashMap<RunId, Snapshot>,
    /// The DAILY-scheduled definition.
    nightly: Definition,
    /// Its first occurrence.
    nightly_start: Timestamp,
    /// The model of its runs: every occurrence the scheduler reported as fired, and its run.
    fired: std::collections::BTreeMap<Timestamp, RunId>,
    /// How often each kind of step ended which way (printed, to see what the seeds exercise).
    stats: std::collections::BTreeMap<String, usize>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng(seed);
        let mut pick = |max: u64| rng.next() % (max + 1);
        let rates = Rates {
            dispatch_fail: pick(40),
            dispatch_timeout: pick(30),
            dispatch_twice: pick(30),
            dispatch_late: pick(30),
            commit_conflict: pick(30),
            commit_unavailable: pick(10),
        };
        let relay_after_commit = pick(3) != 0;
        let nightly_after = 1 + pick(3600) as i64;
        let faults = Arc::new(Faults {
            rng: Mutex::new(rng),
            rates,
            on: AtomicBool::new(false),
            fail_commit_after: Mutex::new(None),
        });
        let store = Arc::new(Intercepted::new(
            MemoryStore::new(),
            Flaky {
                faults: faults.clone(),
                delete_on_lookup: Mutex::new(None),
            },
        ));
        let world = World::new(store.clone());
        let dispatcher = Arc::new(SimDispatcher {
            faults: faults.clone(),
            seen: Mutex::new(Vec::new()),
            late: Mutex::new(Vec::new()),
            handed: Mutex::new(BTreeSet::new()),
        });
        let engine = Engine::new(store)
            .with_clock(world.clock.clone())
            .with_dispatcher(dispatcher.clone())
            .with_ids(Arc::new(SeqIds::new(seed)))
            .with_config(EngineConfig {
                relay_after_commit,
                // The simulated runner fails only transiently and the model knows no dead
                // letters (the conformance cases cover DISP-5): retry for ever.
                relay: workflow_core::rules::RelayPolicy {
                    max_tries: u32::MAX,
                    ..Default::default()
                },
                ..EngineConfig::default()
            });
        // Created through the world's engine (own ids), before the faults are on.
        let nightly_start = world.clock.now() + chrono::Duration::seconds(nightly_after);
        let nightly = world
            .engine
            .create_definition(
                &world.owner,
                NewDefinition {
                    parent_id: world.eng.id,
                    name: "nightly".into(),
                    instruction_id: Some(world.instruction.id),
                    max_run_duration_seconds: Some(600),
                    is_active: true,
                    schedule: ScheduleFields {
                        cadence: Some(ScheduleCadence::Daily),
                        start_at: Some(nightly_start),
                        timezone: Some("UTC".into()),
                    },
                    ..NewDefinition::default()
                },
            )
            .unwrap();
        faults.on.store(true, Ordering::SeqCst);
        Sim {
            nightly,
            nightly_start,
            fired: std::collections::BTreeMap::new(),
            world,
            engine,
            faults,
            dispatcher,
            runs: Vec::new(),
            uploads: HashMap::new(),
            snapshots: HashMap::new(),
            stats: std::collections::BTreeMap::new(),
        }
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, Rng> {
        self.faults.rng.lock().unwrap()
    }

    fn state(&self) -> Vec<RunState> {
        let s = self.engine.store();
        let t = self.world.tenant;
        self.runs
            .iter()
            .map(|id| RunState {
                row: s.load_run(t, *id).unwrap(),
                history: s.history(t, *id).unwrap(),
                outbox: s.outbox_for_run(t, *id).unwrap(),
            })
            .collect()
    }

    fn any_run(&self) -> Option<RunId> {
        let i = self.rng().below(self.runs.len());
        self.runs.get(i).copied()
    }

    /// The runner's token for a run: it acts as the run's triggerer (the owner for a scheduled
    /// run, SCHED-3).
    fn runner_for(&self, run: RunId) -> Actor {
        if self.fired.values().any(|id| *id == run) {
            self.world.owner.clone().assumed()
        } else {
            self.world.triggerer.clone().assumed()
        }
    }

    fn manager(&self) -> Actor {
        if self.rng().chance(70) {
            self.world.triggerer.clone()
        } else {
            self.world.owner.clone()
        }
    }

    /// One scheduled step; returns its label, for an engine call whether it failed and with
    /// what, and what it answered about the run it was aimed at.
    fn step(&mut self) -> Result<(String, Option<Error>, Answer), String> {
        let roll = self.rng().below(107);
        let creating = self.runs.len() - self.fired.len() < 4;
        let e = &self.engine;
        let mut answer = Answer::Nothing;
        let res: Result<(), Error> = match roll {
            0..=9 if creating => {
                let with_upload = self.rng().chance(30);
                let cmd = CreateRun {
                    auto_start: self.rng().chance(50),
                    uploads: if with_upload {
                        vec![NewUpload {
                            name: "in.txt".into(),
                            ingestion: Ingestion::Processing,
                        }]
                    } else {
                        vec![]
                    },
                    ..CreateRun::default()
                };
                let def = if self.rng().chance(50) {
                    self.world.def.id
                } else {
                    self.world.def_plain.id
                };
                let r = e.create_run(&self.world.triggerer, def, cmd);
                if let Ok(run) = &r {
                    answer = Answer::Run(Box::new(run.clone()));
                    self.runs.push(run.id);
                    if with_upload {
                        self.uploads.insert(run.id, self.world.upload_version(run));
                    }
                }
                r.map(|_| ())
            }
            0..=24 => match self.any_run() {
                Some(id) => {
                    let r = e.start_run(&self.manager(), id, StartRun::default());
                    answer = Answer::of(id, &r);
                    r.map(|_| ())
                }
                None => Ok(()),
            },
            25..=32 => match self.any_run() {
                Some(id) => {
                    let r = e.stop_run(&self.manager(), id);
                    answer = Answer::of(id, &r);
                    r.map(|_| ())
                }
                None => Ok(()),
            },
            33..=52 => {
                // The runner reports on an attempt it has seen: maybe stale, maybe a duplicate.
                let seen = self.dispatcher.seen.lock().unwrap().clone();
                if seen.is_empty() {
                    return Ok(("callback (nothing seen)".into(), None, Answer::Nothing));
                }
                let key = seen[self.rng().below(seen.len())];
                let status = if self.rng().chance(60) {
                    CallbackStatus::Completed
                } else {
                    CallbackStatus::Failed
                };
                let attempt = (!self.rng().chance(10)).then_some(key.attempt);
                let cmd = Callback {
                    status,
                    error: None,
                    attempt,
                };
                let actor = self.runner_for(key.run_id);
                let r = e.callback(&actor, key.run_id, cmd);
                answer = match &r {
                    Ok(a) => Answer::Run(Box::new(a.run.clone())),
                    Err(err) => Answer::Refused(key.run_id, err.code()),
                };
                if let Ok(answer) = &r {
                    *self
                        .stats
                        .entry(format!("callback {}", answer.outcome))
                        .or_default() += 1;
                }
                if let Err(err) = &r {
                    if !matches!(
                        err.code(),
                        ErrorCode::NotFound | ErrorCode::ServiceUnavailable
                    ) {
                        return Err(format!("CB-3/CB-4: runner callback {key:?} failed: {err}"));
                    }
                }
                r.map(|_| ())
            }
            56..=57 => {
                // The runner writes an output for an attempt it has seen (maybe long over).
                let seen = self.dispatcher.seen.lock().unwrap().clone();
                let pick = self.rng().below(seen.len().max(1));
                match seen.get(pick) {
                    Some(key) => {
                        let name = format!("out-{}.md", self.rng().next());
                        let actor = self.runner_for(key.run_id);
                        let r = e.add_output(&actor, key.run_id, &name).map(|_| ());
                        answer = match &r {
                            Ok(()) => Answer::Exists(key.run_id),
                            Err(err) => Answer::Refused(key.run_id, err.code()),
                        };
                        r
                    }
                    None => Ok(()),
                }
            }
            53..=55 => {
                let mut late = self.dispatcher.late.lock().unwrap();
                if !late.is_empty() {
                    let i = self.faults.rng.lock().unwrap().below(late.len());
                    let key = late.remove(i);
                    self.dispatcher.seen.lock().unwrap().push(key);
                }
                Ok(())
            }
            58..=64 => match self.any_run() {
                Some(id) => {
                    let r = e.retry_run(&self.manager(), id);
                    answer = Answer::of(id, &r);
                    r.map(|_| ())
                }
                None => Ok(()),
            },
            65..=72 => {
                let s = self.rng().below(1500) as i64;
                self.world.clock.advance(chrono::Duration::seconds(s));
                Ok(())
            }
            73..=80 => e
                .reap_expired()
                .map(|reaped| answer = Answer::Reaped(reaped)),
            81..=90 => e.relay_outbox().map(|_| ()),
            // Scheduled runs are never deleted: the scheduler would fire a deleted occurrence again.
            91..=94 => match self
                .any_run()
                .filter(|id| !self.fired.values().any(|s| s == id))
            {
                Some(id) => {
                    let r = e.delete_run(&self.manager(), id);
                    answer = match &r {
                        Ok(()) => Answer::Deleted(id),
                        Err(err) => Answer::Refused(id, err.code()),
                    };
                    r
                }
                None => Ok(()),
            },
            100..=106 => {
                if self.rng().chance(25) {
                    // Downtime: one to three days pass before the scheduler runs (SCHED-4).
                    let secs = 86_400 + self.rng().below(2 * 86_400) as i64;
                    self.world.clock.advance(chrono::Duration::seconds(secs));
                }
                let twice = self.rng().chance(50);
                let first = self.engine.fire_due_schedules();
                if let Ok(report) = &first {
                    self.expect_firing(report)?;
                    if twice {
                        let fired = self.fired.clone();
                        let again = self
                            .engine
                            .fire_due_schedules()
                            .map_err(|e| e.to_string())?;
                        self.expect_firing(&again)?;
                        let created = again.count(|o| {
                            matches!(o, FireOutcome::Started | FireOutcome::StartRefused(_))
                        });
                        if report.count(|o| !matches!(o, FireOutcome::CreateFailed(_))) > 0
                            && (created > 0 || self.fired != fired)
                        {
                            return Err(format!(
                                "SCHED-3: a second pass at the same clock created a run: \
                                 {report:?} then {again:?}"
                            ));
                        }
                        *self
                            .stats
                            .entry("schedule fired twice at one clock".into())
                            .or_default() += 1;
                    }
                }
                first.map(|_| ())
            }
            _ => {
                let id = self.any_run();
                match id.and_then(|id| self.uploads.get(&id).map(|v| (id, *v))) {
                    Some((id, v)) => {
                        let status = if self.rng().chance(75) {
                            Ingestion::Completed
                        } else {
                            Ingestion::Failed
                        };
                        let r = e.set_upload_ingestion(self.world.tenant, v, status);
                        answer = Answer::of(id, &r);
                        r.map(|_| ())
                    }
                    None => Ok(()),
                }
            }
        };
        let label = match roll {
            0..=9 if creating => "create",
            0..=24 => "start",
            25..=32 => "stop",
            33..=52 => "callback",
            53..=55 => "late delivery",
            56..=57 => "output",
            58..=64 => "retry",
            65..=72 => "clock jump",
            73..=80 => "reap",
            81..=90 => "relay",
            91..=94 => "delete",
            100..=106 => "schedule",
            _ => "ingestion",
        };
        let outcome = match &res {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.code().to_string(),
        };
        *self.stats.entry(format!("{label} {outcome}")).or_default() += 1;
        if let Err(err) = &res {
            if err.code() == ErrorCode::InternalError {
                return Err(format!("ERR-1: {label} answered internal_error: {err}"));
            }
        }
        Ok((label.to_owned(), res.err(), answer))
    }

    /// The model's prediction of one pass of the scheduler, checked against its report; a run it
    /// created joins the simulated runs (SCHED-3, SCHED-4).
    fn expect_firing(&mut self, report: &FireReport) -> Result<(), String> {
        let now = self.world.clock.now();
        let start = self.nightly_start;
        let expected = (now >= start).then(|| {
            let k = (now - start).num_seconds().div_euclid(86_400);
            start + chrono::Duration::days(k)
        });
        let (f, occurrence) = match (report.firings.as_slice(), expected) {
            ([], None) => return Ok(()),
            ([f], Some(o)) if f.definition_id == self.nightly.id && f.occurrence == o => (f, o),
            _ => {
                return Err(format!(
                    "SCHED-3: at {now} the model expects a firing of {expected:?} only; \
                     the report is {report:?}"
                ))
            }
        };
        if let Some(run) = self.fired.get(&occurrence) {
            if f.outcome != FireOutcome::AlreadyFired || f.run_id != Some(*run) || f.skipped != 0 {
                return Err(format!(
                    "SCHED-3: occurrence {occurrence} fired before (run {run}), now {f:?}"
                ));
            }
            *self
                .stats
                .entry("schedule already fired".into())
                .or_default() += 1;
            return Ok(());
        }
        // Only the latest missed occurrence fires; the ones since the last that fired (or since
        // the first occurrence) are skipped (SCHED-4).
        let skipped = match self.fired.keys().next_back() {
            Some(last) => (occurrence - *last).num_days() - 1,
            None => (occurrence - start).num_days(),
        };
        if f.skipped != skipped as u64 {
            return Err(format!(
                "SCHED-4: occurrence {occurrence} skipped {} occurrences, the model {skipped}: \
                 {f:?}",
                f.skipped
            ));
        }
        if skipped > 0 {
            *self.stats.entry("schedule caught up".into()).or_default() += 1;
        }
        let state = match &f.outcome {
            FireOutcome::Started => ExecutionState::InProgress,
            FireOutcome::StartRefused(_) => ExecutionState::NotStarted,
            FireOutcome::CreateFailed(_) => {
                *self
                    .stats
                    .entry("schedule create failed".into())
                    .or_default() += 1;
                return Ok(());
            }
            other => {
                return Err(format!(
                    "SCHED-3: occurrence {occurrence} never fired: {other:?}"
                ))
            }
        };
        let id = f
            .run_id
            .ok_or_else(|| format!("SCHED-3: {f:?} names no run"))?;
        let run = self
            .engine
            .store()
            .load_run(self.world.tenant, id)
            .unwrap()
            .ok_or_else(|| format!("SCHED-3: {f:?}: the run has no row"))?;
        if run.execution_state != state {
            return Err(format!(
                "SCHED-3: {f:?}: the run is {}, not {state}",
                run.execution_state
            ));
        }
        *self.stats.entry(format!("schedule {state}")).or_default() += 1;
        self.fired.insert(occurrence, id);
        self.runs.push(id);
        Ok(())
    }

    /// SCHED-3 after every step: the scheduled definition's runs are exactly the occurrences
    /// that fired, one run each, keyed `schedule:<occurrence>` and triggered by the owner.
    fn check_schedules(&self) -> Result<(), String> {
        let page = self
            .engine
            .store()
            .list_runs(&RunQuery {
                definition_id: Some(self.nightly.id),
                limit: 1000,
                ..RunQuery::all(self.world.tenant)
            })
            .unwrap();
        let mut runs = std::collections::BTreeMap::new();
        for run in &page.items {
            let key = run.idempotency_key.clone().unwrap_or_default();
            if run.triggered_by != self.world.owner.user_id {
                return Err(format!(
                    "SCHED-3: run {} not triggered by the owner",
                    run.id
                ));
            }
            if let Some(other) = runs.insert(key.clone(), run.id) {
                return Err(format!(
                    "SCHED-3: two runs ({other}, {}) for one occurrence ({key:?})",
                    run.id
                ));
            }
        }
        let expected: std::collections::BTreeMap<String, RunId> = self
            .fired
            .iter()
            .map(|(o, id)| {
                let t = o.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (format!("schedule:{t}"), *id)
            })
            .collect();
        if runs != expected {
            return Err(format!(
                "SCHED-3: the scheduled runs are {runs:?}; the occurrences that fired {expected:?}"
            ));
        }
        Ok(())
    }

    /// The step's answer against the store after the step: an answered run is exactly the row
    /// `load_run` now returns; a refusal is `not_found` exactly when the run has no row; a
    /// deletion leaves no row; a reaped run is FAILED.
    fn check_answer(&self, answer: &Answer) -> Result<(), String> {
        let t = self.world.tenant;
        let load = |id| {
            self.engine
                .store()
                .load_run(t, id)
                .map_err(|e| format!("load_run {id}: {e}"))
        };
        match answer {
            Answer::Nothing => {}
            Answer::Run(run) => match load(run.id)? {
                Some(row) if row == **run => {}
                Some(row) => {
                    return Err(format!(
                        "answered run {} at version {} ({}), the store holds version {} ({}): \
                         answered {run:?}, stored {row:?}",
                        run.id, run.version, run.execution_state, row.version, row.execution_state
                    ))
                }
                None => return Err(format!("answered run {}, which has no row", run.id)),
            },
            Answer::Exists(id) => {
                if load(*id)?.is_none() {
                    return Err(format!("answered ok on run {id}, which has no row"));
                }
            }
            Answer::Deleted(id) => {
                if load(*id)?.is_some() {
                    return Err(format!(
                        "DELETE-3: run {id} deleted, but its row is still there"
                    ));
                }
            }
            Answer::Refused(id, code) => {
                let exists = load(*id)?.is_some();
                if (*code == ErrorCode::NotFound) == exists {
                    return Err(format!(
                        "VIS-1: run {id} answered {code} while its row {}",
                        if exists { "exists" } else { "is gone" }
                    ));
                }
            }
            Answer::Reaped(ids) => {
                for id in ids {
                    match load(*id)? {
                        Some(row) if row.execution_state == ExecutionState::Failed => {}
                        row => {
                            return Err(format!(
                                "REAP-1: run {id} reported reaped, but its row is {:?}",
                                row.map(|r| r.execution_state)
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn check(
        &mut self,
        before: &[RunState],
        after: &[RunState],
        failed: bool,
    ) -> Result<(), String> {
        use ExecutionState as S;
        if failed && before[..] != after[..before.len()] {
            return Err("ERR-2: a failed call wrote something".into());
        }
        for (i, st) in after.iter().enumerate() {
            let id = self.runs[i];
            let mut prev = None;
            let mut terminal_per_attempt: HashMap<u32, u32> = HashMap::new();
            for (k, r) in st.history.iter().enumerate() {
                if r.seq != k as u64 + 1 || r.from != prev {
                    return Err(format!("AUDIT-1: run {id}: gap or break at {k}"));
                }
                prev = r.to;
                if is_terminal_event(r.event) {
                    let n = terminal_per_attempt.entry(r.attempt).or_default();
                    *n += 1;
                    if *n > 1 {
                        return Err(format!(
                            "CONC-2: run {id}: two terminal writes for attempt {}",
                            r.attempt
                        ));
                    }
                }
            }
            let attempts = st.history.last().map_or(0, |r| r.attempt);
            let dispatched: Vec<u32> = st
                .outbox
                .iter()
                .filter_map(|e| match &e.message {
                    OutboxMessage::Dispatch(d) => Some(d.key.attempt),
                    OutboxMessage::Cancel(_) => None,
                })
                .collect();
            if dispatched != (1..=attempts).collect::<Vec<_>>() {
                return Err(format!(
                    "CONC-3: run {id}: dispatches {dispatched:?} for {attempts} attempts"
                ));
            }
            let Some(run) = &st.row else { continue };
            if st.history.last().map(|r| r.seq) != Some(run.version) {
                return Err(format!(
                    "AUDIT-1: run {id}: version {} vs history",
                    run.version
                ));
            }
            if run.execution_state == S::InProgress
                && !st.outbox.iter().any(|e| {
                    matches!(&e.message, OutboxMessage::Dispatch(d) if d.key.attempt == run.attempt)
                })
            {
                return Err(format!(
                    "CONC-5: run {id} IN_PROGRESS without a dispatch of attempt {}",
                    run.attempt
                ));
            }
            if let Some(b) = before.get(i).and_then(|b| b.row.as_ref()) {
                if b.execution_state == S::Completed && run.execution_state != S::Completed {
                    return Err(format!("run {id}: left COMPLETED"));
                }
            }
            match (&run.snapshot, self.snapshots.get(&id)) {
                (Some(s), Some(first)) if s != first => {
                    return Err(format!("SNAP-7: run {id}: snapshot changed"))
                }
                (None, Some(_)) => return Err(format!("SNAP-7: run {id}: snapshot vanished")),
                (Some(s), None) => {
                    self.snapshots.insert(id, s.clone());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Faults off; the relay drains the outbox; every queued message reached the dispatcher.
    fn drain(&mut self) -> Result<(), String> {
        self.faults.on.store(false, Ordering::SeqCst);
        for _ in 0..4 {
            // Past every backoff (DISP-4), then a pass.
            let pending = self.engine.store().outbox_pending(1000).unwrap();
            if let Some(t) = pending.iter().filter_map(|e| e.next_try_at).max() {
                if t > self.world.clock.now() {
                    self.world.clock.set(t);
                }
            }
            self.engine.relay_outbox().map_err(|e| e.to_string())?;
        }
        let pending = self.engine.store().outbox_pending(1000).unwrap();
        if !pending.is_empty() {
            return Err(format!(
                "CONC-5: {} messages never delivered",
                pending.len()
            ));
        }
        let handed = self.dispatcher.handed.lock().unwrap();
        for st in self.state() {
            for entry in &st.outbox {
                if let OutboxMessage::Dispatch(d) = &entry.message {
                    if !handed.contains(&d.key) {
                        return Err(format!("CONC-5: dispatch {:?} never handed over", d.key));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Runs one seed; `Err` describes the first broken invariant and the step it broke at.
fn run_seed(seed: u64) -> Result<(usize, std::collections::BTreeMap<String, usize>), String> {
    let mut sim = Sim::new(seed);
    let steps = 20 + (sim.rng().next() % 30) as usize;
    for n in 0..steps {
        let before = sim.state();
        let (label, err, answer) = sim.step().map_err(|e| format!("step {n}: {e}"))?;
        let after = sim.state();
        sim.check(&before, &after, err.is_some())
            .map_err(|e| format!("step {n} ({label}, error {err:?}): {e}"))?;
        sim.check_answer(&answer)
            .map_err(|e| format!("step {n} ({label}): the answer disagrees with the store: {e}"))?;
        sim.check_schedules()
            .map_err(|e| format!("step {n} ({label}): {e}"))?;
        if !matches!(answer, Answer::Nothing) {
            *sim.stats
                .entry("answers checked against the store".into())
                .or_default() += 1;
        }
    }
    sim.drain()?;
    let reaped = sim
        .state()
        .iter()
        .flat_map(|s| s.history.clone())
        .filter(|r| r.event == Event::TimedOut)
        .count();
    *sim.stats.entry("runs timed out".into()).or_default() += reaped;
    Ok((steps, sim.stats))
}

type Stats = std::collections::BTreeMap<String, usize>;

fn run_seed_catching(seed: u64) -> Result<(usize, Stats), String> {
    std::panic::catch_unwind(|| run_seed(seed))
        .unwrap_or_else(|p| Err(format!("panicked: {:?}", p.downcast_ref::<String>())))
}

/// The one seed `SIM_SEED` names, if set (a value that is not a number is an error).
fn replay_seed() -> Option<u64> {
    let v = std::env::var("SIM_SEED").ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|e| panic!("SIM_SEED={v:?} is not a seed: {e}")),
    )
}

/// CONC-2, CONC-5, AUDIT-1, SNAP-7, ERR-2, CB-3, CB-4, REAP-2, SCHED-3, SCHED-4: `SIM_SEEDS` seeds (default
/// 10000), or the one `SIM_SEED` names, each a random schedule of operations and faults.
#[test]
fn seeded_simulation_keeps_every_invariant() {
    let seeds: Vec<u64> = match replay_seed() {
        Some(s) => vec![s],
        None => (0..workflow_conformance::env_count("SIM_SEEDS", 10_000)).collect(),
    };
    // Two workers: the seeds are independent, and each one is deterministic on its own.
    let failures = Mutex::new(Vec::new());
    let steps = std::sync::atomic::AtomicUsize::new(0);
    let stats = Mutex::new(Stats::new());
    std::thread::scope(|s| {
        for w in 0..2 {
            let (seeds, failures, steps, stats) = (&seeds, &failures, &steps, &stats);
            s.spawn(move || {
                for seed in seeds.iter().skip(w).step_by(2) {
                    match run_seed_catching(*seed) {
                        Ok((n, st)) => {
                            steps.fetch_add(n, Ordering::Relaxed);
                            let mut all = stats.lock().unwrap();
                            for (k, v) in st {
                                *all.entry(k).or_default() += v;
                            }
                        }
                        Err(e) => failures.lock().unwrap().push((*seed, e)),
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    if let Some((seed, e)) = failures.first() {
        panic!(
            "{} of {} seeds failed; first: seed {seed}: {e}\n\
             replay: SIM_SEED={seed} cargo test -p workflow-conformance --test simulation",
            failures.len(),
            seeds.len()
        );
    }
    let steps = steps.into_inner();
    let stats = stats.into_inner().unwrap();
    eprintln!(
        "simulation: {} seeds, {steps} steps, all invariants held; outcomes: {stats:#?}",
        seeds.len(),
    );
    // The schedules must reach what the invariants are about; a change that made, say, every
    // callback stale or every commit fail would otherwise pass unnoticed. (Not for a short run:
    // a handful of seeds may miss a rare outcome.)
    if seeds.len() >= 100 {
        let needed = [
            "answers checked against the store",
            "start ok",
            "start service_unavailable",
            "stop ok",
            "callback updated",
            "callback already_terminal",
            "callback stale_attempt",
            "retry ok",
            "delete ok",
            "ingestion ok",
            "output ok",
            "runs timed out",
            "schedule IN_PROGRESS",
            "schedule already fired",
            "schedule caught up",
            "schedule fired twice at one clock",
        ];
        let missing: Vec<&str> = needed
            .into_iter()
            .filter(|k| stats.get(*k).copied().unwrap_or(0) == 0)
            .collect();
        assert!(
            missing.is_empty(),
            "{} seeds never reached {missing:?}",
            seeds.len()
        );
    }
}

/// The same seed replays the same schedule: the run histories come out identical.
#[test]
fn a_seed_replays_identically() {
    let histories = |seed| {
        let mut sim = Sim::new(seed);
        for _ in 0..40 {
            let _ = sim.step();
        }
        sim.state()
            .into_iter()
            .map(|s| {
                s.history
                    .into_iter()
                    .map(|r| (r.seq, r.from, r.to, r.event, r.attempt))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    for seed in [1, 7, 42] {
        assert_eq!(histories(seed), histories(seed), "seed {seed}");
    }
}

/// ERR-2, REAP-2: a store failure in the middle of a reaper sweep. The sweep answers `Err` only
/// when it wrote nothing; otherwise it answers exactly the runs it failed, and the run the store
/// refused stays IN_PROGRESS for the next sweep.
#[test]
fn err_2_reaper_sweep_interrupted_by_the_store() {
    let mut sim = Sim::new(0);
    sim.faults.on.store(false, Ordering::SeqCst);
    let t = sim.world.triggerer.clone();
    for _ in 0..2 {
        let run = sim
            .engine
            .create_run(&t, sim.world.def.id, CreateRun::default())
            .unwrap();
        sim.engine
            .start_run(&t, run.id, StartRun::default())
            .unwrap();
        sim.runs.push(run.id);
    }
    sim.world.clock.advance(chrono::Duration::hours(1));
    *sim.faults.fail_commit_after.lock().unwrap() = Some(1);
    let before = sim.state();
    let answer = sim.engine.reap_expired();
    let failed: Vec<RunId> = sim
        .state()
        .iter()
        .zip(&sim.runs)
        .filter(|(s, _)| s.row.as_ref().unwrap().execution_state == ExecutionState::Failed)
        .map(|(_, id)| *id)
        .collect();
    match answer {
        Err(e) => assert!(sim.state() == before, "answered {e} but wrote something"),
        Ok(reaped) => assert_eq!(reaped, failed, "the answer names exactly the reaped runs"),
    }
    assert_eq!(
        failed.len(),
        1,
        "the first commit went through, the second was refused"
    );
    assert_eq!(
        sim.engine.reap_expired().unwrap().len(),
        1,
        "the next sweep finishes the job"
    );
}

/// ERR-1, VIS-1, CONC-1: an output write, an upload or a rename racing a Delete that commits
/// between the engine's load of the run and its lookup of the run's folder answers `not_found`
/// (the Delete came first), never `internal_error`. Found by the SQLite linearizability
/// histories.
#[test]
fn err_1_output_upload_or_rename_racing_a_delete_is_not_found() {
    let sim = Sim::new(0);
    sim.faults.on.store(false, Ordering::SeqCst);
    let t = sim.world.triggerer.clone();
    let e = &sim.engine;
    let store = e.store();
    // An output write on a COMPLETED run: `conflict` if it wins, `not_found` if the delete does.
    let done = e
        .create_run(&t, sim.world.def.id, CreateRun::default())
        .unwrap();
    e.start_run(&t, done.id, StartRun::default()).unwrap();
    let cb = Callback {
        status: CallbackStatus::Completed,
        error: None,
        attempt: None,
    };
    e.callback(&t, done.id, cb).unwrap();
    *store.hook.delete_on_lookup.lock().unwrap() =
        Some((done.folders.outputs_id, sim.world.tenant, done.id));
    let answer = e.add_output(&t.clone().assumed(), done.id, "late.md");
    assert_eq!(
        answer.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::NotFound)
    );
    // An upload on a draft.
    let draft = e
        .create_run(&t, sim.world.def.id, CreateRun::default())
        .unwrap();
    *store.hook.delete_on_lookup.lock().unwrap() =
        Some((draft.folders.inputs_id, sim.world.tenant, draft.id));
    let upload = NewUpload {
        name: "in.txt".into(),
        ingestion: Ingestion::Completed,
    };
    let answer = e.add_upload(&t, draft.id, upload);
    assert_eq!(
        answer.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::NotFound)
    );
    // A rename of a draft (UPDATE-4 moves the run folder).
    let draft = e
        .create_run(&t, sim.world.def.id, CreateRun::default())
        .unwrap();
    *store.hook.delete_on_lookup.lock().unwrap() =
        Some((draft.id.into(), sim.world.tenant, draft.id));
    let rename = UpdateRun {
        name: Some("renamed".into()),
        ..UpdateRun::default()
    };
    let answer = e.update_run(&t, draft.id, rename);
    assert_eq!(
        answer.map(|_| ()).map_err(|e| e.code()),
        Err(ErrorCode::NotFound)
    );
}

/// The answer-versus-store check bites: a stale answered row, a `not_found` for a run that
/// exists, another error for one that is gone, a deletion that left the row, and a "reaped" run
/// that is not FAILED are each refused.
#[test]
fn answers_that_disagree_with_the_store_are_refused() {
    let sim = Sim::new(0);
    sim.faults.on.store(false, Ordering::SeqCst);
    let t = sim.world.triggerer.clone();
    let run = sim
        .engine
        .create_run(&t, sim.world.def.id, CreateRun::default())
        .unwrap();
    assert!(sim
        .check_answer(&Answer::Run(Box::new(run.clone())))
        .is_ok());
    let mut stale = run.clone();
    stale.version += 1;
    assert!(sim.check_answer(&Answer::Run(Box::new(stale))).is_err());
    assert!(sim
        .check_answer(&Answer::Refused(run.id, ErrorCode::NotFound))
        .is_err());
    assert!(sim
        .check_answer(&Answer::Refused(run.id, ErrorCode::Conflict))
        .is_ok());
    assert!(sim.check_answer(&Answer::Deleted(run.id)).is_err());
    assert!(sim.check_answer(&Answer::Reaped(vec![run.id])).is_err());
    sim.engine.delete_run(&t, run.id).unwrap();
    assert!(sim.check_answer(&Answer::Deleted(run.id)).is_ok());
    assert!(sim.check_answer(&Answer::Exists(run.id)).is_err());
    assert!(sim
        .check_answer(&Answer::Refused(run.id, ErrorCode::Conflict))
        .is_err());
    assert!(sim
        .check_answer(&Answer::Refused(run.id, ErrorCode::NotFound))
        .is_ok());
}
