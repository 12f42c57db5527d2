//! Shared pieces of the fuzz targets: `Arbitrary` operation enums mapped onto the reference
//! model's operations (`workflow_conformance::model::Op`).

use arbitrary::Arbitrary;
use workflow_conformance::model::{ActorKind, DefKind, NameChoice, Op};
use workflow_core::{CallbackStatus, Ingestion};

/// The eight actor kinds of the vectors.
#[derive(Arbitrary, Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum Actor {
    Owner,
    Admin,
    Triggerer,
    TriggererAssumed,
    UserRead,
    UserReadWrite,
    UserNoGrant,
    OtherTenantOwner,
}

/// An ingestion status.
#[derive(Arbitrary, Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum Ing {
    Pending,
    Processing,
    Completed,
    Failed,
}

/// A name choice.
#[derive(Arbitrary, Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum Name {
    Default,
    Pool(u8),
    Fresh,
    Invalid,
}

/// Every operation of the model, with small raw run indices (resolved against the runs that
/// exist at that step; 63 and above is an unknown id).
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum FuzzOp {
    Create {
        plain: bool,
        name: Name,
        uploads: Vec<Ing>,
        auto_start: bool,
        idempotency_key: Option<u8>,
    },
    Get(u8),
    Update(u8, Option<Name>),
    Start(u8),
    Stop(u8),
    Callback {
        run: u8,
        completed: bool,
        attempt: Option<u8>,
        error_too_long: bool,
    },
    Retry(u8),
    Clone(u8, bool),
    Approve(u8, bool),
    Delete(u8),
    AddUpload(u8, Ing),
    SetIngestion(u8, u8, Ing),
    ThreadMessage(u8),
    AdvanceClock(u16),
    Reap,
    List,
}

fn actor(a: Actor) -> ActorKind {
    match a {
        Actor::Owner => ActorKind::Owner,
        Actor::Admin => ActorKind::Admin,
        Actor::Triggerer => ActorKind::Triggerer,
        Actor::TriggererAssumed => ActorKind::TriggererAssumed,
        Actor::UserRead => ActorKind::UserRead,
        Actor::UserReadWrite => ActorKind::UserReadWrite,
        Actor::UserNoGrant => ActorKind::UserNoGrant,
        Actor::OtherTenantOwner => ActorKind::OtherTenantOwner,
    }
}

fn ing(i: Ing) -> Ingestion {
    match i {
        Ing::Pending => Ingestion::Pending,
        Ing::Processing => Ingestion::Processing,
        Ing::Completed => Ingestion::Completed,
        Ing::Failed => Ingestion::Failed,
    }
}

fn name(n: Name) -> NameChoice {
    match n {
        Name::Default => NameChoice::Default,
        Name::Pool(k) => NameChoice::Pool(k % 3),
        Name::Fresh => NameChoice::Fresh,
        Name::Invalid => NameChoice::Invalid,
    }
}

fn op(o: FuzzOp) -> Op {
    let r = usize::from;
    match o {
        FuzzOp::Create {
            plain,
            name: n,
            uploads,
            auto_start,
            idempotency_key,
        } => Op::Create {
            def: if plain {
                DefKind::Plain
            } else {
                DefKind::Approval
            },
            name: name(n),
            uploads: uploads.into_iter().take(3).map(ing).collect(),
            auto_start,
            idempotency_key: idempotency_key.map(|k| k % 3),
            scope: Vec::new(),
        },
        FuzzOp::Get(run) => Op::Get { run: r(run) },
        FuzzOp::Update(run, n) => Op::Update {
            run: r(run),
            name: n.map(name),
            scope: None,
        },
        FuzzOp::Start(run) => Op::Start { run: r(run) },
        FuzzOp::Stop(run) => Op::Stop { run: r(run) },
        FuzzOp::Callback {
            run,
            completed,
            attempt,
            error_too_long,
        } => Op::Callback {
            run: r(run),
            status: if completed {
                CallbackStatus::Completed
            } else {
                CallbackStatus::Failed
            },
            attempt: attempt.map(|a| u32::from(a % 5)),
            error_too_long,
        },
        FuzzOp::Retry(run) => Op::Retry { run: r(run) },
        FuzzOp::Clone(run, include_inputs) => Op::Clone {
            run: r(run),
            include_inputs,
        },
        FuzzOp::Approve(run, approved) => Op::Approve {
            run: r(run),
            approved,
        },
        FuzzOp::Delete(run) => Op::Delete { run: r(run) },
        FuzzOp::AddUpload(run, i) => Op::AddUpload {
            run: r(run),
            ingestion: ing(i),
        },
        FuzzOp::SetIngestion(run, upload, i) => Op::SetIngestion {
            run: r(run),
            upload: usize::from(upload % 4),
            status: ing(i),
        },
        FuzzOp::ThreadMessage(run) => Op::ThreadMessage { run: r(run) },
        FuzzOp::AdvanceClock(s) => Op::AdvanceClock {
            seconds: u32::from(s % 1400),
        },
        FuzzOp::Reap => Op::Reap,
        FuzzOp::List => Op::List,
    }
}

/// The model steps of a fuzz input (at most 64).
pub fn steps(input: Vec<(Actor, FuzzOp)>) -> Vec<(Op, ActorKind)> {
    input
        .into_iter()
        .take(64)
        .map(|(a, o)| (op(o), actor(a)))
        .collect()
}
