use super::*;

/// VIS-1: other tenants and users without a grant get `not_found` for every operation; readers
/// who may not change a run get `forbidden`.
#[test]
fn vis_1_unreadable_is_not_found_readable_is_forbidden() {
    let w = world();
    let run = w.running();
    for actor in [&w.other_owner, &w.user_no_grant] {
        assert_eq!(code(w.engine.get_run(actor, run.id)), ErrorCode::NotFound);
        assert_eq!(code(w.engine.stop_run(actor, run.id)), ErrorCode::NotFound);
        assert_eq!(
            code(w.engine.delete_run(actor, run.id)),
            ErrorCode::NotFound
        );
    }
    assert_eq!(
        code(w.engine.stop_run(&w.user_read, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.get_run(&w.user_read, run.id).is_ok());
}

/// VIS-2: the permission check comes before the state check.
#[test]
fn vis_2_permission_before_state() {
    let w = world();
    let done = w.run_in(Setup::CompletedNotRequired);
    assert_eq!(
        code(w.engine.stop_run(&w.user_read, done.id)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .start_run(&w.user_read_write, done.id, StartRun::default())
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.start_run(&w.owner, done.id, StartRun::default())),
        ErrorCode::Conflict
    );
}
