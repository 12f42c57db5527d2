//! Group commit (`SqliteOptions::group_commit`, on by default): concurrent commits share one
//! transaction, each inside its own savepoint. A batch is formed deterministically by holding
//! the writer connection (`SqliteStore::hold_writer`, feature `fault-injection`) while the
//! callers queue, then letting go: they are written as one batch.
//!
//! * a stale (Conflict) or failing (Err) commit inside a batch is rolled back alone; every
//!   other commit of the batch is Committed and present;
//! * commits of one batch see each other's writes, in queue order (one version wins, one name
//!   wins);
//! * a failed batch COMMIT answers Err to every caller of the batch and writes nothing;
//! * a lone caller writes batches of one; group commit off writes no batch at all;
//! * engine load from 16 threads keeps every durable invariant.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow_conformance::world::{commit_of, World};
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

const CALLERS: usize = 16;

struct Fixture {
    world: Arc<World<SqliteStore>>,
    _dir: tempfile::TempDir,
}

fn fixture(group_commit: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        durability: Durability::Full,
        group_commit,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("runs.sqlite"), options).unwrap();
    Fixture {
        world: Arc::new(World::new(store)),
        _dir: dir,
    }
}

impl Fixture {
    fn store(&self) -> &SqliteStore {
        self.world.engine.store()
    }

    fn drafts(&self, n: usize) -> Vec<Run> {
        (0..n).map(|_| self.world.draft()).collect()
    }

    /// Queue `commits` from one thread each while the writer connection is held, then let go:
    /// they are written as exactly one group-commit batch. Answers in the order of `commits`.
    fn one_batch(&self, commits: Vec<Commit>) -> Vec<StoreResult<CommitOutcome>> {
        let n = commits.len();
        let store = self.store();
        let before = store.group_commit_stats();
        let hold = store.hold_writer();
        let handles: Vec<_> = commits
            .into_iter()
            .map(|c| {
                let world = self.world.clone();
                std::thread::spawn(move || world.engine.store().commit(c))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while store.queued_commits() < n {
            assert!(Instant::now() < deadline, "the callers never queued");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(hold);
        let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let after = store.group_commit_stats();
        assert_eq!(after.batches - before.batches, 1, "not one batch");
        assert_eq!(after.commits - before.commits, n as u64);
        answers
    }
}

/// A version-checked rename of `run` (the next version), expecting `expected`.
fn rename(run: &Run, expected: u64, name: &str) -> Commit {
    let mut next = run.clone();
    next.version = expected + 1;
    next.name = name.into();
    commit_of(run, expected, RunWrite::Put(Box::new(next)))
}

fn stored(f: &Fixture, run: &Run) -> (Run, usize) {
    let w = &f.world;
    let row = w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .unwrap();
    (row, w.history(run.id).len())
}

/// Group commit: in one batch of 16, the 8 commits with a stale version are Conflict and
/// absent, the 8 valid ones are Committed and present: a conflict never poisons the batch.
#[test]
fn group_commit_stale_commits_do_not_poison_the_batch() {
    let f = fixture(true);
    let runs = f.drafts(CALLERS);
    let commits = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let expected = if i % 2 == 0 { 1 } else { 7 };
            rename(r, expected, &format!("renamed-{i}"))
        })
        .collect();
    let answers = f.one_batch(commits);
    for (i, (run, answer)) in runs.iter().zip(answers).enumerate() {
        let (row, history) = stored(&f, run);
        if i % 2 == 0 {
            assert_eq!(answer, Ok(CommitOutcome::Committed), "valid commit {i}");
            assert_eq!(
                (row.version, row.name.as_str(), history),
                (2, &*format!("renamed-{i}"), 2)
            );
        } else {
            assert_eq!(
                answer,
                Ok(CommitOutcome::Conflict(ConflictKind::Version {
                    current: Some(1)
                })),
                "stale commit {i}"
            );
            assert_eq!(
                (&row, history),
                (run, 1),
                "stale commit {i} wrote something"
            );
        }
    }
    check_invariants(f.store().path());
}

/// Group commit: a commit that fails after writing part of its rows (its history record has a
/// time SQLite cannot store, so it fails after the run row was updated) is rolled back to its
/// savepoint and answered Err; the other commits of its batch are Committed and present.
#[test]
fn group_commit_failing_commit_is_rolled_back_alone() {
    let f = fixture(true);
    let runs = f.drafts(CALLERS);
    let far = workflow_core::chrono::DateTime::from_timestamp(10_000_000_000, 0).unwrap();
    let commits = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut c = rename(r, 1, &format!("renamed-{i}"));
            if i % 4 == 1 {
                c.history.at = far;
            }
            c
        })
        .collect();
    let answers = f.one_batch(commits);
    for (i, (run, answer)) in runs.iter().zip(answers).enumerate() {
        let (row, history) = stored(&f, run);
        if i % 4 == 1 {
            assert!(answer.is_err(), "failing commit {i}: {answer:?}");
            assert_eq!(
                (&row, history),
                (run, 1),
                "failing commit {i} wrote something"
            );
        } else {
            assert_eq!(answer, Ok(CommitOutcome::Committed), "valid commit {i}");
            assert_eq!((row.version, history), (2, 2));
        }
    }
    check_invariants(f.store().path());
}

/// Group commit: the commits of one batch are serialized in queue order and see each other's
/// writes: of 16 commits on one version of one run exactly one is Committed (the others see
/// version 2), and of two runs given one name (or one idempotency key) in the same batch
/// exactly one gets it.
#[test]
fn group_commit_batch_members_see_each_other_in_queue_order() {
    let f = fixture(true);
    let run = f.world.draft();
    let commits = (0..CALLERS)
        .map(|i| rename(&run, 1, &format!("winner-{i}")))
        .collect();
    let answers = f.one_batch(commits);
    let won = answers
        .iter()
        .filter(|a| **a == Ok(CommitOutcome::Committed))
        .count();
    assert_eq!(won, 1, "{answers:?}");
    for a in &answers {
        assert!(
            *a == Ok(CommitOutcome::Committed)
                || *a
                    == Ok(CommitOutcome::Conflict(ConflictKind::Version {
                        current: Some(2)
                    })),
            "{a:?}"
        );
    }
    assert_eq!(stored(&f, &run).1, 2);

    let pair = f.drafts(2);
    let answers = f.one_batch(pair.iter().map(|r| rename(r, 1, "same-name")).collect());
    let mut sorted: Vec<_> = answers.iter().map(|a| a.clone().unwrap()).collect();
    sorted.sort_by_key(|o| *o != CommitOutcome::Committed);
    assert_eq!(
        sorted,
        [
            CommitOutcome::Committed,
            CommitOutcome::Conflict(ConflictKind::NameTaken)
        ]
    );

    // The same for an idempotency key (same definition and triggerer) given to two runs.
    let pair = f.drafts(2);
    let commits = pair
        .iter()
        .map(|r| {
            let mut c = rename(r, 1, &format!("keyed-{}", r.id));
            if let RunWrite::Put(next) = &mut c.write {
                next.idempotency_key = Some("same-key".into());
            }
            c
        })
        .collect();
    let answers = f.one_batch(commits);
    let mut sorted: Vec<_> = answers.iter().map(|a| a.clone().unwrap()).collect();
    sorted.sort_by_key(|o| *o != CommitOutcome::Committed);
    assert_eq!(
        sorted,
        [
            CommitOutcome::Committed,
            CommitOutcome::Conflict(ConflictKind::IdempotencyKey)
        ]
    );
    check_invariants(f.store().path());
}

/// Group commit: when the batch's COMMIT fails, every one of its 16 callers gets Err and
/// nothing of the batch is written; the store commits normally afterwards.
#[test]
fn group_commit_failed_commit_answers_err_to_every_caller() {
    let f = fixture(true);
    let runs = f.drafts(CALLERS);
    let commits = runs
        .iter()
        .enumerate()
        .map(|(i, r)| rename(r, 1, &format!("renamed-{i}")))
        .collect();
    f.store().faults().fail_next_commit();
    let answers = f.one_batch(commits);
    f.store().faults().disarm();
    for (i, (run, answer)) in runs.iter().zip(answers).enumerate() {
        assert!(answer.is_err(), "caller {i} was not told: {answer:?}");
        let (row, history) = stored(&f, run);
        assert_eq!((&row, history), (run, 1), "caller {i}: written anyway");
    }
    check_invariants(f.store().path());
    let again = f.one_batch(
        runs.iter()
            .map(|r| rename(r, 1, &format!("x-{}", r.id)))
            .collect(),
    );
    assert!(
        again.iter().all(|a| *a == Ok(CommitOutcome::Committed)),
        "{again:?}"
    );
}

/// Group commit: a lone caller writes batches of one (no waiting for company); with group
/// commit off, commits write no batch at all.
#[test]
fn group_commit_lone_caller_writes_batches_of_one() {
    for on in [true, false] {
        let f = fixture(on);
        let before = f.store().group_commit_stats();
        let runs = f.drafts(10);
        for r in &runs {
            let outcome = f
                .store()
                .commit(rename(r, 1, &format!("n-{}", r.id)))
                .unwrap();
            assert_eq!(outcome, CommitOutcome::Committed);
        }
        let after = f.store().group_commit_stats();
        let (batches, commits) = (
            after.batches - before.batches,
            after.commits - before.commits,
        );
        if on {
            assert_eq!((batches, commits), (20, 20)); // 10 creates, 10 renames
        } else {
            assert_eq!((batches, commits), (0, 0));
        }
    }
}

/// Group commit under engine load: 16 threads run whole lifecycles on one store at FULL; some
/// transactions hold several commits, every operation succeeds, and the file keeps every
/// durable invariant (row = history, outbox = history, folders).
#[test]
fn group_commit_engine_load_from_16_threads_keeps_every_invariant() {
    let f = fixture(true);
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let world = f.world.clone();
            std::thread::spawn(move || {
                let w = &world;
                for _ in 0..8 {
                    let done = w.lifecycle();
                    assert_eq!(done.execution_state, ExecutionState::Completed);
                    assert_eq!(w.history(done.id).len(), 3);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = f.store().group_commit_stats();
    println!("group commit: {stats:?}");
    assert!(stats.commits >= (CALLERS * 8 * 3) as u64);
    check_invariants(f.store().path());
}
