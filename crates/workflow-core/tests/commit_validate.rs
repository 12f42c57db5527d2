//! `Commit::validate`, the pre-checks every store runs before writing (store requirements 2
//! and 3): what it asks a store, in which order, and what `keys_unchanged` lets it skip.
//! UPDATE-4: a rename is never "unchanged", so its name is always checked.
#![allow(clippy::unwrap_used, missing_docs)]

use workflow_conformance::world::{commit_of, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// Answers from fixed facts and records what was asked.
struct Facts {
    current: Option<(u64, TenantId)>,
    name_taken: bool,
    key_taken: bool,
    asked: Vec<&'static str>,
}

impl CommitProbe for Facts {
    fn current(&mut self, _: RunId) -> StoreResult<Option<(u64, TenantId)>> {
        self.asked.push("current");
        Ok(self.current)
    }
    fn ever_used(&mut self, _: RunId) -> StoreResult<bool> {
        self.asked.push("ever_used");
        Ok(true)
    }
    fn name_taken(&mut self, _: DefinitionId, _: &str, _: RunId) -> StoreResult<bool> {
        self.asked.push("name_taken");
        Ok(self.name_taken)
    }
    fn idempotency_taken(
        &mut self,
        _: DefinitionId,
        _: UserId,
        _: &str,
        _: RunId,
    ) -> StoreResult<bool> {
        self.asked.push("idempotency_taken");
        Ok(self.key_taken)
    }
}

fn update(run: &Run, next: Run, keys_unchanged: bool) -> Commit {
    Commit {
        keys_unchanged,
        ..commit_of(run, run.version, RunWrite::Put(Box::new(next)))
    }
}

fn facts(version: u64, tenant: TenantId) -> Facts {
    Facts {
        current: Some((version, tenant)),
        name_taken: true,
        key_taken: true,
        asked: vec![],
    }
}

#[test]
fn unchanged_keys_skip_the_uniqueness_checks_and_nothing_else() {
    let w = World::new(MemoryStore::new());
    let run = w
        .engine
        .create_run(
            &w.triggerer,
            w.def.id,
            CreateRun {
                idempotency_key: Some("k-1".into()),
                ..CreateRun::default()
            },
        )
        .unwrap();
    let mut next = run.clone();
    next.version += 1;
    next.execution_state = ExecutionState::InProgress;
    assert!(Commit::keys_unchanged(&run, &next));

    // Unchanged keys: the version check alone (the probe would call the name taken).
    let mut f = facts(run.version, run.tenant_id);
    let answer = update(&run, next.clone(), true).validate(&mut f).unwrap();
    assert_eq!(answer, Ok(Some(run.version)));
    assert_eq!(f.asked, ["current"]);

    // The same commit without the flag runs every check, in order.
    let mut f = facts(run.version, run.tenant_id);
    let answer = update(&run, next.clone(), false).validate(&mut f).unwrap();
    assert_eq!(answer, Err(ConflictKind::NameTaken));
    assert_eq!(f.asked, ["current", "name_taken"]);
    let mut f = Facts {
        name_taken: false,
        ..facts(run.version, run.tenant_id)
    };
    let answer = update(&run, next.clone(), false).validate(&mut f).unwrap();
    assert_eq!(answer, Err(ConflictKind::IdempotencyKey));
    assert_eq!(f.asked, ["current", "name_taken", "idempotency_taken"]);

    // The flag never skips the version or tenant check.
    let mut f = facts(run.version + 1, run.tenant_id);
    let answer = update(&run, next.clone(), true).validate(&mut f).unwrap();
    assert_eq!(
        answer,
        Err(ConflictKind::Version {
            current: Some(run.version + 1)
        })
    );
    let mut f = facts(run.version, w.other_tenant);
    let answer = update(&run, next, true).validate(&mut f).unwrap();
    assert!(matches!(answer, Err(ConflictKind::Version { .. })));
}

/// UPDATE-4: a renamed row, or one whose key, creator or definition changed, is not unchanged.
#[test]
fn update_4_a_rename_is_never_unchanged() {
    let w = World::new(MemoryStore::new());
    let run = w.draft();
    let changed: [fn(&mut Run); 4] = [
        |r| r.name.push('x'),
        |r| r.idempotency_key = Some("other".into()),
        |r| r.triggered_by = UserId(workflow_core::uuid::Uuid::from_u128(99)),
        |r| r.definition_id = DefinitionId(workflow_core::uuid::Uuid::from_u128(98)),
    ];
    for change in changed {
        let mut next = run.clone();
        change(&mut next);
        assert!(!Commit::keys_unchanged(&run, &next));
    }
    // Through the engine: a rename onto a sibling's name is still refused.
    let sibling = w.draft();
    let err = w
        .engine
        .update_run(
            &w.triggerer,
            run.id,
            UpdateRun {
                name: Some(sibling.name.clone()),
                ..UpdateRun::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}
