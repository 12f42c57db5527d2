use super::*;

/// DELETE-1: IN_PROGRESS runs cannot be deleted.
#[test]
fn delete_1_running_conflicts() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.delete_run(&w.owner, run.id)),
        ErrorCode::Conflict
    );
}

/// DELETE-2: triggerer or admin.
#[test]
fn delete_2_triggerer_or_admin() {
    let w = world();
    let run = w.draft();
    assert_eq!(
        code(w.engine.delete_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.delete_run(&w.triggerer, run.id).is_ok());
}

/// DELETE-3: the run and its folder go; Get is not_found; history records the deletion.
#[test]
fn delete_3_gone_with_history() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    w.engine.delete_run(&w.owner, run.id).unwrap();
    assert_eq!(
        code(w.engine.get_run(&w.owner, run.id)),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(w.engine.delete_run(&w.owner, run.id)),
        ErrorCode::NotFound
    );
    assert!(w
        .engine
        .store()
        .path_part(w.tenant, run.id.into())
        .unwrap()
        .is_none());
    let last = w.history(run.id).pop().unwrap();
    assert_eq!(
        (last.event, last.from, last.to),
        (Event::Deleted, Some(ExecutionState::Failed), None)
    );
}
