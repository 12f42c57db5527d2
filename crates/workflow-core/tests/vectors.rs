//! The table test: every state × operation × actor of `transitions.json` (a copy of the SPEC's
//! `vectors/transitions.json`, SPEC sections 3 and 6) against the engine on the memory store.
//! Each case runs on a fresh run in the named state; a refused call must change nothing
//! (ERR-2), and VIS-1/VIS-2 ordering is checked by the expected codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// Cases where we knowingly disagree with the vectors (none): `(state, op, actor)`.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

struct Observed {
    result: &'static str,
    code: Option<String>,
    answer: Option<String>,
    execution_state: String,
    approval_state: String,
}

fn run_case(w: &World<MemoryStore>, state: &str, op: &str, actor_name: &str) -> Observed {
    let setup = Setup::from_vector_name(state).expect("known state");
    let run = w.run_in(setup);
    let actor = w.actor(actor_name).expect("known actor");
    let e = &w.engine;
    let before = e.store().load_run(w.tenant, run.id).unwrap().unwrap();
    let history_before = w.history(run.id);
    let outbox_before = e.store().outbox_for_run(w.tenant, run.id).unwrap().len();
    let runs_before = e
        .list_runs(
            &w.owner,
            ListRuns {
                limit: 100,
                ..ListRuns::default()
            },
        )
        .unwrap()
        .total;

    let mut answer = None;
    let result: Result<()> = match op {
        "get" => e.get_run(&actor, run.id).map(drop),
        "update_name" => e
            .update_run(
                &actor,
                run.id,
                UpdateRun {
                    name: Some(format!("renamed-{}", run.id)),
                    ..UpdateRun::default()
                },
            )
            .map(drop),
        "start" => e.start_run(&actor, run.id, StartRun::default()).map(drop),
        "stop" => e.stop_run(&actor, run.id).map(|r| {
            if r.execution_state == ExecutionState::Failed
                && before.execution_state == ExecutionState::InProgress
            {
                answer = Some(format!("error = '{}'", r.error.unwrap_or_default()));
            }
        }),
        "callback_completed" | "callback_failed" => {
            let status = if op == "callback_completed" {
                CallbackStatus::Completed
            } else {
                CallbackStatus::Failed
            };
            let error = (status == CallbackStatus::Failed).then(|| "boom".to_string());
            e.callback(
                &actor,
                run.id,
                Callback {
                    status,
                    error,
                    attempt: None,
                },
            )
            .map(|r| {
                answer = Some(r.outcome.as_str().to_string());
            })
        }
        "retry" => e.retry_run(&actor, run.id).map(drop),
        "clone_with_inputs" => e
            .clone_run(
                &actor,
                run.id,
                CloneRun {
                    include_inputs: true,
                },
            )
            .map(|new| {
                assert_eq!(new.execution_state, ExecutionState::NotStarted);
                assert_eq!(
                    new.triggered_by, actor.user_id,
                    "CLONE-1: triggered by the caller"
                );
                assert_ne!(new.id, run.id);
                let source_after = e.store().load_run(w.tenant, run.id).unwrap().unwrap();
                assert_eq!(source_after, before, "CLONE-1: source unchanged");
                answer = Some("new NOT_STARTED run; source unchanged".into());
            }),
        "approve" => e
            .approve_run(
                &actor,
                run.id,
                Approve {
                    state: ApprovalState::Approved,
                    reason: None,
                },
            )
            .map(drop),
        "delete" => e.delete_run(&actor, run.id),
        "post_user_message" => e.check_thread_message(&actor, run.id).map(drop),
        other => panic!("unknown op {other}"),
    };

    let after = e.store().load_run(w.tenant, run.id).unwrap();
    if let Err(err) = &result {
        // ERR-2: a refused operation writes nothing.
        assert_eq!(
            after.as_ref(),
            Some(&before),
            "{state}/{op}/{actor_name}: refused call changed the run"
        );
        assert_eq!(
            w.history(run.id),
            history_before,
            "{state}/{op}/{actor_name}: refused call wrote history"
        );
        assert_eq!(
            e.store().outbox_for_run(w.tenant, run.id).unwrap().len(),
            outbox_before
        );
        let runs_after = e
            .list_runs(
                &w.owner,
                ListRuns {
                    limit: 100,
                    ..ListRuns::default()
                },
            )
            .unwrap()
            .total;
        assert_eq!(
            runs_after, runs_before,
            "{state}/{op}/{actor_name}: refused call created a run"
        );
        let _ = err;
    }
    let (execution_state, approval_state) = match &after {
        Some(r) => (
            r.execution_state.as_str().to_string(),
            r.approval_state.as_str().to_string(),
        ),
        None => {
            assert_eq!(
                e.get_run(&w.owner, run.id).unwrap_err().code(),
                ErrorCode::NotFound,
                "DELETE-3"
            );
            ("DELETED".to_string(), "None".to_string())
        }
    };
    Observed {
        result: if result.is_ok() { "ok" } else { "error" },
        code: result.err().map(|e| e.code().as_str().to_string()),
        answer,
        execution_state,
        approval_state,
    }
}

/// SPEC sections 3 and 6 as data: all 704 cases (VIS-1, VIS-2 and every operation's rules).
#[test]
fn every_state_operation_actor_case_matches_the_vectors() {
    let vectors: Value = serde_json::from_str(include_str!("transitions.json")).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 704);
    let w = World::new(MemoryStore::new());
    let mut failures = Vec::new();
    for c in cases {
        let (state, op, actor) = (
            c["state"].as_str().unwrap(),
            c["op"].as_str().unwrap(),
            c["actor"].as_str().unwrap(),
        );
        let exp = &c["expect"];
        let got = run_case(&w, state, op, actor);
        let mut wrong = Vec::new();
        if got.result != exp["result"].as_str().unwrap() {
            wrong.push(format!("result {} (code {:?})", got.result, got.code));
        }
        if let Some(code) = exp["code"].as_str() {
            if got.code.as_deref() != Some(code) {
                wrong.push(format!("code {:?} != {code}", got.code));
            }
        }
        if let Some(a) = exp["answer"].as_str() {
            if got.answer.as_deref() != Some(a) {
                wrong.push(format!("answer {:?} != {a}", got.answer));
            }
        }
        if got.execution_state != exp["execution_state"].as_str().unwrap() {
            wrong.push(format!(
                "execution_state {} != {}",
                got.execution_state, exp["execution_state"]
            ));
        }
        let exp_approval = exp["approval_state"].as_str().unwrap_or("None");
        if got.approval_state != exp_approval {
            wrong.push(format!(
                "approval_state {} != {exp_approval}",
                got.approval_state
            ));
        }
        let excepted = EXCEPTIONS.contains(&(state, op, actor));
        if !wrong.is_empty() && !excepted {
            failures.push(format!(
                "{state} / {op} / {actor} ({}): {}",
                c["expect"]["rules"],
                wrong.join("; ")
            ));
        }
        if wrong.is_empty() && excepted {
            failures.push(format!(
                "{state} / {op} / {actor}: listed as an exception but passes"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 704 cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
