//! The conformance cases. Each takes a fresh store and panics on a broken requirement of
//! [`workflow_core::Store`] (numbers in the docs refer to its "Correctness requirements").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::world::{commit_of, Setup, World};
use std::sync::Arc;
use workflow_core::uuid::Uuid;
use workflow_core::*;

fn bumped(run: &Run) -> Run {
    let mut r = run.clone();
    r.version += 1;
    r
}

/// Requirement 4: a committed create is what `load_run` returns.
pub fn create_then_load_returns_the_committed_run<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let loaded = w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .unwrap();
    assert_eq!(loaded, run);
    assert_eq!(loaded.version, 1);
}

/// Requirement 2: a stale `expected_version` is `Conflict(Version)` and writes nothing.
pub fn stale_version_is_a_conflict_and_writes_nothing<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let mut next = bumped(&run);
    next.name = "changed".into();
    let outcome = w
        .engine
        .store()
        .commit(commit_of(&run, 7, RunWrite::Put(Box::new(next))))
        .unwrap();
    assert_eq!(
        outcome,
        CommitOutcome::Conflict(ConflictKind::Version { current: Some(1) })
    );
    assert_eq!(
        w.engine
            .store()
            .load_run(w.tenant, run.id)
            .unwrap()
            .unwrap(),
        run
    );
    assert_eq!(w.history(run.id).len(), 1);
}

/// Requirement 2: `expected_version == 0` on an existing row conflicts.
pub fn expected_zero_on_existing_run_conflicts<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let mut c = commit_of(&run, 0, RunWrite::Put(Box::new(run.clone())));
    c.history.from = None;
    let outcome = w.engine.store().commit(c).unwrap();
    assert!(
        matches!(
            outcome,
            CommitOutcome::Conflict(ConflictKind::Version { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(w.history(run.id).len(), 1);
}

/// Requirement 2: a deleted run's id never comes back.
pub fn deleted_run_id_never_comes_back<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    w.engine.delete_run(&w.triggerer, run.id).unwrap();
    let mut again = run.clone();
    again.version = 1;
    let outcome = w
        .engine
        .store()
        .commit(commit_of(&run, 0, RunWrite::Put(Box::new(again))))
        .unwrap();
    assert!(
        matches!(
            outcome,
            CommitOutcome::Conflict(ConflictKind::Version { .. })
        ),
        "{outcome:?}"
    );
    assert!(w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .is_none());
}

/// Requirement 1: a refused commit writes none of its parts.
pub fn conflicting_commit_writes_no_outbox_catalog_or_history<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let before_outbox = w.engine.store().outbox_pending(1000).unwrap();
    let mut c = commit_of(&run, 5, RunWrite::Put(Box::new(bumped(&run))));
    c.history.seq = 6;
    c.outbox.push(OutboxMessage::Cancel(Cancel {
        key: DispatchKey {
            run_id: run.id,
            attempt: 9,
        },
        tenant_id: w.tenant,
        reason: "x".into(),
    }));
    let ghost = PathPart::new(
        PathPartId(Uuid::new_v4()),
        w.tenant,
        PathPartKind::Folder,
        "ghost",
        Some(&w.shared),
        run.created_at,
    );
    c.catalog
        .push(CatalogWrite::PutPart(Box::new(ghost.clone())));
    assert!(matches!(
        w.engine.store().commit(c).unwrap(),
        CommitOutcome::Conflict(_)
    ));
    assert_eq!(
        w.engine.store().outbox_pending(1000).unwrap(),
        before_outbox
    );
    assert!(w
        .engine
        .store()
        .path_part(w.tenant, ghost.id)
        .unwrap()
        .is_none());
    assert_eq!(w.history(run.id).len(), 1);
}

/// Requirement 3: two live runs of one definition never share a name.
pub fn duplicate_name_in_definition_conflicts<S: Store>(store: S) {
    let w = World::new(store);
    let a = w.draft();
    let b = w.draft();
    let mut renamed = bumped(&b);
    renamed.name = a.name.clone();
    let outcome = w
        .engine
        .store()
        .commit(commit_of(&b, 1, RunWrite::Put(Box::new(renamed))))
        .unwrap();
    assert_eq!(outcome, CommitOutcome::Conflict(ConflictKind::NameTaken));
    // The same name in another definition is fine.
    let other = w
        .engine
        .create_run(
            &w.owner,
            w.def_plain.id,
            CreateRun {
                name: Some(a.name.clone()),
                ..CreateRun::default()
            },
        )
        .unwrap();
    assert_eq!(other.name, a.name);
    assert_eq!(
        w.engine
            .store()
            .run_id_by_name(w.tenant, w.def.id, &a.name)
            .unwrap(),
        Some(a.id)
    );
}

/// Requirement 3: one live run per (definition, creator, idempotency key).
pub fn duplicate_idempotency_key_conflicts<S: Store>(store: S) {
    let w = World::new(store);
    let cmd = CreateRun {
        idempotency_key: Some("k1".into()),
        ..CreateRun::default()
    };
    let a = w
        .engine
        .create_run(&w.triggerer, w.def.id, cmd.clone())
        .unwrap();
    let b = w.draft();
    let mut keyed = bumped(&b);
    keyed.idempotency_key = Some("k1".into());
    let outcome = w
        .engine
        .store()
        .commit(commit_of(&b, 1, RunWrite::Put(Box::new(keyed))))
        .unwrap();
    assert_eq!(
        outcome,
        CommitOutcome::Conflict(ConflictKind::IdempotencyKey)
    );
    let found = w
        .engine
        .store()
        .run_by_idempotency_key(w.tenant, w.def.id, w.triggerer.user_id, "k1")
        .unwrap();
    assert_eq!(found.map(|r| r.id), Some(a.id));
}

/// Requirement 5: history is in `seq` order, from 1, without gaps, chained by state.
pub fn history_in_order_without_gaps<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.run_in(Setup::FailedAfterStart);
    w.engine.retry_run(&w.triggerer, run.id).unwrap();
    w.engine.stop_run(&w.triggerer, run.id).unwrap();
    let h = w.history(run.id);
    let events: Vec<Event> = h.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        vec![
            Event::Created,
            Event::Started,
            Event::Failed,
            Event::Retried,
            Event::Stopped
        ]
    );
    w.assert_history_gapless(run.id);
    let run = w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .unwrap();
    assert_eq!(run.version, h.len() as u64);
}

/// Requirement 5 and DELETE-3: history outlives the run.
pub fn history_survives_delete<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    w.engine.delete_run(&w.owner, run.id).unwrap();
    let h = w.history(run.id);
    assert_eq!(h.len(), 2);
    assert_eq!((h[1].event, h[1].to), (Event::Deleted, None));
    w.assert_history_gapless(run.id);
}

/// Requirement 1 and CONC-5: the dispatch is queued by the commit that starts the run.
pub fn outbox_written_with_its_transition<S: Store>(store: S) {
    let w = World::new(store);
    w.dispatcher.set_failing(true);
    let run = w.draft();
    let run = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    let queued = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].message.key(),
        DispatchKey {
            run_id: run.id,
            attempt: 1
        }
    );
    assert!(!queued[0].delivered);
    assert!(
        matches!(&queued[0].message, OutboxMessage::Dispatch(d) if Some(&d.snapshot) == run.snapshot.as_ref())
    );
}

/// Requirement 6, CONC-5, DISP-4: a failing dispatcher leaves the message queued with its
/// attempts, last error and next try recorded; it is not offered again before its backoff
/// (which doubles, with jitter in its upper half); once the runner recovers it is delivered;
/// recording on a delivered or unknown entry changes nothing.
pub fn outbox_delivered_at_least_once_after_failures<S: Store>(store: S) {
    let w = World::new(store);
    let policy = w.engine.config().relay.clone();
    w.dispatcher.set_failing(true);
    let run = w.running(); // the commit's inline relay tries once
    let pending = w.engine.store().outbox_pending(100).unwrap();
    assert_eq!(pending.len(), 1);
    let first = &pending[0];
    assert_eq!(first.attempts, 1, "the failed try is recorded: {first:?}");
    assert_eq!(first.last_error.as_deref(), Some("runner unreachable"));
    assert_eq!(first.first_failed_at, Some(w.engine.now()));
    let wait = first.next_try_at.unwrap() - w.engine.now();
    assert!(
        wait >= policy.backoff_base / 2 && wait <= policy.backoff_base,
        "first backoff {wait} within [base/2, base]"
    );
    // Not due yet: a pass does nothing.
    assert_eq!(w.engine.relay_outbox().unwrap(), RelayReport::default());
    assert!(w
        .engine
        .store()
        .outbox_due(w.engine.now(), 100)
        .unwrap()
        .is_empty());
    // Due: tried again, and the backoff doubles.
    w.clock.set(first.next_try_at.unwrap());
    let report = w.engine.relay_outbox().unwrap();
    assert_eq!((report.delivered, report.failed, report.dead), (0, 1, 0));
    let second = w.engine.store().outbox_pending(100).unwrap().remove(0);
    assert_eq!(second.attempts, 2);
    assert_eq!(second.first_failed_at, first.first_failed_at);
    let wait = second.next_try_at.unwrap() - w.engine.now();
    assert!(
        wait >= policy.backoff_base && wait <= policy.backoff_base * 2,
        "second backoff {wait} within [base, 2 base]"
    );
    w.dispatcher.set_failing(false);
    w.clock.set(second.next_try_at.unwrap());
    let report = w.engine.relay_outbox().unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(
        w.dispatcher.dispatch_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
    let done = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    for outcome in [
        Delivery::Delivered,
        Delivery::Dead {
            error: "late".into(),
        },
    ] {
        w.engine
            .store()
            .outbox_record_attempt(done[0].seq, w.engine.now(), &outcome)
            .unwrap();
    }
    w.engine
        .store()
        .outbox_record_attempt(u64::MAX, w.engine.now(), &Delivery::Delivered)
        .unwrap();
    let all = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert_eq!(all, done, "a delivered entry never changes again");
    assert!(all[0].delivered && !all[0].dead && all[0].attempts == 3);
    // The run itself was never touched by the dispatcher's failures.
    assert_eq!(
        w.engine.get_run(&w.owner, run.id).unwrap().execution_state,
        ExecutionState::InProgress
    );
}

/// Requirement 6: a run's messages are offered in order: its cancel waits while its dispatch
/// waits for a backoff, and other runs' messages go meanwhile.
pub fn outbox_due_keeps_each_runs_order<S: Store>(store: S) {
    let w = World::new(store);
    w.dispatcher.set_failing(true);
    let a = w.running();
    w.engine.stop_run(&w.owner, a.id).unwrap();
    w.dispatcher.set_failing(false);
    let b = w.running();
    let due = w.engine.store().outbox_due(w.engine.now(), 100).unwrap();
    assert!(
        due.iter().all(|e| e.message.key().run_id != a.id),
        "a's cancel must wait behind its dispatch: {due:?}"
    );
    assert_eq!(w.dispatcher.dispatch_keys().len(), 1, "b was delivered");
    assert_eq!(w.dispatcher.dispatch_keys()[0].run_id, b.id);
    let later = w.engine.store().outbox_pending(100).unwrap()[0]
        .next_try_at
        .unwrap();
    w.clock.set(later);
    let due = w.engine.store().outbox_due(w.engine.now(), 100).unwrap();
    assert_eq!(due.len(), 1);
    assert!(matches!(due[0].message, OutboxMessage::Dispatch(ref d) if d.key.run_id == a.id));
    w.engine.relay_outbox().unwrap();
    assert_eq!(w.dispatcher.cancel_keys().len(), 1, "then the cancel");
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
}

/// DISP-5: a permanent refusal dead-letters the dispatch at once and fails its attempt through
/// an ordinary transition recorded as the system's; a late callback of that attempt answers
/// `already_terminal`.
pub fn outbox_permanent_refusal_dead_letters_the_attempt<S: Store>(store: S) {
    let w = World::new(store);
    w.dispatcher.set_failing(true);
    w.dispatcher.set_permanent(true);
    let run = w.running();
    let after = w.engine.get_run(&w.owner, run.id).unwrap();
    assert_eq!(after.execution_state, ExecutionState::Failed);
    assert_eq!(after.failure, Some(FailureKind::DispatchFailed));
    assert_eq!(
        after.error.as_deref(),
        Some("Dispatch failed: permanent: runner refused")
    );
    let last = w.history(run.id).pop().unwrap();
    assert_eq!(last.actor, ActorStamp::SYSTEM);
    assert_eq!(last.event, Event::Failed);
    assert_eq!(
        (last.from, last.to),
        (
            Some(ExecutionState::InProgress),
            Some(ExecutionState::Failed)
        )
    );
    w.assert_history_gapless(run.id);
    let entries = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert!(entries[0].dead && !entries[0].delivered, "{entries:?}");
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
    let cb = w
        .engine
        .callback(
            &w.triggerer.clone().assumed(),
            run.id,
            Callback {
                status: CallbackStatus::Completed,
                error: None,
                attempt: Some(1),
            },
        )
        .unwrap();
    assert_eq!(cb.outcome, CallbackOutcome::AlreadyTerminal);
    // The run can be retried: a new attempt, a new dispatch.
    w.dispatcher.set_failing(false);
    let again = w.engine.retry_run(&w.owner, run.id).unwrap();
    assert_eq!(again.attempt, 2);
    assert_eq!(w.dispatcher.dispatch_keys().len(), 1);
}

/// DISP-5: a transiently failing dispatch is dead-lettered only after both the policy's tries and
/// its time; an undeliverable cancel is dead-lettered without changing the run.
pub fn outbox_dead_after_tries_and_time<S: Store>(store: S) {
    let config = EngineConfig {
        relay: rules::RelayPolicy {
            backoff_base: chrono::Duration::seconds(1),
            backoff_cap: chrono::Duration::seconds(4),
            max_tries: 3,
            dead_after: chrono::Duration::seconds(60),
        },
        ..EngineConfig::default()
    };
    let w = World::with_config(store, config);
    w.dispatcher.set_failing(true);
    let run = w.running();
    let entry =
        |w: &World<S>| w.engine.store().outbox_for_run(w.tenant, run.id).unwrap()[0].clone();
    let mut tries = 1;
    while !entry(&w).dead {
        assert!(tries < 100, "never dead-lettered");
        w.clock.set(entry(&w).next_try_at.unwrap());
        w.engine.relay_outbox().unwrap();
        tries += 1;
        let e = entry(&w);
        let failing_for = w.engine.now() - e.first_failed_at.unwrap();
        if e.dead {
            assert!(
                tries >= 3 && failing_for >= chrono::Duration::seconds(60),
                "{tries} {failing_for}"
            );
        } else {
            assert!(tries < 3 || failing_for < chrono::Duration::seconds(60));
        }
    }
    let failed = w.engine.get_run(&w.owner, run.id).unwrap();
    assert_eq!(failed.failure, Some(FailureKind::DispatchFailed));
    assert!(failed.error.unwrap().contains("gave up after"));

    // A cancel nobody can deliver: dead, and the run stays as it is.
    let other = w.running();
    w.engine.stop_run(&w.owner, other.id).unwrap();
    w.dispatcher.set_permanent(true);
    for _ in 0..100 {
        let pending = w.engine.store().outbox_pending(100).unwrap();
        let Some(e) = pending.iter().find(|e| e.message.key().run_id == other.id) else {
            break;
        };
        w.clock.set(e.next_try_at.unwrap_or(w.engine.now()));
        w.engine.relay_outbox().unwrap();
    }
    let entries = w.engine.store().outbox_for_run(w.tenant, other.id).unwrap();
    let cancel = entries
        .iter()
        .find(|e| matches!(e.message, OutboxMessage::Cancel(_)))
        .unwrap();
    assert!(cancel.dead, "{entries:?}");
    let stopped = w.engine.get_run(&w.owner, other.id).unwrap();
    assert_eq!(stopped.failure, Some(FailureKind::Stopped));
    assert_eq!(stopped.error.as_deref(), Some("Stopped by user"));
}

/// DISP-4, DISP-6: a slow runner holds up only its own run: while one delivery hangs, the
/// relay's other workers deliver the other runs' messages.
pub fn outbox_slow_message_does_not_block_others<S: Store + 'static>(store: S) {
    let config = EngineConfig {
        relay_after_commit: false,
        relay_parallelism: 2,
        ..EngineConfig::default()
    };
    let w = World::with_config(store, config);
    let slow = w.running();
    w.dispatcher.hold(slow.id);
    std::thread::scope(|s| {
        let pass = s.spawn(|| w.engine.relay_outbox().unwrap());
        assert!(w.dispatcher.wait_until_held(), "the slow delivery started");
        let fast: Vec<RunId> = (0..3).map(|_| w.running().id).collect();
        // Another pass delivers the others while the slow one hangs.
        let report = w.engine.relay_outbox().unwrap();
        assert_eq!(report.delivered, 3);
        let keys: Vec<RunId> = w
            .dispatcher
            .dispatch_keys()
            .iter()
            .map(|k| k.run_id)
            .collect();
        assert_eq!(keys, fast, "all but the slow run delivered, in order");
        w.dispatcher.release();
        let first = pass.join().unwrap();
        assert_eq!(first.delivered, 1);
    });
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());

    // One pass over several due messages, the first of which hangs: its first claim saw more
    // than it took, so the same pass's other workers deliver the rest meanwhile.
    let slow = w.running();
    let fast: Vec<RunId> = (0..3).map(|_| w.running().id).collect();
    w.dispatcher.hold(slow.id);
    std::thread::scope(|s| {
        let pass = s.spawn(|| w.engine.relay_outbox().unwrap());
        assert!(w.dispatcher.wait_until_held(), "the slow delivery started");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let keys: Vec<RunId> = w
                .dispatcher
                .dispatch_keys()
                .iter()
                .map(|k| k.run_id)
                .collect();
            if fast.iter().all(|id| keys.contains(id)) {
                break;
            }
            if std::time::Instant::now() > deadline {
                w.dispatcher.release();
                panic!("the pass delivered only {keys:?} while its first delivery hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        w.dispatcher.release();
        assert_eq!(pass.join().unwrap().delivered, 4);
    });
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
}

/// DISP-7: `count_runs_by_state` counts live runs per state over all tenants; a deleted run is
/// not counted.
pub fn count_runs_by_state_counts_live_runs<S: Store>(store: S) {
    let w = World::new(store);
    let count = |w: &World<S>| -> std::collections::BTreeMap<ExecutionState, u64> {
        w.engine
            .store()
            .count_runs_by_state()
            .unwrap()
            .into_iter()
            .collect()
    };
    let before = count(&w);
    let _draft = w.draft();
    let gone = w.draft();
    w.engine.delete_run(&w.owner, gone.id).unwrap();
    let _running = w.running();
    let stopped = w.running();
    w.engine.stop_run(&w.owner, stopped.id).unwrap();
    let after = count(&w);
    let delta = |s| after.get(&s).copied().unwrap_or(0) - before.get(&s).copied().unwrap_or(0);
    assert_eq!(delta(ExecutionState::NotStarted), 1);
    assert_eq!(delta(ExecutionState::InProgress), 1);
    assert_eq!(delta(ExecutionState::Failed), 1);
    assert_eq!(delta(ExecutionState::Completed), 0);
    assert!(after.values().all(|n| *n > 0), "no zero rows: {after:?}");
}

/// Requirement 6: pending entries come in `seq` order.
pub fn outbox_pending_in_seq_order<S: Store>(store: S) {
    let w = World::new(store);
    w.dispatcher.set_failing(true);
    let a = w.running();
    let b = w.running();
    w.engine.stop_run(&w.owner, a.id).unwrap();
    let pending = w.engine.store().outbox_pending(100).unwrap();
    let keys: Vec<(RunId, bool)> = pending
        .iter()
        .map(|e| {
            (
                e.message.key().run_id,
                matches!(e.message, OutboxMessage::Dispatch(_)),
            )
        })
        .collect();
    assert_eq!(keys, vec![(a.id, true), (b.id, true), (a.id, false)]);
    assert!(pending.windows(2).all(|p| p[0].seq < p[1].seq));
    assert_eq!(w.engine.store().outbox_pending(2).unwrap().len(), 2);
}

fn list<S: Store>(w: &World<S>, actor: &Actor, q: ListRuns) -> Page<Run> {
    w.engine.list_runs(actor, q).unwrap()
}

/// LIST-1: filters by execution state and approval state.
pub fn list_filters_by_state_and_approval<S: Store>(store: S) {
    let w = World::new(store);
    let draft = w.draft();
    let running = w.running();
    let pending_approval = w.run_in(Setup::CompletedApprovalPending);
    let q = |s: Option<ExecutionState>, a: Option<ApprovalState>| ListRuns {
        states: s.into_iter().collect(),
        approval_states: a.into_iter().collect(),
        ..ListRuns::default()
    };
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(list(
            &w,
            &w.owner,
            q(Some(ExecutionState::NotStarted), None)
        )),
        vec![draft.id]
    );
    assert_eq!(
        ids(list(
            &w,
            &w.owner,
            q(Some(ExecutionState::InProgress), None)
        )),
        vec![running.id]
    );
    assert_eq!(
        ids(list(&w, &w.owner, q(None, Some(ApprovalState::Pending)))),
        vec![pending_approval.id]
    );
    assert_eq!(list(&w, &w.owner, q(None, None)).total, 3);
    let by_def = ListRuns {
        definition_id: Some(w.def_plain.id),
        ..ListRuns::default()
    };
    assert_eq!(list(&w, &w.owner, by_def).total, 0);
}

/// LIST-1: newest first by the chosen time; runs without it last.
pub fn list_orders_newest_first_nulls_last<S: Store>(store: S) {
    let w = World::new(store);
    let first = w.draft();
    w.clock.advance(chrono::Duration::seconds(10));
    let second = w.draft();
    w.clock.advance(chrono::Duration::seconds(10));
    let third = w.draft();
    w.clock.advance(chrono::Duration::seconds(10));
    w.engine
        .start_run(&w.owner, first.id, StartRun::default())
        .unwrap();
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let by_created = ids(list(&w, &w.owner, ListRuns::default()));
    assert_eq!(by_created, vec![third.id, second.id, first.id]);
    let by_started = ids(list(
        &w,
        &w.owner,
        ListRuns {
            order: RunOrder::StartedAt,
            ..ListRuns::default()
        },
    ));
    assert_eq!(by_started[0], first.id, "the only started run comes first");
    let mut rest = [second.id, third.id];
    rest.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        &by_started[1..],
        &rest[..],
        "unstarted runs last, by id descending"
    );
}

/// LIST-2, LIST-3: every ksapi filter and order, each checked against an oracle over all the
/// runs (loaded one by one): several states and approval states at once, ASC and DESC (runs
/// without the sort time last in both), inclusive/exclusive time windows, `owner_id` (never
/// `forbidden`; `mine` overrides it), `approvable_by_me` (APPROVE-5, grants on the definition or
/// on one run folder; never for an assumed actor) and the tag filters.
pub fn list_2_every_filter_and_order<S: Store>(store: S) {
    let w = World::new(store);
    let mut made = Vec::new();
    for setup in [
        Setup::NotStarted,
        Setup::InProgress,
        Setup::CompletedApprovalPending,
        Setup::FailedAfterStart,
        Setup::CompletedNotRequired,
        Setup::Pending,
    ] {
        w.clock.advance(chrono::Duration::seconds(10));
        made.push(w.run_in(setup).id);
    }
    w.clock.advance(chrono::Duration::seconds(10));
    let theirs = w
        .engine
        .create_run(&w.user_read_write, w.def.id, CreateRun::default())
        .unwrap();
    made.push(theirs.id);
    w.clock.advance(chrono::Duration::seconds(10));
    // A later edit moves one old run's updated_at past the others'.
    let touched = w
        .engine
        .update_run(
            &w.triggerer,
            made[0],
            UpdateRun {
                name: Some("touched".into()),
                ..UpdateRun::default()
            },
        )
        .unwrap();
    let all: Vec<Run> = made
        .iter()
        .map(|id| w.engine.get_run(&w.owner, *id).unwrap())
        .collect();
    assert_eq!(all[0], touched);
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let oracle = |keep: &dyn Fn(&Run) -> bool, q: &ListRuns| {
        let mut hits: Vec<&Run> = all.iter().filter(|r| keep(r)).collect();
        let key = |r: &Run| match q.order {
            RunOrder::CreatedAt => Some(r.created_at),
            RunOrder::StartedAt => r.started_at,
            RunOrder::CompletedAt => r.completed_at,
        };
        let dir = |c: std::cmp::Ordering| {
            if q.dir == SortDir::Asc {
                c
            } else {
                c.reverse()
            }
        };
        hits.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => dir(x.cmp(&y).then(a.id.cmp(&b.id))),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => dir(a.id.cmp(&b.id)),
        });
        hits.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let check = |who: &Actor, q: ListRuns, keep: &dyn Fn(&Run) -> bool| {
        let want = oracle(keep, &q);
        let page = list(&w, who, q.clone());
        assert_eq!(page.total, want.len() as u64, "{q:?}");
        assert_eq!(ids(page), want, "{q:?}");
        want.len()
    };
    let base = ListRuns {
        limit: 100,
        ..ListRuns::default()
    };
    let mut nonempty = 0;
    for order in RunOrder::ALL {
        for dir in SortDir::ALL {
            let q = ListRuns {
                order: *order,
                dir: *dir,
                ..base.clone()
            };
            nonempty += check(&w.owner, q, &|_| true);
        }
    }
    // Several states / approval states at once.
    let active = [
        ExecutionState::NotStarted,
        ExecutionState::Pending,
        ExecutionState::InProgress,
    ];
    nonempty += check(
        &w.owner,
        ListRuns {
            states: active.to_vec(),
            ..base.clone()
        },
        &|r| active.contains(&r.execution_state),
    );
    let approvals = [ApprovalState::Pending, ApprovalState::NotRequired];
    nonempty += check(
        &w.owner,
        ListRuns {
            approval_states: approvals.to_vec(),
            states: vec![ExecutionState::Completed],
            ..base.clone()
        },
        &|r| {
            approvals.contains(&r.approval_state) && r.execution_state == ExecutionState::Completed
        },
    );
    // Windows: from inclusive, to exclusive, on each run's own times.
    let (from, to) = (all[1].created_at, all[4].created_at);
    nonempty += check(
        &w.owner,
        ListRuns {
            created: TimeRange {
                from: Some(from),
                to: Some(to),
            },
            ..base.clone()
        },
        &|r| r.created_at >= from && r.created_at < to,
    );
    let since = touched.updated_at;
    nonempty += check(
        &w.owner,
        ListRuns {
            updated: TimeRange {
                from: Some(since),
                to: None,
            },
            ..base.clone()
        },
        &|r| r.updated_at >= since,
    );
    check(
        &w.owner,
        ListRuns {
            updated: TimeRange {
                from: None,
                to: Some(all[1].updated_at),
            },
            ..base.clone()
        },
        &|r| r.updated_at < all[1].updated_at,
    );
    // owner_id: among the runs the caller can read, never forbidden; mine overrides it.
    nonempty += check(
        &w.user_read,
        ListRuns {
            owner_id: Some(w.triggerer.user_id),
            ..base.clone()
        },
        &|r| r.triggered_by == w.triggerer.user_id,
    );
    nonempty += check(
        &w.user_read_write,
        ListRuns {
            owner_id: Some(w.triggerer.user_id),
            mine: true,
            ..base.clone()
        },
        &|r| r.triggered_by == w.user_read_write.user_id,
    );
    check(
        &w.user_no_grant,
        ListRuns {
            owner_id: Some(w.triggerer.user_id),
            ..base.clone()
        },
        &|_| false,
    );
    // approvable_by_me (APPROVE-5).
    let approvable = ListRuns {
        approvable_by_me: true,
        ..base.clone()
    };
    nonempty += check(&w.owner, approvable.clone(), &|_| true);
    nonempty += check(&w.user_read_write, approvable.clone(), &|_| true);
    check(&w.user_read, approvable.clone(), &|_| false);
    let assumed = Actor {
        assumed: true,
        ..w.owner.clone()
    };
    check(&assumed, approvable.clone(), &|_| false);
    // A read-write grant on one run folder (and a read grant on the definition): that run.
    let one = &all[2];
    let mut narrow = w
        .engine
        .store()
        .user(w.tenant, w.user_read.user_id)
        .unwrap()
        .unwrap();
    narrow.grants.push(Grant {
        path: one.folders.path.clone(),
        capability: Capability::ReadWrite,
    });
    w.engine.put_user(narrow).unwrap();
    nonempty += check(&w.user_read, approvable.clone(), &|r| r.id == one.id);
    // Tags: no run carries one.
    check(
        &w.owner,
        ListRuns {
            include_tag_ids: vec![Uuid::from_u128(7)],
            ..base.clone()
        },
        &|_| false,
    );
    assert!(
        nonempty >= 15,
        "the checks above compared too little: {nonempty}"
    );
}

/// SUM-1: the summary's numbers over a known set of runs: the window (since inclusive, until
/// inclusive), counts with all five states, failure rate, nearest-rank duration percentiles,
/// the point-in-time approval backlog, adoption, and visibility (VIS-1) and definition scope.
pub fn sum_1_summary_aggregates<S: Store>(store: S) {
    let w = World::new(store);
    let e = &w.engine;
    let t = &w.triggerer;
    let finish = |def: &Definition, secs: i64, status: CallbackStatus| {
        let run = e.create_run(t, def.id, CreateRun::default()).unwrap();
        e.start_run(t, run.id, StartRun::default()).unwrap();
        w.clock.advance(chrono::Duration::seconds(secs));
        let cb = Callback {
            status,
            error: None,
            attempt: None,
        };
        e.callback(t, run.id, cb).unwrap().run
    };
    // Before the window: awaiting approval (counted in the backlog only).
    let old = finish(&w.def, 5, CallbackStatus::Completed);
    w.clock.advance(chrono::Duration::hours(1));
    let since = w.clock.now();
    let a = finish(&w.def, 10, CallbackStatus::Completed);
    let b = finish(&w.def_plain, 20, CallbackStatus::Completed);
    let c = finish(&w.def, 30, CallbackStatus::Failed);
    let d = w.running();
    w.clock.advance(chrono::Duration::seconds(1));
    let last = e
        .create_run(&w.user_read_write, w.def.id, CreateRun::default())
        .unwrap();
    w.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(a.approval_state, ApprovalState::Pending);
    let q = SummaryQuery {
        since: Some(since),
        until: Some(last.created_at),
        definition_id: None,
    };
    let s = e.runs_summary(&w.owner, q).unwrap();
    let count = |st| {
        s.counts_by_state
            .iter()
            .find(|(x, _)| *x == st)
            .map(|(_, n)| *n)
    };
    assert_eq!(s.counts_by_state.len(), 5);
    assert_eq!(count(ExecutionState::Completed), Some(2));
    assert_eq!(count(ExecutionState::Failed), Some(1));
    assert_eq!(count(ExecutionState::InProgress), Some(1));
    assert_eq!(
        count(ExecutionState::NotStarted),
        Some(1),
        "until is inclusive"
    );
    assert_eq!(count(ExecutionState::Pending), Some(0));
    assert_eq!(s.total, 5);
    assert_eq!(s.failure_rate, Some(1.0 / 3.0));
    assert_eq!(s.duration_p50_seconds, Some(20.0));
    assert_eq!(s.duration_p95_seconds, Some(30.0));
    assert_eq!(s.pending_approval_count, 2, "{old:?} and {a:?}");
    let age = (w.clock.now() - old.completed_at.unwrap()).num_milliseconds() as f64 / 1000.0;
    assert_eq!(s.oldest_pending_age_seconds, Some(age));
    assert_eq!(s.distinct_triggerers, 2);
    let active = e
        .store()
        .definitions(w.tenant)
        .unwrap()
        .iter()
        .filter(|d| d.is_active && !d.is_template)
        .count() as u64;
    assert!(active >= 2);
    assert_eq!(s.active_definitions, active);
    assert_eq!(
        (s.window_start, s.window_end),
        (since, Some(last.created_at))
    );
    // until excludes what comes after it.
    let before_last = SummaryQuery {
        until: Some(last.created_at - chrono::Duration::nanoseconds(1)),
        ..q
    };
    assert_eq!(e.runs_summary(&w.owner, before_last).unwrap().total, 4);
    // One definition.
    let plain = e
        .runs_summary(
            &w.owner,
            SummaryQuery {
                definition_id: Some(w.def_plain.id),
                ..q
            },
        )
        .unwrap();
    assert_eq!((plain.total, plain.failure_rate), (1, Some(0.0)));
    assert_eq!(plain.duration_p50_seconds, Some(20.0));
    assert_eq!(
        (plain.pending_approval_count, plain.active_definitions),
        (0, 1)
    );
    // VIS-1: a user who can read nothing sees nothing; an unreadable definition is not_found.
    let none = e.runs_summary(&w.user_no_grant, q).unwrap();
    assert_eq!(
        (none.total, none.failure_rate, none.duration_p50_seconds),
        (0, None, None)
    );
    assert_eq!(
        (none.pending_approval_count, none.oldest_pending_age_seconds),
        (0, None)
    );
    let hidden = SummaryQuery {
        definition_id: Some(w.def.id),
        ..q
    };
    assert_eq!(
        e.runs_summary(&w.user_no_grant, hidden).unwrap_err().code(),
        ErrorCode::NotFound
    );
    // The default window is the last 7 days.
    let default = e.runs_summary(&w.owner, SummaryQuery::default()).unwrap();
    assert_eq!(
        default.window_start,
        w.clock.now() - chrono::Duration::days(7)
    );
    assert_eq!(default.total, 6);
    let _ = (b, c, d);
}

fn put_of(def: &Definition) -> PutDefinition {
    PutDefinition {
        name: def.name.clone(),
        description: def.description.clone(),
        max_run_duration_seconds: Some(def.max_run_duration_seconds),
        is_active: def.is_active,
        approval_required: def.approval_required,
        ..PutDefinition::default()
    }
}

/// DEF-1, DEF-2, DEF-3, DEF-4, DEF-5, SCHED-1: the definition list (filters, orders,
/// visibility), full replacement
/// (retain-on-null, `updated_at`, moves and renames), deletion with its runs (each recorded),
/// instantiation (`created_from_id`, `copy_count`), the derived numbers (`last_run`,
/// `pending_approval_count`), the empty instruction's real version, and schedule validation.
pub fn def_1_to_5_definition_administration<S: Store>(store: S) {
    let w = World::new(store);
    let e = &w.engine;
    let code = |r: Result<Definition>| r.unwrap_err().code();
    // Creation over the API's path: an empty instruction with an active, ingested version
    // (DEF-5), a description, a schedule (SCHED-1).
    w.clock.advance(chrono::Duration::seconds(5));
    let new = |name: &str, description: Option<&str>| NewDefinition {
        parent_id: w.eng.id,
        name: name.into(),
        approval_required: true,
        is_active: true,
        create_empty_instruction: true,
        description: description.map(Into::into),
        ..NewDefinition::default()
    };
    let weekly = ScheduleFields {
        cadence: Some(ScheduleCadence::Weekly),
        start_at: Some(w.clock.now()),
        timezone: Some("Europe/London".into()),
    };
    let digest = e
        .create_definition(
            &w.owner,
            NewDefinition {
                schedule: weekly.clone(),
                ..new("Digest", Some("Weekly DIGEST of eng notes"))
            },
        )
        .unwrap();
    let sched = digest.schedule.clone().unwrap();
    assert_eq!(
        (sched.cadence, sched.timezone.as_str()),
        (ScheduleCadence::Weekly, "Europe/London")
    );
    assert_eq!(e.get_definition(&w.owner, digest.id).unwrap(), digest);
    for (tz, why) in [
        ("Mars/Olympus", "unknown zone"),
        ("+08:00", "an ISO offset"),
    ] {
        let bad = NewDefinition {
            schedule: ScheduleFields {
                timezone: Some(tz.into()),
                ..weekly.clone()
            },
            ..new("bad-zone", None)
        };
        assert_eq!(
            code(e.create_definition(&w.owner, bad)),
            ErrorCode::UnprocessableEntity,
            "{why}"
        );
    }
    // A cadence without a start starts now.
    let half = NewDefinition {
        schedule: ScheduleFields {
            start_at: None,
            ..weekly.clone()
        },
        ..new("half", None)
    };
    let half = e.create_definition(&w.owner, half).unwrap();
    assert_eq!(half.schedule.unwrap().start_at, w.clock.now());
    w.clock.advance(chrono::Duration::seconds(1));
    let utc = e
        .create_definition(
            &w.owner,
            NewDefinition {
                schedule: ScheduleFields {
                    timezone: None,
                    ..weekly.clone()
                },
                ..new("utc-by-default", None)
            },
        )
        .unwrap();
    assert_eq!(utc.schedule.as_ref().unwrap().timezone, "UTC");
    let run = e
        .create_run(&w.triggerer, digest.id, CreateRun::default())
        .unwrap();
    let started = e
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    let pinned = started.snapshot.as_ref().unwrap().instruction.path_part_id;
    let instruction_versions = e
        .store()
        .children(w.tenant, digest.instruction_id.unwrap())
        .unwrap();
    assert_eq!(instruction_versions.len(), 1);
    assert_eq!(
        pinned,
        Some(instruction_versions[0].id),
        "a real version is pinned"
    );

    // DEF-1: list, with ksapi's filters and orders.
    let names = |who: &Actor, q: ListDefinitions| {
        e.list_definitions(who, q)
            .unwrap()
            .items
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
    };
    let by_name = ListDefinitions {
        order: DefinitionOrder::Name,
        limit: 100,
        ..ListDefinitions::default()
    };
    let all = names(&w.owner, by_name.clone());
    let mut sorted = all.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(all, sorted, "NAME sorts A to Z by default");
    assert!(all.contains(&"Digest".to_owned()) && all.contains(&"plain".to_owned()));
    assert_eq!(
        names(
            &w.owner,
            ListDefinitions {
                search: Some("digest OF".into()),
                ..by_name.clone()
            }
        ),
        vec!["Digest"],
        "search covers the description, case-insensitively"
    );
    assert!(names(&w.user_no_grant, by_name.clone()).is_empty(), "VIS-1");
    let newest = names(&w.owner, ListDefinitions::default());
    assert_eq!(newest[0], "utc-by-default", "newest first by default");
    let (template, _) = w.template_with_draft("a-template");
    assert!(!names(&w.owner, by_name.clone()).contains(&template.name));
    assert_eq!(
        names(
            &w.owner,
            ListDefinitions {
                is_template: Some(true),
                ..by_name.clone()
            }
        ),
        vec![template.name.clone()]
    );
    w.run_in(Setup::CompletedApprovalPending);
    assert_eq!(
        names(
            &w.owner,
            ListDefinitions {
                needs_approval: Some(true),
                ..by_name.clone()
            }
        ),
        vec![w.def.name.clone()]
    );
    assert_eq!(
        names(
            &w.triggerer,
            ListDefinitions {
                mine: true,
                ..by_name.clone()
            }
        ),
        Vec::<String>::new()
    );

    // DEF-5: derived numbers.
    let stats = e.definition_stats(&w.owner, &w.def).unwrap();
    assert_eq!(stats.pending_approval_count, 1);
    let latest = e
        .list_runs(
            &w.owner,
            ListRuns {
                definition_id: Some(w.def.id),
                limit: 1,
                ..ListRuns::default()
            },
        )
        .unwrap();
    assert_eq!(
        stats.last_run.map(|r| r.id),
        latest.items.first().map(|r| r.id)
    );

    // DEF-2: replacement. Retain-on-null instruction, skills and common files; description
    // cleared; updated_at moves; read-only users forbidden; unreadable not_found.
    w.clock.advance(chrono::Duration::seconds(30));
    let mut put = put_of(&w.def);
    put.description = None;
    put.approval_required = false;
    let replaced = e.put_definition(&w.owner, w.def.id, put.clone()).unwrap();
    assert_eq!(replaced.instruction_id, w.def.instruction_id);
    assert_eq!(replaced.common_file_ids, w.def.common_file_ids);
    assert_eq!(replaced.selected_skill_ids, w.def.selected_skill_ids);
    assert!(!replaced.approval_required);
    assert_eq!(replaced.updated_at, w.clock.now());
    assert_eq!(replaced.created_at, w.def.created_at);
    assert_eq!(e.get_definition(&w.owner, w.def.id).unwrap(), replaced);
    assert_eq!(
        code(e.put_definition(&w.user_read, w.def.id, put.clone())),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(e.put_definition(&w.user_no_grant, w.def.id, put.clone())),
        ErrorCode::NotFound
    );
    // A rename while a run is IN_PROGRESS is conflict.
    w.running();
    let rename = PutDefinition {
        name: "renamed".into(),
        ..put.clone()
    };
    assert_eq!(
        code(e.put_definition(&w.owner, w.def.id, rename)),
        ErrorCode::Conflict
    );
    // A rename of a definition without runs moves its parts.
    let renamed = e
        .put_definition(
            &w.owner,
            utc.id,
            PutDefinition {
                name: "utc-renamed".into(),
                ..put_of(&utc)
            },
        )
        .unwrap();
    assert!(renamed.path.ends_with("/utc-renamed"));
    for p in e.store().descendants(w.tenant, utc.id.into()).unwrap() {
        assert!(
            p.path.starts_with(&renamed.path),
            "{} follows the rename",
            p.path
        );
    }

    // DEF-4: instantiate a template into a folder.
    let copy = e
        .instantiate_definition(
            &w.user_read_write,
            template.id,
            w.eng.id,
            Some("mine".into()),
        )
        .unwrap();
    assert_eq!(copy.created_from_id, Some(template.id));
    assert!(copy.is_active && !copy.is_template);
    assert_eq!(copy.owner_id, w.user_read_write.user_id);
    assert_eq!(copy.instruction_id, template.instruction_id);
    assert_eq!(
        e.definition_stats(&w.owner, &template).unwrap().copy_count,
        1
    );
    let default_name = e
        .instantiate_definition(&w.owner, template.id, w.shared.id, None)
        .unwrap();
    assert_eq!(default_name.name, template.name);
    assert_eq!(
        e.definition_stats(&w.owner, &template).unwrap().copy_count,
        2
    );
    assert_eq!(
        code(e.instantiate_definition(&w.user_read, template.id, w.eng.id, None)),
        ErrorCode::Forbidden
    );

    // DEF-3: delete. IN_PROGRESS runs block it; otherwise the definition and every run go,
    // each run's deletion recorded.
    assert_eq!(
        e.delete_definition(&w.owner, w.def.id).unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert!(
        e.get_definition(&w.owner, w.def.id).is_ok(),
        "a refused delete changes nothing"
    );
    let digest_runs = [
        run.id,
        e.create_run(&w.triggerer, digest.id, CreateRun::default())
            .unwrap()
            .id,
    ];
    assert_eq!(
        e.delete_definition(&w.owner, digest.id).unwrap_err().code(),
        ErrorCode::Conflict
    );
    e.stop_run(&w.triggerer, run.id).unwrap();
    assert_eq!(
        e.delete_definition(&w.user_read, digest.id)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    e.delete_definition(&w.owner, digest.id).unwrap();
    assert_eq!(
        e.get_definition(&w.owner, digest.id).unwrap_err().code(),
        ErrorCode::NotFound
    );
    for r in digest_runs {
        assert!(e.store().load_run(w.tenant, r).unwrap().is_none());
        let h = w.history(r);
        assert_eq!(h.last().unwrap().event, Event::Deleted, "DELETE-3");
        assert_eq!(h.last().unwrap().actor.user_id, Some(w.owner.user_id));
    }
    assert!(e
        .store()
        .path_part(w.tenant, digest.id.into())
        .unwrap()
        .is_none());
    assert!(e
        .store()
        .path_part(w.tenant, digest.instruction_id.unwrap())
        .unwrap()
        .is_none());
}

/// LIST-1: `limit` and `offset` page through; `total` ignores them.
pub fn list_paginates_with_total<S: Store>(store: S) {
    let w = World::new(store);
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(w.draft().id);
        w.clock.advance(chrono::Duration::seconds(1));
    }
    made.reverse();
    let mut seen = Vec::new();
    for offset in (0..7).step_by(3) {
        let page = list(
            &w,
            &w.owner,
            ListRuns {
                limit: 3,
                offset,
                ..ListRuns::default()
            },
        );
        assert_eq!(page.total, 7);
        assert_eq!((page.limit, page.offset), (3, offset));
        seen.extend(page.items.into_iter().map(|r| r.id));
    }
    assert_eq!(seen, made);
    let past = list(
        &w,
        &w.owner,
        ListRuns {
            limit: 3,
            offset: 100,
            ..ListRuns::default()
        },
    );
    assert!(past.items.is_empty());
    assert_eq!(past.total, 7);
    for bad in [0, 101] {
        let err = w
            .engine
            .list_runs(
                &w.owner,
                ListRuns {
                    limit: bad,
                    ..ListRuns::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnprocessableEntity);
    }
}

/// LIST-1 and VIS-1: only runs the actor can read appear.
pub fn list_only_visible_runs<S: Store>(store: S) {
    let w = World::new(store);
    let visible = w.draft();
    // A run the no-grant user triggered on a definition under /private is its own.
    let private_def = w
        .engine
        .create_definition(
            &w.owner,
            NewDefinition {
                id: None,
                parent_id: w.private.id,
                name: "secret-flow".into(),
                instruction_id: None,
                max_run_duration_seconds: None,
                approval_required: false,
                is_active: true,
                is_template: false,
                common_file_ids: vec![],
                selected_skill_ids: vec![],
                create_empty_instruction: false,
                ..NewDefinition::default()
            },
        )
        .unwrap();
    let private_run = w
        .engine
        .create_run(&w.user_no_grant, private_def.id, CreateRun::default())
        .unwrap();
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(list(&w, &w.user_read, ListRuns::default())),
        vec![visible.id]
    );
    assert_eq!(
        ids(list(&w, &w.user_no_grant, ListRuns::default())),
        vec![private_run.id]
    );
    assert_eq!(list(&w, &w.owner, ListRuns::default()).total, 2);
    assert_eq!(list(&w, &w.other_owner, ListRuns::default()).total, 0);
    let err = w
        .engine
        .list_runs(
            &w.user_read,
            ListRuns {
                definition_id: Some(private_def.id),
                ..ListRuns::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

/// LIST-1, VIS-1, SUM-1: a non-admin's visibility is its grant paths, matched against
/// definition paths by the store exactly as `policy::path_covers` does: a trailing `/` changes
/// nothing, a sibling that shares a prefix (`/shared/engineering` next to `/shared/eng`) is not
/// covered, `_` and `%` in names are plain characters, `/` covers everything, and a grant on a
/// definition's own path covers its runs.
pub fn list_1_visibility_follows_grant_paths<S: Store>(store: S) {
    let w = World::new(store);
    let e = &w.engine;
    let t = w.tenant;
    let n = std::cell::Cell::new(0u128);
    let next = || {
        n.set(n.get() + 1);
        Uuid::from_u128(0x0715_0000 | n.get())
    };
    let folder = |name: &str, parent: &PathPart| {
        e.put_part(
            t,
            PathPartId(next()),
            PathPartKind::Folder,
            name,
            Some(parent.id),
        )
        .unwrap()
    };
    let definition = |parent: &PathPart| {
        e.create_definition(
            &w.owner,
            NewDefinition {
                parent_id: parent.id,
                name: "flow".into(),
                is_active: true,
                ..NewDefinition::default()
            },
        )
        .unwrap()
    };
    let engineering = folder("engineering", &w.shared);
    let en_ = folder("en_", &w.shared);
    let percent = folder("%", &w.shared);
    let defs = [
        w.def.clone(),            // /shared/eng/summarise
        definition(&engineering), // /shared/engineering/flow
        definition(&en_),         // /shared/en_/flow
        definition(&percent),     // /shared/%/flow
        definition(&w.private),   // /private/flow
    ];
    let runs: Vec<RunId> = defs
        .iter()
        .map(|d| {
            e.create_run(&w.owner, d.id, CreateRun::default())
                .unwrap()
                .id
        })
        .collect();
    let with_grants = |paths: &[&str]| {
        let user = User {
            id: UserId(next()),
            tenant_id: t,
            role: Role::User,
            first_name: "grant".into(),
            last_name: "paths".into(),
            api_key: None,
            grants: paths
                .iter()
                .map(|p| Grant {
                    path: (*p).into(),
                    capability: Capability::Read,
                })
                .collect(),
        };
        e.put_user(user.clone()).unwrap();
        Actor::of(&user)
    };
    let seen = |actor: &Actor| {
        let mut got: Vec<RunId> = list(&w, actor, ListRuns::default())
            .items
            .into_iter()
            .map(|r| r.id)
            .collect();
        got.sort();
        let summary = e.runs_summary(actor, SummaryQuery::default()).unwrap();
        assert_eq!(
            summary.total,
            got.len() as u64,
            "SUM-1 counts what LIST shows"
        );
        got
    };
    let of = |idx: &[usize]| {
        let mut v: Vec<RunId> = idx.iter().map(|i| runs[*i]).collect();
        v.sort();
        v
    };
    assert_eq!(seen(&with_grants(&["/shared/eng/"])), of(&[0]));
    assert_eq!(seen(&with_grants(&["/shared/eng"])), of(&[0]));
    assert_eq!(seen(&with_grants(&["/shared/en_"])), of(&[2]));
    assert_eq!(seen(&with_grants(&["/shared/%"])), of(&[3]));
    assert_eq!(seen(&with_grants(&["/shared/engineering/flow"])), of(&[1]));
    assert_eq!(
        seen(&with_grants(&["/shared/eng", "/private"])),
        of(&[0, 4])
    );
    assert_eq!(seen(&with_grants(&["/"])), of(&[0, 1, 2, 3, 4]));
    assert_eq!(seen(&with_grants(&["/shared"])), of(&[0, 1, 2, 3]));
    assert_eq!(seen(&with_grants(&["/sha"])), of(&[]));
    assert_eq!(seen(&with_grants(&[])), of(&[]));
}

/// LIST-1: "mine".
pub fn list_mine<S: Store>(store: S) {
    let w = World::new(store);
    let mine = w.draft();
    let _theirs = w
        .engine
        .create_run(&w.owner, w.def.id, CreateRun::default())
        .unwrap();
    let page = list(
        &w,
        &w.triggerer,
        ListRuns {
            mine: true,
            ..ListRuns::default()
        },
    );
    assert_eq!(
        page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    assert_eq!(list(&w, &w.triggerer, ListRuns::default()).total, 2);
}

/// VIS-1 ("or its triggerer"): a USER who holds no grant covering the definition can still
/// read a run it triggered (it lost its grant after creating the run), but not another run of
/// the same definition; and a USER without a grant who did not trigger the run cannot read it.
pub fn vis_1_triggerer_without_grant_reads_its_own_run<S: Store>(store: S) {
    let w = World::new(store);
    let own = w.run_of_former_grantee();
    let other = w.draft();
    assert_eq!(
        w.engine
            .capability_on(&w.former_grantee, &w.def.path)
            .unwrap(),
        None,
        "the former grantee holds no grant covering the definition"
    );
    let got = w.engine.get_run(&w.former_grantee, own.id).unwrap();
    assert_eq!((got.id, got.version), (own.id, own.version));
    let err = w.engine.get_run(&w.former_grantee, other.id).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "not its run, no grant");
    let err = w.engine.get_run(&w.user_no_grant, own.id).unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::NotFound,
        "no grant, not its triggerer"
    );
}

/// LIST-1 and VIS-1 ("or its triggerer"): a USER without a grant covering the definition lists
/// exactly the runs it triggered; another USER without a grant does not see them.
pub fn list_1_triggerer_without_grant_lists_its_own_run<S: Store>(store: S) {
    let w = World::new(store);
    let own = w.run_of_former_grantee();
    let _other = w.draft();
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let page = list(&w, &w.former_grantee, ListRuns::default());
    assert_eq!(page.total, 1);
    assert_eq!(ids(page), vec![own.id]);
    let mine = ListRuns {
        mine: true,
        ..ListRuns::default()
    };
    assert_eq!(ids(list(&w, &w.former_grantee, mine)), vec![own.id]);
    assert!(!ids(list(&w, &w.user_no_grant, ListRuns::default())).contains(&own.id));
    assert_eq!(list(&w, &w.owner, ListRuns::default()).total, 2);
}

/// START-6: a NOT_STARTED run whose definition became a template cannot start (`conflict`), for
/// its triggerer and for an OWNER alike, and the refused start writes nothing (ERR-2).
pub fn start_6_template_definition_conflicts<S: Store>(store: S) {
    let w = World::new(store);
    let (template, run) = w.template_with_draft("templated");
    assert!(template.is_template);
    for actor in [&w.triggerer, &w.owner] {
        let err = w
            .engine
            .start_run(actor, run.id, StartRun::default())
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    }
    let after = w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .unwrap();
    assert_eq!(after, run, "a refused start changed the run");
    assert_eq!(w.history(run.id).len(), 1);
    assert!(w
        .engine
        .store()
        .outbox_for_run(w.tenant, run.id)
        .unwrap()
        .is_empty());
    // The same start on an ordinary definition goes through: the template made the difference.
    let plain = w.draft();
    w.engine
        .start_run(&w.triggerer, plain.id, StartRun::default())
        .unwrap();
}

/// Catalog reads: parts, children in path order, descendants, definitions, users by key.
pub fn catalog_lookups<S: Store>(store: S) {
    let w = World::new(store);
    let s = w.engine.store();
    assert_eq!(
        s.path_part(w.tenant, w.doc.id).unwrap().unwrap().path,
        "/shared/eng/spec.md"
    );
    let children: Vec<String> = s
        .children(w.tenant, w.eng.id)
        .unwrap()
        .into_iter()
        .map(|p| p.path)
        .collect();
    let mut sorted = children.clone();
    sorted.sort();
    assert_eq!(children, sorted);
    assert!(children.contains(&"/shared/eng/summarise".to_string()));
    let below: Vec<PathPartId> = s
        .descendants(w.tenant, w.shared.id)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(
        below.contains(&w.doc_v1.id) && below.contains(&w.eng.id) && !below.contains(&w.shared.id)
    );
    let defs: Vec<DefinitionId> = s
        .definitions(w.tenant)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(defs, vec![w.def.id, w.def_plain.id]);
    assert_eq!(s.definition(w.tenant, w.def.id).unwrap().unwrap(), w.def);
    assert_eq!(
        s.user_by_api_key("sk-test-12").unwrap().map(|u| u.id),
        Some(w.triggerer.user_id)
    );
    assert!(s.user_by_api_key("sk-nope").unwrap().is_none());
    assert_eq!(
        s.tenant(w.tenant).unwrap().map(|t| t.name),
        Some("acme".into())
    );
}

/// `Store::start_facts` (the catalog facts Start pins, SNAP-1..SNAP-4): the instruction, every
/// scope item, the uploads in path order and the common files, each resolved in the run's tenant
/// with a document's active version; missing ids, other tenants' parts, inactive versions and
/// anything below a subfolder of `inputs/` resolve to nothing. A batched override must agree
/// with the part-by-part default, and both with the facts written out here.
pub fn start_facts_resolve_in_the_runs_tenant<S: Store>(store: S) {
    use workflow_core::snapshot::{read_start_facts, Resolved, StartFacts};
    let w = World::new(store);
    let e = &w.engine;
    let s = e.store();
    let t = w.tenant;
    let pid = |n: u128| PathPartId(Uuid::from_u128(0x57a7_0000 | n));
    let mut run = w.draft();
    let inputs = Some(run.folders.inputs_id);
    let b = e
        .put_part(t, pid(1), PathPartKind::Document, "b.txt", inputs)
        .unwrap();
    let b_v = e
        .put_version(t, b.id, pid(2), Ingestion::Completed, true)
        .unwrap();
    let a = e
        .put_part(t, pid(3), PathPartKind::Document, "a.txt", inputs)
        .unwrap();
    e.put_version(t, a.id, pid(4), Ingestion::Completed, false)
        .unwrap();
    let sub = e
        .put_part(t, pid(5), PathPartKind::Folder, "sub", inputs)
        .unwrap();
    e.put_part(t, pid(6), PathPartKind::Document, "deep.txt", Some(sub.id))
        .unwrap();
    let foreign = e
        .put_part(
            w.other_tenant,
            pid(7),
            PathPartKind::Document,
            "x.txt",
            None,
        )
        .unwrap();
    e.put_version(
        w.other_tenant,
        foreign.id,
        pid(8),
        Ingestion::Completed,
        true,
    )
    .unwrap();
    let missing = pid(9);
    run.input_scope = vec![w.doc.id, w.eng.id, w.doc_v1.id, missing, foreign.id, b.id];
    let mut def = w.def.clone();
    def.common_file_ids = vec![w.doc.id, missing];
    let get = |id: PathPartId| s.path_part(t, id).unwrap();
    let instruction_v = s.children(t, w.instruction.id).unwrap();
    assert_eq!(instruction_v.len(), 1);
    let r = |id: PathPartId, version: Option<&PathPart>| Resolved {
        id,
        part: get(id),
        active_version: version.cloned(),
    };
    let doc = r(w.doc.id, Some(&w.doc_v1));
    let expected = StartFacts {
        instruction: Some(r(w.instruction.id, instruction_v.first())),
        scope: vec![
            doc.clone(),
            r(w.eng.id, None),
            r(w.doc_v1.id, None),
            r(missing, None),
            r(foreign.id, None),
            r(b.id, Some(&b_v)),
        ],
        uploads: vec![r(a.id, None), r(b.id, Some(&b_v))],
        common: vec![doc, r(missing, None)],
    };
    assert!(expected.scope[3].part.is_none() && expected.scope[4].part.is_none());
    assert_eq!(s.start_facts(&run, &def).unwrap(), expected);
    assert_eq!(read_start_facts(s, &run, &def).unwrap(), expected);

    // Two more active versions of `b`, written past the engine (which keeps one active): the
    // first in path order is the active one, whatever order the store returns them in.
    let version = |n: u128, path: String| PathPart {
        id: pid(n),
        path,
        ..b_v.clone()
    };
    let (early, late) = (
        version(10, format!("{}/", b.path)),
        version(11, format!("{}/~", b.path)),
    );
    assert!(early.path < b_v.path && b_v.path < late.path);
    s.apply_catalog(&[
        CatalogWrite::PutPart(Box::new(late)),
        CatalogWrite::PutPart(Box::new(early.clone())),
    ])
    .unwrap();
    let expected = StartFacts {
        scope: vec![r(b.id, Some(&early))],
        uploads: vec![r(a.id, None), r(b.id, Some(&early))],
        ..expected
    };
    run.input_scope = vec![b.id];
    assert_eq!(s.start_facts(&run, &def).unwrap(), expected);
    assert_eq!(read_start_facts(s, &run, &def).unwrap(), expected);
}

/// `load_run_with_definition` answers what `load_run` and `definition` answer: the run with
/// its definition; `None` for an unknown id or another tenant's run; `None` beside a run whose
/// definition is gone (a store-level removal: the engine removes runs first, DEF-3).
pub fn run_with_definition_reads_both<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.running();
    let s = w.engine.store();
    let loaded = s.load_run(w.tenant, run.id).unwrap().unwrap();
    let def = s.definition(w.tenant, run.definition_id).unwrap();
    assert!(def.is_some());
    assert_eq!(
        s.load_run_with_definition(w.tenant, run.id).unwrap(),
        Some((loaded.clone(), def))
    );
    assert_eq!(
        s.load_run_with_definition(w.other_tenant, run.id).unwrap(),
        None
    );
    let unknown = RunId(Uuid::new_v4());
    assert_eq!(s.load_run_with_definition(w.tenant, unknown).unwrap(), None);
    s.apply_catalog(&[CatalogWrite::RemoveDefinition(w.tenant, run.definition_id)])
        .unwrap();
    assert_eq!(
        s.load_run_with_definition(w.tenant, run.id).unwrap(),
        Some((loaded, None))
    );
}

/// Requirement "upserts": applying the same catalog writes twice changes nothing.
pub fn catalog_upserts_are_idempotent<S: Store>(store: S) {
    let w = World::new(store);
    let s = w.engine.store();
    let before = s.descendants(w.tenant, w.shared.id).unwrap();
    let writes: Vec<CatalogWrite> = before
        .iter()
        .map(|p| CatalogWrite::PutPart(Box::new(p.clone())))
        .collect();
    s.apply_catalog(&writes).unwrap();
    s.apply_catalog(&writes).unwrap();
    assert_eq!(s.descendants(w.tenant, w.shared.id).unwrap(), before);
    // Writes apply in order, also when one call names a part twice (a store that batches
    // consecutive writes must keep that): renamed and unversioned, then as before.
    let changed: Vec<PathPart> = before
        .iter()
        .map(|p| PathPart {
            name: format!("{}-changed", p.name),
            version: None,
            ..p.clone()
        })
        .collect();
    assert!(
        before.iter().any(|p| p.version.is_some()),
        "the world's shared folder holds a document with version facts"
    );
    let mut twice: Vec<CatalogWrite> = changed
        .iter()
        .map(|p| CatalogWrite::PutPart(Box::new(p.clone())))
        .collect();
    s.apply_catalog(&twice).unwrap();
    assert_eq!(s.descendants(w.tenant, w.shared.id).unwrap(), changed);
    twice.extend(writes.iter().cloned());
    s.apply_catalog(&twice).unwrap();
    assert_eq!(s.descendants(w.tenant, w.shared.id).unwrap(), before);
    assert_eq!(
        s.children(w.tenant, w.eng.id).unwrap().len(),
        before
            .iter()
            .filter(|p| p.parent_id == Some(w.eng.id))
            .count()
    );
}

/// Requirement 7: nothing crosses tenants.
pub fn tenant_isolation<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.running();
    let s = w.engine.store();
    let o = w.other_tenant;
    assert!(s.load_run(o, run.id).unwrap().is_none());
    assert!(s.path_part(o, w.doc.id).unwrap().is_none());
    assert!(s.children(o, w.eng.id).unwrap().is_empty());
    assert!(s.descendants(o, w.shared.id).unwrap().is_empty());
    assert!(s.definition(o, w.def.id).unwrap().is_none());
    assert!(s.definitions(o).unwrap().is_empty());
    assert!(s.user(o, w.owner.user_id).unwrap().is_none());
    assert!(s.history(o, run.id).unwrap().is_empty());
    assert!(s.outbox_for_run(o, run.id).unwrap().is_empty());
    assert!(s.run_id_by_name(o, w.def.id, &run.name).unwrap().is_none());
    let err = w.engine.get_run(&w.other_owner, run.id).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

/// REAP-1 support: `expired_runs` finds IN_PROGRESS runs whose deadline is strictly before
/// `now`, oldest first.
pub fn expired_runs_are_found<S: Store>(store: S) {
    let w = World::new(store);
    let a = w.running();
    w.clock.advance(chrono::Duration::seconds(5));
    let b = w.running();
    let _done = w.run_in(Setup::FailedAfterStart);
    let s = w.engine.store();
    let now = w.engine.now();
    assert!(s.expired_runs(now, 10).unwrap().is_empty());
    let at_deadline = a.deadline_at.unwrap();
    assert!(
        s.expired_runs(at_deadline, 10).unwrap().is_empty(),
        "a deadline is passed only strictly after it (REAP-1: \"more than\")"
    );
    let just_after = at_deadline + chrono::Duration::nanoseconds(1000);
    assert_eq!(
        s.expired_runs(just_after, 10).unwrap(),
        vec![(w.tenant, a.id)]
    );
    let later = now + chrono::Duration::hours(3);
    assert_eq!(
        s.expired_runs(later, 10).unwrap(),
        vec![(w.tenant, a.id), (w.tenant, b.id)]
    );
    assert_eq!(s.expired_runs(later, 1).unwrap().len(), 1);
}

/// UPDATE-4: a rename moves the run folder and every descendant's path.
pub fn rename_moves_folder_paths<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let (run, _) = w
        .engine
        .add_upload(
            &w.triggerer,
            run.id,
            NewUpload {
                name: "a.txt".into(),
                ingestion: Ingestion::Completed,
            },
        )
        .unwrap();
    let renamed = w
        .engine
        .update_run(
            &w.triggerer,
            run.id,
            UpdateRun {
                name: Some("weekly".into()),
                ..UpdateRun::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.folders.path, "/shared/eng/summarise/runs/weekly");
    let s = w.engine.store();
    assert_eq!(
        s.path_part(w.tenant, run.id.into()).unwrap().unwrap().path,
        renamed.folders.path
    );
    for p in s.descendants(w.tenant, run.id.into()).unwrap() {
        assert!(
            p.path.starts_with("/shared/eng/summarise/runs/weekly/"),
            "{}",
            p.path
        );
    }
    assert_eq!(
        s.run_id_by_name(w.tenant, w.def.id, "weekly").unwrap(),
        Some(run.id)
    );
    assert_eq!(
        s.run_id_by_name(w.tenant, w.def.id, &run.name).unwrap(),
        None
    );
}

/// DELETE-3: the folder and everything under it go with the run.
pub fn delete_removes_folder_subtree<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.run_in(Setup::Pending);
    let s = w.engine.store();
    let below = s.descendants(w.tenant, run.id.into()).unwrap();
    assert_eq!(
        below.len(),
        5,
        "inputs, outputs, discussions, the upload and its version"
    );
    w.engine.delete_run(&w.triggerer, run.id).unwrap();
    assert!(s.path_part(w.tenant, run.id.into()).unwrap().is_none());
    for p in below {
        assert!(s.path_part(w.tenant, p.id).unwrap().is_none());
    }
    assert!(s
        .children(w.tenant, w.def.runs_folder_id)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.run_id_by_name(w.tenant, w.def.id, &run.name).unwrap(),
        None
    );
}

/// Requirement 4: of concurrent commits on one version, exactly one applies (real threads).
pub fn concurrent_commits_exactly_one_wins<S: Store + 'static>(store: S) {
    let w = Arc::new(World::new(store));
    for _ in 0..20 {
        let run = w.draft();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (w, run, barrier) = (w.clone(), run.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut next = bumped(&run);
                    next.input_scope = vec![PathPartId(Uuid::from_u128(i))];
                    barrier.wait();
                    w.engine
                        .store()
                        .commit(commit_of(&run, 1, RunWrite::Put(Box::new(next))))
                        .unwrap()
                })
            })
            .collect();
        let outcomes: Vec<CommitOutcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Committed)
            .count();
        assert_eq!(wins, 1, "{outcomes:?}");
        assert_eq!(w.history(run.id).len(), 2);
    }
}

/// Requirement 8: a commit whose parts disagree (history seq, row version) is an error and
/// writes nothing.
pub fn mismatched_commit_is_refused<S: Store>(store: S) {
    let w = World::new(store);
    let run = w.draft();
    let mut c = commit_of(&run, 1, RunWrite::Put(Box::new(run.clone())));
    assert!(
        w.engine.store().commit(c.clone()).is_err(),
        "row version not bumped"
    );
    c.write = RunWrite::Put(Box::new(bumped(&run)));
    c.history.seq = 5;
    assert!(
        w.engine.store().commit(c).is_err(),
        "history seq not expected + 1"
    );
    assert_eq!(w.history(run.id).len(), 1);
    assert_eq!(
        w.engine
            .store()
            .load_run(w.tenant, run.id)
            .unwrap()
            .unwrap(),
        run
    );
}

/// A definition in `/shared/eng` owned by OWNER with a schedule from `start_at` in `zone`.
fn scheduled_definition<S: Store>(
    w: &World<S>,
    name: &str,
    cadence: ScheduleCadence,
    start_at: Timestamp,
    zone: &str,
    is_active: bool,
    is_template: bool,
) -> Definition {
    w.engine
        .create_definition(
            &w.owner,
            NewDefinition {
                parent_id: w.eng.id,
                name: name.into(),
                is_active,
                is_template,
                create_empty_instruction: true,
                schedule: ScheduleFields {
                    cadence: Some(cadence),
                    start_at: Some(start_at),
                    timezone: Some(zone.into()),
                },
                ..NewDefinition::default()
            },
        )
        .unwrap()
}

/// The live runs of a definition, oldest first.
fn runs_of<S: Store>(w: &World<S>, def: DefinitionId) -> Vec<Run> {
    let mut page = w
        .engine
        .store()
        .list_runs(&RunQuery {
            definition_id: Some(def),
            dir: SortDir::Asc,
            ..RunQuery::all(w.tenant)
        })
        .unwrap();
    assert!(page.total <= 100, "more runs than one page");
    page.items.sort_by_key(|r| r.created_at);
    page.items
}

/// SCHED-3: 30 simulated days of a DAILY schedule (Europe/London, 01:00 local) give 30 runs,
/// one per occurrence, each created and started as the definition's owner, named after the
/// definition and the local occurrence time, keyed by the occurrence; firing again (a second
/// tick, a restarted process) adds nothing.
pub fn sched_3_thirty_days_of_a_daily_schedule_give_thirty_runs<S: Store>(store: S) {
    let w = World::new(store);
    let t0 = w.clock.now();
    let def = scheduled_definition(
        &w,
        "nightly",
        ScheduleCadence::Daily,
        t0 + chrono::Duration::hours(1),
        "Europe/London",
        true,
        false,
    );
    for day in 0..30 {
        w.clock
            .set(t0 + chrono::Duration::days(day) + chrono::Duration::hours(4));
        let first = w.engine.fire_due_schedules().unwrap();
        assert_eq!(first.started(), 1, "day {day}: {first:?}");
        assert_eq!(first.skipped(), 0, "day {day}");
        let again = w.engine.fire_due_schedules().unwrap();
        assert_eq!(again.started(), 0, "day {day}: {again:?}");
        assert_eq!(
            again.count(|o| *o == FireOutcome::AlreadyFired),
            1,
            "day {day}"
        );
        w.clock.advance(chrono::Duration::hours(12));
        assert_eq!(w.engine.fire_due_schedules().unwrap().started(), 0);
    }
    let runs = runs_of(&w, def.id);
    assert_eq!(runs.len(), 30);
    for (day, run) in runs.iter().enumerate() {
        let occurrence = t0 + chrono::Duration::hours(1) + chrono::Duration::days(day as i64);
        assert_eq!(
            run.idempotency_key.as_deref(),
            Some(&*schedule_key(occurrence))
        );
        assert_eq!(run.triggered_by, w.owner.user_id);
        assert_eq!(run.execution_state, ExecutionState::InProgress);
        let local = occurrence.format("%Y-%m-%d 01:00").to_string();
        assert_eq!(run.name, format!("nightly {local} GMT"));
    }
}

/// SCHED-4: a jump of 10 days forward fires one catch-up run, the latest missed occurrence,
/// and reports the 9 older ones skipped; SCHED-3: a jump backwards fires no duplicate (neither
/// an occurrence that fired nor an older skipped one).
pub fn sched_4_jump_forward_catches_up_once_and_backwards_duplicates_nothing<S: Store>(store: S) {
    let w = World::new(store);
    let t0 = w.clock.now();
    let start = t0 + chrono::Duration::hours(1);
    let def = scheduled_definition(
        &w,
        "catch-up",
        ScheduleCadence::Daily,
        start,
        "America/New_York",
        true,
        false,
    );
    // Before the first occurrence: nothing.
    assert_eq!(
        w.engine.fire_due_schedules().unwrap(),
        FireReport::default()
    );
    w.clock.set(start + chrono::Duration::minutes(1));
    assert_eq!(w.engine.fire_due_schedules().unwrap().started(), 1);
    w.clock.advance(chrono::Duration::days(10));
    let r = w.engine.fire_due_schedules().unwrap();
    assert_eq!((r.started(), r.skipped()), (1, 9), "{r:?}");
    assert_eq!(r.firings[0].occurrence, start + chrono::Duration::days(10));
    assert_eq!(w.engine.fire_due_schedules().unwrap().started(), 0);
    assert_eq!(runs_of(&w, def.id).len(), 2);
    // Backwards: into the skipped days, then onto the first occurrence.
    w.clock
        .set(start + chrono::Duration::days(5) + chrono::Duration::minutes(1));
    let back = w.engine.fire_due_schedules().unwrap();
    assert_eq!(back.started(), 0, "{back:?}");
    assert_eq!(back.count(|o| *o == FireOutcome::ClockWentBack), 1);
    w.clock.set(start + chrono::Duration::minutes(2));
    assert_eq!(w.engine.fire_due_schedules().unwrap().started(), 0);
    assert_eq!(runs_of(&w, def.id).len(), 2);
    // Forward again: the next occurrence fires as usual.
    w.clock.set(start + chrono::Duration::days(11));
    assert_eq!(w.engine.fire_due_schedules().unwrap().started(), 1);
    assert_eq!(runs_of(&w, def.id).len(), 3);
}

/// SCHED-5: an inactive definition, a template and a cleared schedule fire nothing; a changed
/// schedule takes effect from its next occurrence (an occurrence before the change never
/// fires); a start the rules refuse leaves the run NOT_STARTED, is reported, and the schedule
/// goes on.
pub fn sched_5_inactive_template_cleared_fire_nothing<S: Store>(store: S) {
    let w = World::new(store);
    let e = &w.engine;
    let t0 = w.clock.now();
    let start = t0 + chrono::Duration::hours(1);
    let inactive = scheduled_definition(
        &w,
        "inactive",
        ScheduleCadence::Daily,
        start,
        "UTC",
        false,
        false,
    );
    let template = scheduled_definition(
        &w,
        "template",
        ScheduleCadence::Daily,
        start,
        "UTC",
        true,
        true,
    );
    let cleared = scheduled_definition(
        &w,
        "cleared",
        ScheduleCadence::Daily,
        start,
        "UTC",
        true,
        false,
    );
    let put = |d: &Definition, schedule: ScheduleFields| PutDefinition {
        name: d.name.clone(),
        is_active: d.is_active,
        approval_required: d.approval_required,
        schedule,
        ..PutDefinition::default()
    };
    let cleared = e
        .put_definition(
            &w.owner,
            cleared.id,
            put(&cleared, ScheduleFields::default()),
        )
        .unwrap();
    assert_eq!(cleared.schedule, None);
    // Changed at t0 + 3 days 12:00 to 06:00 daily from the start: the 06:00 occurrences up to
    // the change never fire; the next one does.
    let changed = scheduled_definition(
        &w,
        "changed",
        ScheduleCadence::Weekly,
        start,
        "UTC",
        true,
        false,
    );
    w.clock
        .set(t0 + chrono::Duration::days(3) + chrono::Duration::hours(12));
    let changed = e
        .put_definition(
            &w.owner,
            changed.id,
            put(
                &changed,
                ScheduleFields {
                    cadence: Some(ScheduleCadence::Daily),
                    start_at: Some(t0 + chrono::Duration::hours(6)),
                    timezone: Some("UTC".into()),
                },
            ),
        )
        .unwrap();
    let r = e.fire_due_schedules().unwrap();
    assert!(r.firings.is_empty(), "{r:?}");
    w.clock.advance(chrono::Duration::days(3));
    let r = e.fire_due_schedules().unwrap();
    assert_eq!(r.started(), 1, "{r:?}");
    assert_eq!(r.firings[0].definition_id, changed.id);
    assert_eq!(r.firings[0].skipped, 2, "{r:?}");
    for d in [inactive.id, template.id, cleared.id] {
        assert!(runs_of(&w, d).is_empty());
    }
    assert_eq!(runs_of(&w, changed.id).len(), 1);
}
