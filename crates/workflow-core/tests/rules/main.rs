//! One test (at least) per rule ID of SPEC sections 1–5 and ERR-*, each named in its doc
//! comment. They run on the memory store through the public engine API. One test binary, one
//! module per area of SPEC section 3 (and the snapshot, concurrency and errors).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval;
mod callback;
mod clone;
mod concurrency;
mod create;
mod delete;
mod reap;
mod retry;
mod snapshot;
mod start;
mod stop;
mod sync;
mod update;
mod visibility;

use chrono::Duration;
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

fn world() -> World<MemoryStore> {
    World::new(MemoryStore::new())
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.expect_err("expected a refusal").code()
}

fn cb(status: CallbackStatus, attempt: Option<u32>) -> Callback {
    let error = (status == CallbackStatus::Failed).then(|| "boom".to_string());
    Callback {
        status,
        error,
        attempt,
    }
}

fn approve() -> Approve {
    Approve {
        state: ApprovalState::Approved,
        reason: Some("looks right".into()),
    }
}

fn rename(name: &str) -> UpdateRun {
    UpdateRun {
        name: Some(name.into()),
        ..UpdateRun::default()
    }
}

fn scope(ids: Vec<PathPartId>) -> UpdateRun {
    UpdateRun {
        input_scope: Some(ids),
        ..UpdateRun::default()
    }
}

fn definition(w: &World<MemoryStore>, name: &str, active: bool, template: bool) -> Definition {
    w.engine
        .create_definition(
            &w.owner,
            NewDefinition {
                id: None,
                parent_id: w.eng.id,
                name: name.into(),
                instruction_id: None,
                max_run_duration_seconds: None,
                approval_required: false,
                is_active: active,
                is_template: template,
                common_file_ids: vec![],
                selected_skill_ids: vec![],
                create_empty_instruction: false,
                ..NewDefinition::default()
            },
        )
        .unwrap()
}
