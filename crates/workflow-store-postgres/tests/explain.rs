//! LIST-3: every filter and order of LIST-1/LIST-2 is answered from indexes. At 100k runs (ten
//! tenants of ten definitions), `EXPLAIN` of every statement the list builder produces (the
//! page, the count and the summary's aggregates) for each single filter (and none) × each order
//! × both directions, tenant-wide and per definition, shows no `Seq Scan on runs`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use workflow_core::chrono::DateTime;
use workflow_core::uuid::Uuid;
use workflow_core::{
    ApprovalState, DefinitionId, ExecutionState, RunOrder, RunQuery, RunSet, SortDir, TenantId,
    TimeRange, UserId, Visibility,
};
use workflow_store_postgres::PgStore;

const RUNS: i64 = 100_000;
/// 2024-01-01T00:00:00Z in nanoseconds; run i is created i seconds later.
const BASE: i64 = 1_704_067_200_000_000_000;

/// Runs spread over 10 tenants × 10 definitions and 50 triggerers, in every state (started and
/// completed times where the state has them), a few with idempotency keys.
const FILL: &str = "
INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by, execution_state,
                  approval_state, attempt, version, input_scope, selected_skill_ids, auto_start,
                  idempotency_key, started_at, attempt_started_at, deadline_at, completed_at,
                  folders, created_at, updated_at)
SELECT md5('r' || i)::uuid, md5('t' || (i % 10))::uuid, md5('d' || (i % 100))::uuid,
       'run-' || i, md5('u' || (i % 50))::uuid,
       (ARRAY['PENDING', 'NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'FAILED'])[1 + i % 5],
       (ARRAY['not_required', 'pending', 'approved'])[1 + i % 3],
       CASE WHEN i % 5 >= 2 THEN 1 ELSE 0 END, 1, '[]', '[]', false,
       CASE WHEN i % 7 = 0 THEN 'key-' || i END,
       CASE WHEN i % 5 >= 2 THEN $1::bigint + i * 1000000000 + 500000000 END,
       CASE WHEN i % 5 >= 2 THEN $1::bigint + i * 1000000000 + 500000000 END,
       CASE WHEN i % 5 = 2 THEN $1::bigint + i * 1000000000 + 3600000000000 END,
       CASE WHEN i % 5 >= 3 THEN $1::bigint + i * 1000000000 + 900000000 END,
       '{}', $1::bigint + i * 1000000000, $1::bigint + i * 1000000000 + 900000000
FROM generate_series(1::bigint, $2::bigint) AS i";

fn md5_uuid(c: &mut postgres::Client, text: &str) -> Uuid {
    c.query_one("SELECT md5($1)::uuid", &[&text])
        .unwrap()
        .get(0)
}

fn t(seconds: i64) -> workflow_core::Timestamp {
    DateTime::from_timestamp_nanos(BASE + seconds * 1_000_000_000)
}

/// LIST-3: no listing statement reads every run of the table (no `Seq Scan on runs`), for each
/// filter × order × direction, tenant-wide and per definition, at 100k runs.
#[test]
fn list_3_every_filter_and_order_is_served_by_an_index_at_100k_runs() {
    let Some(db) = common::TempDb::new() else {
        return;
    };
    let store = PgStore::connect(&db.url).unwrap();
    let mut c = db.client();
    let started = std::time::Instant::now();
    c.execute(FILL, &[&BASE, &RUNS]).unwrap();
    c.batch_execute("VACUUM ANALYZE runs").unwrap();
    eprintln!(
        "{RUNS} runs inserted and analyzed in {:?}",
        started.elapsed()
    );
    let tenant = TenantId(md5_uuid(&mut c, "t0"));
    let def = DefinitionId(md5_uuid(&mut c, "d0"));
    let other_def = DefinitionId(md5_uuid(&mut c, "d10"));
    let user = UserId(md5_uuid(&mut c, "u0"));
    let window = TimeRange {
        from: Some(t(1_000)),
        to: Some(t(2_000)),
    };
    type Filter = Box<dyn Fn(&mut RunQuery)>;
    let filters: Vec<(&str, Filter)> = vec![
        ("none", Box::new(|_| {})),
        (
            "states",
            Box::new(|q| q.states = vec![ExecutionState::Completed, ExecutionState::Failed]),
        ),
        (
            "approval_states",
            Box::new(|q| q.approval_states = vec![ApprovalState::Pending]),
        ),
        ("mine", Box::new(move |q| q.triggered_by = Some(user))),
        ("created window", Box::new(move |q| q.created = window)),
        ("updated window", Box::new(move |q| q.updated = window)),
        (
            "approvable_by_me",
            Box::new(move |q| {
                q.within = Some(RunSet {
                    definitions: vec![def],
                    runs: vec![(other_def, "run-10".into())],
                })
            }),
        ),
        (
            "visibility",
            Box::new(move |q| {
                q.visibility = Visibility::Only {
                    paths: vec!["/shared".into(), "/private/eng".into()],
                    or_triggered_by: user,
                }
            }),
        ),
    ];
    let mut checked = 0;
    for definition_id in [None, Some(def)] {
        for (name, filter) in &filters {
            for order in RunOrder::ALL {
                for dir in SortDir::ALL {
                    let mut q = RunQuery {
                        definition_id,
                        order: *order,
                        dir: *dir,
                        limit: 20,
                        offset: 40,
                        ..RunQuery::all(tenant)
                    };
                    filter(&mut q);
                    for (sql, plan) in store.explain_list(&q).unwrap() {
                        assert!(
                            !plan.iter().any(|l| l.contains("Seq Scan on runs")),
                            "LIST-3: filter {name}, {order:?} {dir:?}, definition \
                             {definition_id:?} reads the whole table:\n{sql}\n{}",
                            plan.join("\n")
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * filters.len() * 3 * 2 * 5);
    eprintln!("{checked} plans checked");
}
