use super::*;

/// APPROVE-1: state must be approved; reason ≤ 2048.
#[test]
fn approve_1_state_and_reason() {
    let w = world();
    let run = w.run_in(Setup::CompletedApprovalPending);
    let bad = Approve {
        state: ApprovalState::Pending,
        reason: None,
    };
    assert_eq!(
        code(w.engine.approve_run(&w.owner, run.id, bad)),
        ErrorCode::UnprocessableEntity
    );
    let long = Approve {
        state: ApprovalState::Approved,
        reason: Some("r".repeat(2049)),
    };
    assert_eq!(
        code(w.engine.approve_run(&w.owner, run.id, long)),
        ErrorCode::UnprocessableEntity
    );
}

/// APPROVE-2: the run must be COMPLETED and require approval.
#[test]
fn approve_2_completed_and_required() {
    let w = world();
    for s in [
        Setup::InProgress,
        Setup::CompletedNotRequired,
        Setup::FailedAfterStart,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.approve_run(&w.owner, run.id, approve())),
            ErrorCode::Conflict,
            "{s:?}"
        );
    }
}

/// APPROVE-3: every output document, then the run; each approval recorded.
#[test]
fn approve_3_outputs_then_run() {
    let w = world();
    let run = w.running();
    let runner = w.triggerer.clone().assumed();
    let a = w.engine.add_output(&runner, run.id, "report.md").unwrap();
    let b = w.engine.add_output(&runner, run.id, "data.csv").unwrap();
    assert_eq!(a.approval_state, ApprovalState::Pending);
    w.engine
        .callback(&runner, run.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    let approved = w
        .engine
        .approve_run(&w.user_read_write, run.id, approve())
        .unwrap();
    assert_eq!(approved.approval_state, ApprovalState::Approved);
    let rec = approved.approval.unwrap();
    assert_eq!(
        (rec.by, rec.reason.as_deref()),
        (w.user_read_write.user_id, Some("looks right"))
    );
    for doc in [a, b] {
        let d = w
            .engine
            .store()
            .path_part(w.tenant, doc.id)
            .unwrap()
            .unwrap();
        assert_eq!(d.approval_state, ApprovalState::Approved);
        assert_eq!(d.approval.unwrap().by, w.user_read_write.user_id);
    }
}

/// APPROVE-4: an approved run is returned unchanged.
#[test]
fn approve_4_idempotent() {
    let w = world();
    let run = w.run_in(Setup::CompletedApproved);
    assert_eq!(
        w.engine.approve_run(&w.admin, run.id, approve()).unwrap(),
        run
    );
}

/// APPROVE-5: write access to the run folder needed; assumed actors never approve.
#[test]
fn approve_5_write_access_not_assumed() {
    let w = world();
    let run = w.run_in(Setup::CompletedApprovalPending);
    assert_eq!(
        code(w.engine.approve_run(&w.triggerer, run.id, approve())),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .approve_run(&w.owner.clone().assumed(), run.id, approve())
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .approve_run(&w.user_read_write.clone().assumed(), run.id, approve())
        ),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .approve_run(&w.user_read_write, run.id, approve())
        .is_ok());
}
