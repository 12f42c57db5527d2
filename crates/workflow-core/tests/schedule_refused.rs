//! SCHED-5: a start the rules refuse leaves the scheduled run NOT_STARTED and is reported; the
//! schedule goes on. The refusal is provoked by deactivating the definition between the
//! scheduler's create and its start (the create's commit deactivates it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_conformance::world::World;
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// On the first run-creating commit while armed, deactivates that run's definition.
struct DeactivateOnCreate {
    armed: Arc<AtomicBool>,
}

impl Interceptor<MemoryStore> for DeactivateOnCreate {
    fn before(&self, inner: &MemoryStore, call: Call<'_>) -> StoreResult<()> {
        if let Call::Commit(c) = call {
            if c.expected_version == 0 && self.armed.swap(false, Ordering::SeqCst) {
                let run_def = match &c.write {
                    RunWrite::Put(run) => run.definition_id,
                    _ => return Ok(()),
                };
                let mut def = inner.definition(c.tenant_id, run_def)?.unwrap();
                def.is_active = false;
                inner.apply_catalog(&[CatalogWrite::Definition(Box::new(def))])?;
            }
        }
        Ok(())
    }
}

#[test]
fn sched_5_refused_start_leaves_the_run_not_started_and_the_schedule_goes_on() {
    let armed = Arc::new(AtomicBool::new(false));
    let hook = DeactivateOnCreate {
        armed: armed.clone(),
    };
    let w = World::new(Intercepted::new(MemoryStore::new(), hook));
    let e = &w.engine;
    let t0 = w.clock.now();
    let def = e
        .create_definition(
            &w.owner,
            NewDefinition {
                parent_id: w.eng.id,
                name: "refused".into(),
                is_active: true,
                create_empty_instruction: true,
                schedule: ScheduleFields {
                    cadence: Some(ScheduleCadence::Daily),
                    start_at: Some(t0 + chrono::Duration::hours(1)),
                    timezone: Some("UTC".into()),
                },
                ..NewDefinition::default()
            },
        )
        .unwrap();
    w.clock.set(t0 + chrono::Duration::hours(2));
    armed.store(true, Ordering::SeqCst);
    let r = e.fire_due_schedules().unwrap();
    assert_eq!(r.firings.len(), 1, "{r:?}");
    assert!(
        matches!(r.firings[0].outcome, FireOutcome::StartRefused(ref why) if why.contains("inactive")),
        "{r:?}"
    );
    let refused = r.firings[0].run_id.unwrap();
    let run = e.store().load_run(w.tenant, refused).unwrap().unwrap();
    assert_eq!(run.execution_state, ExecutionState::NotStarted);
    // Inactive: nothing fires.
    w.clock
        .set(t0 + chrono::Duration::days(1) + chrono::Duration::hours(2));
    assert!(e.fire_due_schedules().unwrap().firings.is_empty());
    // Reactivated: the next occurrence after the change is a new, started run; the refused
    // one stays NOT_STARTED.
    let def = e.store().definition(w.tenant, def.id).unwrap().unwrap();
    e.put_definition(
        &w.owner,
        def.id,
        PutDefinition {
            name: def.name.clone(),
            is_active: true,
            approval_required: def.approval_required,
            schedule: ScheduleFields {
                cadence: Some(ScheduleCadence::Daily),
                start_at: Some(t0 + chrono::Duration::hours(1)),
                timezone: Some("UTC".into()),
            },
            ..PutDefinition::default()
        },
    )
    .unwrap();
    w.clock
        .set(t0 + chrono::Duration::days(2) + chrono::Duration::hours(2));
    let r = e.fire_due_schedules().unwrap();
    assert_eq!(r.started(), 1, "{r:?}");
    let run = e.store().load_run(w.tenant, refused).unwrap().unwrap();
    assert_eq!(run.execution_state, ExecutionState::NotStarted);
}
