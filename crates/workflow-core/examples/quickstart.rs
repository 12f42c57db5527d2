//! A whole lifecycle, printing each transition and the history: on the in-memory store, or on a
//! SQLite file with `--db PATH` (run it twice: the file keeps both runs and their histories).
//!
//! ```text
//! cargo run -p workflow-core --example quickstart
//! cargo run -p workflow-core --example quickstart -- --db /tmp/quickstart.sqlite
//! ```

use std::sync::Arc;
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// Prints each dispatch and cancel the engine hands to "the runner".
struct PrintingRunner;

impl Dispatcher for PrintingRunner {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        println!(
            "    -> runner: dispatch run {} attempt {}",
            d.key.run_id, d.key.attempt
        );
        Ok(())
    }
    fn cancel(&self, c: &Cancel) -> Result<(), DispatchError> {
        println!(
            "    -> runner: cancel run {} attempt {} ({})",
            c.key.run_id, c.key.attempt, c.reason
        );
        Ok(())
    }
}

fn show(step: &str, run: &Run) {
    println!(
        "{step:<28} {:<12} approval={:<12} attempt={} version={}",
        run.execution_state.as_str(),
        run.approval_state.as_str(),
        run.attempt,
        run.version
    );
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => lifecycle(MemoryStore::new()),
        [flag, path] if flag == "--db" => {
            println!("store: SQLite file {path}");
            lifecycle(workflow_store_sqlite::SqliteStore::open(path)?)
        }
        _ => Err(Error::BadRequest("usage: quickstart [--db PATH]".into())),
    }
}

fn lifecycle<S: Store>(store: S) -> Result<()> {
    let engine = Engine::new(store).with_dispatcher(Arc::new(PrintingRunner));

    // The catalog a host would already have: a tenant, people, a folder, a document.
    let tenant = TenantId(uuid::Uuid::new_v4());
    engine.put_tenant(Tenant {
        id: tenant,
        name: "acme".into(),
    })?;
    let person = |role, first: &str, grants| User {
        id: UserId(uuid::Uuid::new_v4()),
        tenant_id: tenant,
        role,
        first_name: first.into(),
        last_name: "Example".into(),
        api_key: None,
        grants,
    };
    let owner = person(Role::Owner, "Olive", vec![]);
    let analyst = person(
        Role::User,
        "Ada",
        vec![Grant {
            path: "/shared".into(),
            capability: Capability::Read,
        }],
    );
    engine.put_user(owner.clone())?;
    engine.put_user(analyst.clone())?;
    let (owner, ada) = (Actor::of(&owner), Actor::of(&analyst));

    let shared = engine.put_part(
        tenant,
        PathPartId(uuid::Uuid::new_v4()),
        PathPartKind::Folder,
        "shared",
        None,
    )?;
    let report = engine.put_part(
        tenant,
        PathPartId(uuid::Uuid::new_v4()),
        PathPartKind::Document,
        "q3.md",
        Some(shared.id),
    )?;
    engine.put_version(
        tenant,
        report.id,
        PathPartId(uuid::Uuid::new_v4()),
        Ingestion::Completed,
        true,
    )?;
    let def = engine.create_definition(
        &owner,
        NewDefinition {
            id: None,
            parent_id: shared.id,
            name: "summarise".into(),
            instruction_id: None,
            max_run_duration_seconds: Some(600),
            approval_required: true,
            is_active: true,
            is_template: false,
            common_file_ids: vec![],
            selected_skill_ids: vec![],
            create_empty_instruction: false,
            ..NewDefinition::default()
        },
    )?;

    // The lifecycle.
    let run = engine.create_run(
        &ada,
        def.id,
        CreateRun {
            input_scope: vec![report.id],
            ..CreateRun::default()
        },
    )?;
    show("create (Ada)", &run);
    let run = engine.update_run(
        &ada,
        run.id,
        UpdateRun {
            name: Some("q3-summary".into()),
            ..UpdateRun::default()
        },
    )?;
    show("rename to q3-summary", &run);
    let run = engine.start_run(
        &ada,
        run.id,
        StartRun {
            user_message: Some("one page".into()),
        },
    )?;
    show("start", &run);
    let runner = ada.clone().assumed();
    let done = engine.callback(
        &runner,
        run.id,
        Callback {
            status: CallbackStatus::Failed,
            error: Some("model timeout".into()),
            attempt: Some(1),
        },
    )?;
    show(&format!("callback FAILED ({})", done.outcome), &done.run);
    let run = engine.retry_run(&ada, run.id)?;
    show("retry", &run);
    let late = engine.callback(
        &runner,
        run.id,
        Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(1),
        },
    )?;
    show(&format!("late attempt-1 ({})", late.outcome), &late.run);
    engine.add_output(&runner, run.id, "summary.md")?;
    let done = engine.callback(
        &runner,
        run.id,
        Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(2),
        },
    )?;
    show(&format!("callback COMPLETED ({})", done.outcome), &done.run);
    match engine.approve_run(
        &ada,
        run.id,
        Approve {
            state: ApprovalState::Approved,
            reason: None,
        },
    ) {
        Err(e) => println!(
            "{:<28} refused: {} ({})",
            "approve (Ada, read-only)",
            e.code(),
            e
        ),
        Ok(_) => unreachable!("a read-only user cannot approve"),
    }
    let run = engine.approve_run(
        &owner,
        run.id,
        Approve {
            state: ApprovalState::Approved,
            reason: Some("ship it".into()),
        },
    )?;
    show("approve (owner)", &run);
    let copy = engine.clone_run(
        &ada,
        run.id,
        CloneRun {
            include_inputs: true,
        },
    )?;
    show("clone -> new draft", &copy);

    println!("\nhistory of {}:", run.id);
    for h in engine.history(tenant, run.id)? {
        let state = |s: Option<ExecutionState>| s.map_or("-", |s| s.as_str());
        println!(
            "  #{:<2} {:<12} -> {:<12} {:<12} attempt={} {}",
            h.seq,
            state(h.from),
            state(h.to),
            format!("{:?}", h.event),
            h.attempt,
            h.reason.unwrap_or_default()
        );
    }
    Ok(())
}
