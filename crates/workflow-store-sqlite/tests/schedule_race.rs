//! SCHED-3 across connections: two engines on one SQLite file fire the same occurrence in
//! racing threads, again and again; every occurrence gets exactly one run, created and started
//! once (CREATE-6 idempotency key plus the version-checked commit).
//!
//! Races: `SCHED_RACES` (default 200); the count is printed.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::sync::{Arc, Barrier};
use workflow_conformance::world::epoch;
use workflow_core::*;
use workflow_store_sqlite::SqliteStore;

#[test]
fn sched_3_two_engines_racing_on_one_file_make_one_run_per_occurrence() {
    let races = workflow_conformance::env_count("SCHED_RACES", 200);
    let dir = tempfile::tempdir().unwrap();
    let path = world_file(dir.path(), "sched.sqlite");
    let clock = Arc::new(ManualClock::new(epoch()));
    let engines: Vec<Arc<Engine<SqliteStore>>> = (0..2)
        .map(|_| Arc::new(Engine::new(SqliteStore::open(&path).unwrap()).with_clock(clock.clone())))
        .collect();
    let owner = actor(engines[0].store(), OWNER);
    let def = engines[0]
        .store()
        .definition(tenant(), DefinitionId(wid(DEF)))
        .unwrap()
        .unwrap();
    let start = epoch() + chrono::Duration::minutes(1);
    engines[0]
        .put_definition(
            &owner,
            def.id,
            PutDefinition {
                name: def.name.clone(),
                is_active: true,
                approval_required: def.approval_required,
                max_run_duration_seconds: Some(def.max_run_duration_seconds),
                schedule: ScheduleFields {
                    cadence: Some(ScheduleCadence::Daily),
                    start_at: Some(start),
                    timezone: Some("UTC".into()),
                },
                ..PutDefinition::default()
            },
        )
        .unwrap();
    let mut per_occurrence = std::collections::BTreeMap::<usize, usize>::new();
    let mut started_reports = 0;
    for i in 0..races {
        let occurrence = start + chrono::Duration::days(i as i64);
        clock.set(occurrence + chrono::Duration::seconds(1));
        let barrier = Arc::new(Barrier::new(engines.len()));
        let handles: Vec<_> = engines
            .iter()
            .map(|e| {
                let (e, barrier) = (e.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    e.fire_due_schedules().unwrap()
                })
            })
            .collect();
        for h in handles {
            let report = h.join().unwrap();
            for f in &report.firings {
                assert!(
                    matches!(f.outcome, FireOutcome::Started | FireOutcome::AlreadyFired),
                    "race {i}: {f:?}"
                );
                assert_eq!(f.occurrence, occurrence);
            }
            started_reports += report.started();
        }
        let key = schedule_key(occurrence);
        let runs = engines[0]
            .store()
            .list_runs(&RunQuery {
                definition_id: Some(def.id),
                triggered_by: Some(owner.user_id),
                ..RunQuery::all(tenant())
            })
            .unwrap();
        let matching: Vec<&Run> = runs
            .items
            .iter()
            .filter(|r| r.idempotency_key.as_deref() == Some(key.as_str()))
            .collect();
        *per_occurrence.entry(matching.len()).or_default() += 1;
        assert_eq!(matching.len(), 1, "race {i}: {} runs", matching.len());
        let run = matching[0];
        assert_eq!(run.execution_state, ExecutionState::InProgress);
        assert_eq!(run.attempt, 1, "started once");
        let history = engines[0].history(tenant(), run.id).unwrap();
        let starts = history.iter().filter(|h| h.event == Event::Started).count();
        assert_eq!(starts, 1, "race {i}: one Start");
    }
    println!(
        "SCHED-3 races: {races}; runs per occurrence -> occurrences: {per_occurrence:?}; \
         engines reporting Started: {started_reports}"
    );
}
