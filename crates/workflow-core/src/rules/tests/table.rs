//! The state × operation × actor table of `tests/transitions.json` (a copy of the SPEC's
//! `vectors/transitions.json`, SPEC sections 3 and 6), decided by the pure rules alone: each of
//! the 704 cases builds its run, definition, actor and grants as plain values, calls the
//! operation's `decide_*` with facts under which it succeeds when the rules allow it, and
//! compares ok/error, the error code, the resulting states and the answer.

use super::*;
use serde_json::Value;

const VECTORS: &str = include_str!("../../../tests/transitions.json");

/// The run and definition of a state of the vectors.
fn state(name: &str) -> (Run, Definition) {
    let (run, approval) = match name {
        "PENDING" => (pending(), true),
        "NOT_STARTED" => (draft(), true),
        "IN_PROGRESS" => (running(true), true),
        "COMPLETED_APPROVAL_PENDING" => (completed(true, ApprovalState::Pending), true),
        "COMPLETED_APPROVED" => (completed(true, ApprovalState::Approved), true),
        "COMPLETED_NOT_REQUIRED" => (completed(false, ApprovalState::NotRequired), false),
        "FAILED_AFTER_START" => (failed_after_start(), true),
        "FAILED_NEVER_STARTED" => (failed_never_started(), true),
        other => panic!("unknown state {other}"),
    };
    (run, definition(approval))
}

/// What one case came to.
#[derive(Debug, PartialEq)]
struct Observed {
    result: &'static str,
    code: Option<String>,
    answer: Option<String>,
    execution_state: String,
    approval_state: Option<String>,
}

/// The state after a decision: the next row, "DELETED", or the run as it stands.
fn after(run: &Run, change: Option<&Transition>) -> (String, Option<String>) {
    match change.map(|t| &t.write) {
        Some(RunWrite::Put(next)) => {
            assert_eq!(
                next.version,
                run.version + 1,
                "a write moves the version by one"
            );
            assert_eq!(next.id, run.id);
            (
                next.execution_state.as_str().to_owned(),
                Some(next.approval_state.as_str().to_owned()),
            )
        }
        Some(RunWrite::Delete) => ("DELETED".to_owned(), None),
        None => (
            run.execution_state.as_str().to_owned(),
            Some(run.approval_state.as_str().to_owned()),
        ),
    }
}

/// Start facts under which a draft starts: the instruction resolved, its one upload ingested.
fn start_facts() -> StartFacts {
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    let v = version_of(211, &upload, Ingestion::Completed, true);
    StartFacts {
        instruction: Some(resolved_doc(
            &instruction_doc(),
            Some(&instruction_version()),
        )),
        scope: vec![],
        uploads: vec![resolved_doc(&upload, Some(&v))],
        common: vec![],
    }
}

fn run_case(state_name: &str, op: &str, actor_name: &str) -> Observed {
    let (run, def) = state(state_name);
    let w = who(actor_name);
    let ctx = w.ctx();
    let mut answer = None;
    let outcome: crate::Result<Option<Transition>> = match op {
        "get" => decide_get(&ctx, &run, &def).map(|d| d.change.map(|t| *t)),
        "update_name" => {
            let cmd = UpdateRun {
                name: Some(format!("renamed-{}", run.id)),
                ..UpdateRun::default()
            };
            let facts = UpdateFacts {
                scope: None,
                name_taken: false,
                subtree: vec![inputs_folder(), outputs_folder(), discussions_folder()],
                folder: Some(run_folder()),
                ..UpdateFacts::default()
            };
            decide_update(&ctx, &run, &def, &cmd, &facts).map(|d| d.change.map(|t| *t))
        }
        "start" => decide_start(
            &ctx,
            &run,
            &def,
            &StartRun::default(),
            &start_facts(),
            uid(THREAD),
        )
        .map(|d| d.change.map(|t| *t)),
        "stop" => decide_stop(&ctx, &run, &def).map(|d| {
            let t = d.change.map(|t| *t);
            if let Some(next) = t.as_ref().and_then(Transition::next) {
                if run.execution_state == ExecutionState::InProgress
                    && next.execution_state == ExecutionState::Failed
                {
                    answer = Some(format!(
                        "error = '{}'",
                        next.error.clone().unwrap_or_default()
                    ));
                }
            }
            t
        }),
        "callback_completed" | "callback_failed" => {
            let status = if op == "callback_completed" {
                CallbackStatus::Completed
            } else {
                CallbackStatus::Failed
            };
            let cmd = Callback {
                status,
                error: (status == CallbackStatus::Failed).then(|| "boom".to_owned()),
                attempt: None,
            };
            decide_callback(&ctx, &run, &def, &cmd).map(|d| {
                answer = Some(d.answer.as_str().to_owned());
                d.change.map(|t| *t)
            })
        }
        "retry" => decide_retry(&ctx, &run, &def).map(|d| d.change.map(|t| *t)),
        "clone_with_inputs" => decide_clone(
            &ctx,
            &run,
            &def,
            CloneRun {
                include_inputs: true,
            },
        )
        .and_then(|d| {
            assert!(
                d.change.is_none(),
                "CLONE-1: nothing written for the source"
            );
            // The derived create, decided as the caller: a new NOT_STARTED run, triggered by
            // the caller, with a new id and folder.
            let scope = run
                .snapshot
                .iter()
                .flat_map(|s| &s.inputs)
                .map(|i| {
                    resolved(&PathPart {
                        id: i.path_part_id,
                        ..part(0, i.part_type, &i.materialized_path, None)
                    })
                })
                .collect();
            let facts = CreateFacts {
                runs_folder: runs_folder(),
                existing: None,
                name_taken: false,
                scope,
            };
            let ids = FreshIds {
                run: uid(500),
                inputs: uid(501),
                outputs: uid(502),
                discussions: uid(503),
                extra: [uid(504), uid(505)],
            };
            let created = decide_create(&ctx, &def, &d.answer, &facts, ids, &[])?;
            let new = created.answer;
            assert_eq!(new.execution_state, ExecutionState::NotStarted);
            assert_eq!(new.triggered_by, w.id(), "CLONE-1: triggered by the caller");
            assert_ne!(new.id, run.id);
            assert_ne!(new.folders, run.folders);
            assert_eq!(created.change.map(|t| t.event), Some(Event::Created));
            answer = Some("new NOT_STARTED run; source unchanged".to_owned());
            Ok(None)
        }),
        "approve" => {
            let outputs = if approve_needs_outputs(&run) {
                vec![part(
                    220,
                    PathPartKind::Document,
                    &format!("{RUN_PATH}/outputs/report.md"),
                    Some(OUTPUTS),
                )]
            } else {
                vec![]
            };
            let cmd = Approve {
                state: ApprovalState::Approved,
                reason: None,
            };
            decide_approve(&ctx, &run, &def, &cmd, &outputs).map(|d| d.change.map(|t| *t))
        }
        "delete" => {
            let subtree = [discussions_folder(), inputs_folder(), outputs_folder()];
            decide_delete(&ctx, &run, &def, &subtree).map(|d| d.change.map(|t| *t))
        }
        "post_user_message" => {
            decide_thread_message(&ctx, &run, &def).map(|d| d.change.map(|t| *t))
        }
        other => panic!("unknown op {other}"),
    };
    match outcome {
        Ok(change) => {
            let (execution_state, approval_state) = after(&run, change.as_ref());
            Observed {
                result: "ok",
                code: None,
                answer,
                execution_state,
                approval_state,
            }
        }
        Err(e) => Observed {
            result: "error",
            code: Some(e.code().as_str().to_owned()),
            answer,
            execution_state: run.execution_state.as_str().to_owned(),
            approval_state: Some(run.approval_state.as_str().to_owned()),
        },
    }
}

/// The states built here are the ones the vectors describe.
#[test]
fn table_states_match_their_description() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let states = vectors["states"].as_object().unwrap();
    assert_eq!(states.len(), 8);
    for (name, s) in states {
        let (run, def) = state(name);
        assert_eq!(run.execution_state.as_str(), s["execution_state"], "{name}");
        assert_eq!(run.approval_state.as_str(), s["approval_state"], "{name}");
        assert_eq!(run.snapshot.is_some(), s["has_snapshot"], "{name}");
        assert_eq!(
            def.approval_required, s["definition_requires_approval"],
            "{name}"
        );
        if let Some(snap) = &run.snapshot {
            assert_eq!(snap.approval_required, def.approval_required, "{name}");
        }
    }
    let actors = vectors["actors"].as_object().unwrap();
    assert_eq!(
        actors.keys().map(String::as_str).collect::<Vec<_>>().len(),
        ACTORS.len()
    );
    for a in ACTORS {
        assert!(actors.contains_key(a), "{a}");
    }
}

/// SPEC sections 3 and 6 as data, at the level of the rules: all 704 cases of
/// `transitions.json` (VIS-1, VIS-2, GET-1, UPDATE-1, UPDATE-2, UPDATE-4, START-1..5, STOP-1,
/// STOP-2, STOP-4, CB-3, CB-5, CB-6, CB-7, RETRY-1..3, CLONE-1..3, APPROVE-2..5, DELETE-1..3,
/// THREAD-1).
#[test]
fn table_every_state_operation_actor_case() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 704);
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in cases {
        let (state, op, actor) = (
            c["state"].as_str().unwrap(),
            c["op"].as_str().unwrap(),
            c["actor"].as_str().unwrap(),
        );
        assert!(seen.insert((state, op, actor)), "duplicate case");
        let exp = &c["expect"];
        let got = run_case(state, op, actor);
        let mut wrong = Vec::new();
        if got.result != exp["result"].as_str().unwrap() {
            wrong.push(format!("result {} (code {:?})", got.result, got.code));
        }
        if got.code.as_deref() != exp["code"].as_str() {
            wrong.push(format!("code {:?} != {}", got.code, exp["code"]));
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
        if got.approval_state.as_deref() != exp["approval_state"].as_str() {
            wrong.push(format!(
                "approval_state {:?} != {}",
                got.approval_state, exp["approval_state"]
            ));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{state} / {op} / {actor} ({}): {}",
                exp["rules"],
                wrong.join("; ")
            ));
        }
    }
    assert_eq!(seen.len(), 8 * 11 * 8);
    assert!(
        failures.is_empty(),
        "{} of 704 cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
