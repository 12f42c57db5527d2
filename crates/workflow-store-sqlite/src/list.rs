//! LIST-1 queries. `sql/list_runs.sql` and `sql/count_runs.sql` carry the fixed shape; the
//! optional filters are spliced in from the fixed `sql/list_filter_*.sql` fragments (never from
//! input: every value is a bound parameter), so each combination is its own cached prepared
//! statement and the planner can pick the index that serves it (see the `EXPLAIN QUERY PLAN`
//! test).

use crate::codec::ts;
use crate::codec::{enum_str, to_json, uuid_text};
use rusqlite::types::Value;
use workflow_core::{RunOrder, RunQuery, SortDir, StoreError, StoreResult, TimeRange, Visibility};

const LIST: &str = include_str!("../sql/list_runs.sql");
const COUNT: &str = include_str!("../sql/count_runs.sql");

const BY_DEFINITION: &str = include_str!("../sql/list_filter_definition.sql");
const BY_STATE: &str = include_str!("../sql/list_filter_state.sql");
const BY_APPROVAL: &str = include_str!("../sql/list_filter_approval.sql");
const BY_TRIGGERER: &str = include_str!("../sql/list_filter_mine.sql");
const VISIBLE: &str = include_str!("../sql/list_filter_visible.sql");
const WITHIN: &str = include_str!("../sql/list_filter_within.sql");
const CREATED_FROM: &str = include_str!("../sql/list_filter_created_from.sql");
const CREATED_TO: &str = include_str!("../sql/list_filter_created_to.sql");
const UPDATED_FROM: &str = include_str!("../sql/list_filter_updated_from.sql");
const UPDATED_TO: &str = include_str!("../sql/list_filter_updated_to.sql");

/// Appends a filter fragment (each file is one `AND ...` clause, possibly after `--` comments).
fn push(filters: &mut String, fragment: &str) {
    for line in fragment
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
    {
        filters.push(' ');
        filters.push_str(line.trim());
    }
}

/// A window bound as stored nanoseconds: times outside what can be stored (1677..2262) compare
/// as the lowest or highest value, so a far bound is a valid, open-looking bound, not an error.
fn bound(t: workflow_core::Timestamp) -> i64 {
    ts(t).unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A built listing: the page query, the count query and their named parameters.
pub(crate) struct Built {
    /// The `AND ...` clauses, for the other queries over the same runs (SUM-1).
    pub(crate) filters: String,
    pub(crate) list_sql: String,
    pub(crate) count_sql: String,
    pub(crate) filter_params: Vec<(&'static str, Value)>,
    pub(crate) page_params: Vec<(&'static str, Value)>,
}

pub(crate) fn build(q: &RunQuery) -> StoreResult<Built> {
    let mut filters = String::new();
    let mut params: Vec<(&'static str, Value)> =
        vec![(":tenant", Value::Text(uuid_text(q.tenant_id.0)))];
    if let Some(d) = q.definition_id {
        push(&mut filters, BY_DEFINITION);
        params.push((":definition", Value::Text(uuid_text(d.0))));
    }
    if !q.states.is_empty() {
        push(&mut filters, BY_STATE);
        let states: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
        params.push((":states", Value::Text(to_json(&states)?)));
    }
    if !q.approval_states.is_empty() {
        push(&mut filters, BY_APPROVAL);
        let states = q
            .approval_states
            .iter()
            .map(enum_str)
            .collect::<StoreResult<Vec<String>>>()?;
        params.push((":approvals", Value::Text(to_json(&states)?)));
    }
    let ranges: [(&TimeRange, [(&str, &'static str); 2]); 2] = [
        (
            &q.created,
            [(CREATED_FROM, ":created_from"), (CREATED_TO, ":created_to")],
        ),
        (
            &q.updated,
            [(UPDATED_FROM, ":updated_from"), (UPDATED_TO, ":updated_to")],
        ),
    ];
    for (range, [(from_sql, from), (to_sql, to)]) in ranges {
        if let Some(t) = range.from {
            push(&mut filters, from_sql);
            params.push((from, Value::Integer(bound(t))));
        }
        if let Some(t) = range.to {
            push(&mut filters, to_sql);
            params.push((to, Value::Integer(bound(t))));
        }
    }
    if let Some(w) = &q.within {
        push(&mut filters, WITHIN);
        let defs: Vec<String> = w.definitions.iter().map(|d| uuid_text(d.0)).collect();
        let runs: Vec<(String, &str)> = w
            .runs
            .iter()
            .map(|(d, n)| (uuid_text(d.0), n.as_str()))
            .collect();
        params.push((":within_defs", Value::Text(to_json(&defs)?)));
        params.push((":within_runs", Value::Text(to_json(&runs)?)));
    }
    if let Some(u) = q.triggered_by {
        push(&mut filters, BY_TRIGGERER);
        params.push((":mine", Value::Text(uuid_text(u.0))));
    }
    if let Visibility::Only {
        paths,
        or_triggered_by,
    } = &q.visibility
    {
        push(&mut filters, VISIBLE);
        params.push((":me", Value::Text(uuid_text(or_triggered_by.0))));
        params.push((":readable", Value::Text(to_json(paths)?)));
    }
    let column = match q.order {
        RunOrder::CreatedAt => "created_at",
        RunOrder::StartedAt => "started_at",
        RunOrder::CompletedAt => "completed_at",
    };
    // SQLite sorts NULL lowest: descending puts runs without the time last by itself (and walks
    // the time index backwards); ascending needs NULLS LAST, except for the never-NULL
    // created_at, which keeps the index order.
    let order = match (q.dir, q.order) {
        (SortDir::Desc, _) => format!("{column} DESC, id DESC"),
        (SortDir::Asc, RunOrder::CreatedAt) => format!("{column} ASC, id ASC"),
        (SortDir::Asc, _) => format!("{column} ASC NULLS LAST, id ASC"),
    };
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let page_params = vec![
        (":limit", Value::Integer(i64::from(q.limit))),
        (":offset", Value::Integer(offset)),
    ];
    if !LIST.contains("/*FILTERS*/") || !COUNT.contains("/*FILTERS*/") {
        return Err(StoreError::backend("list query template lost its markers"));
    }
    Ok(Built {
        list_sql: LIST
            .replace("/*FILTERS*/", &filters)
            .replace("/*ORDER*/", &order),
        count_sql: COUNT.replace("/*FILTERS*/", &filters),
        filters,
        filter_params: params,
        page_params,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use workflow_core::uuid::Uuid;
    use workflow_core::{
        chrono, ApprovalState, DefinitionId, ExecutionState, SortDir, TenantId, UserId,
    };

    /// The tables of the schema: a plan line `SCAN <table>` is a full scan of one of them.
    const TABLES: &[&str] = &[
        "tenants",
        "users",
        "grants",
        "path_parts",
        "versions",
        "definitions",
        "runs",
        "history",
        "outbox",
    ];

    fn plan(c: &rusqlite::Connection, sql: &str, params: &[(&str, Value)]) -> Vec<String> {
        let named: Vec<(&str, &dyn rusqlite::ToSql)> = params
            .iter()
            .map(|(n, v)| (*n, v as &dyn rusqlite::ToSql))
            .collect();
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(named.as_slice(), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn plan_positional(c: &rusqlite::Connection, sql: &str, n: usize) -> Vec<String> {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<Value> = (0..n).map(|_| Value::Text("x".into())).collect();
        stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// Partial indexes hold only the rows the query wants (undelivered outbox entries,
    /// IN_PROGRESS runs, scheduled definitions), so walking one is not a full scan.
    const PARTIAL: &[&str] = &[
        "USING INDEX outbox_pending",
        "USING INDEX runs_deadline",
        "USING INDEX definitions_scheduled",
    ];

    fn assert_no_full_scan(what: &str, plan: &[String]) {
        for line in plan {
            if PARTIAL.iter().any(|p| line.contains(p)) {
                continue;
            }
            for t in TABLES {
                let scan = line == &format!("SCAN {t}") || line.starts_with(&format!("SCAN {t} "));
                assert!(!scan, "{what}: full scan `{line}` in {plan:#?}");
            }
        }
    }

    /// LIST-1, LIST-3: every combination of filters (several states and approval states, time
    /// windows, `approvable_by_me`), visibility, order and direction is served by an index (no
    /// full scan of a table); the plain descending listings need no sort, and a time window is
    /// a range on an index, not a filter over every run of the tenant.
    #[test]
    fn list_3_every_filter_and_order_uses_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path().join("plan.sqlite")).unwrap();
        let c = rusqlite::Connection::open(store.path()).unwrap();
        let id = |n| Uuid::from_u128(n);
        let t = |n: i64| chrono::DateTime::from_timestamp(n, 0).unwrap();
        let windows = [
            TimeRange::default(),
            TimeRange {
                from: Some(t(100)),
                to: Some(t(200)),
            },
        ];
        let mut checked = 0;
        for def in [None, Some(DefinitionId(id(1)))] {
            for states in [
                vec![],
                vec![ExecutionState::Completed, ExecutionState::Failed],
            ] {
                for approvals in [vec![], vec![ApprovalState::Pending]] {
                    for mine in [None, Some(UserId(id(2)))] {
                        for only in [false, true] {
                            for within in [
                                None,
                                Some(workflow_core::RunSet {
                                    definitions: vec![DefinitionId(id(1))],
                                    runs: vec![(DefinitionId(id(4)), "r".into())],
                                }),
                            ] {
                                for (created, updated) in [
                                    (windows[0], windows[0]),
                                    (windows[1], windows[0]),
                                    (windows[0], windows[1]),
                                ] {
                                    for order in RunOrder::ALL {
                                        for dir in SortDir::ALL {
                                            let q = RunQuery {
                                                tenant_id: TenantId(id(3)),
                                                definition_id: def,
                                                states: states.clone(),
                                                approval_states: approvals.clone(),
                                                triggered_by: mine,
                                                created,
                                                updated,
                                                within: within.clone(),
                                                visibility: if only {
                                                    Visibility::Only {
                                                        paths: vec!["/shared".into()],
                                                        or_triggered_by: UserId(id(2)),
                                                    }
                                                } else {
                                                    Visibility::All
                                                },
                                                order: *order,
                                                dir: *dir,
                                                limit: 10,
                                                offset: 0,
                                            };
                                            check_plan(&c, &q);
                                            checked += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 2 * 2 * 2 * 2 * 2 * 3 * 3 * 2);
    }

    fn check_plan(c: &rusqlite::Connection, q: &RunQuery) {
        let b = build(q).unwrap();
        let mut all = b.filter_params.clone();
        all.extend(b.page_params.clone());
        let list_plan = plan(c, &b.list_sql, &all);
        assert_no_full_scan(&format!("{q:?}"), &list_plan);
        let count_plan = plan(c, &b.count_sql, &b.filter_params);
        assert_no_full_scan(&format!("count {q:?}"), &count_plan);
        let plain = q.states.is_empty()
            && q.approval_states.is_empty()
            && q.triggered_by.is_none()
            && q.within.is_none()
            && q.created.is_open()
            && q.updated.is_open()
            && q.visibility == Visibility::All;
        if plain && q.dir == SortDir::Desc {
            assert!(
                !list_plan.iter().any(|l| l.contains("TEMP B-TREE")),
                "{q:?} sorts: {list_plan:#?}"
            );
        }
        // A lone window is an index range.
        let lone = q.states.is_empty()
            && q.approval_states.is_empty()
            && q.triggered_by.is_none()
            && q.within.is_none()
            && q.visibility == Visibility::All
            && q.definition_id.is_none();
        for (range, column) in [(&q.created, "created_at"), (&q.updated, "updated_at")] {
            if lone && !range.is_open() {
                assert!(
                    count_plan
                        .iter()
                        .any(|l| l.contains(&format!("{column}>"))
                            || l.contains(&format!("{column}<"))),
                    "{column} window of {q:?} is not an index range: {count_plan:#?}"
                );
            }
        }
    }

    /// Every other query of `sql/` is served by an index too (no full scan of a table).
    #[test]
    fn every_query_uses_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path().join("plan.sqlite")).unwrap();
        let c = rusqlite::Connection::open(store.path()).unwrap();
        let queries: &[(&str, &str, usize)] = &[
            ("tenant", include_str!("../sql/tenant.sql"), 1),
            ("user", include_str!("../sql/user.sql"), 2),
            (
                "user_by_api_key",
                include_str!("../sql/user_by_api_key.sql"),
                1,
            ),
            ("grants", include_str!("../sql/grants.sql"), 2),
            ("path_part", include_str!("../sql/path_part.sql"), 2),
            ("children", include_str!("../sql/children.sql"), 2),
            ("descendants", include_str!("../sql/descendants.sql"), 2),
            ("definition", include_str!("../sql/definition.sql"), 2),
            ("definitions", include_str!("../sql/definitions.sql"), 1),
            (
                "scheduled_definitions",
                include_str!("../sql/scheduled_definitions.sql"),
                0,
            ),
            ("load_run", include_str!("../sql/load_run.sql"), 2),
            (
                "run_id_by_name",
                include_str!("../sql/run_id_by_name.sql"),
                3,
            ),
            (
                "run_by_idempotency_key",
                include_str!("../sql/run_by_idempotency_key.sql"),
                4,
            ),
            ("expired_runs", include_str!("../sql/expired_runs.sql"), 2),
            (
                "current_version",
                include_str!("../sql/current_version.sql"),
                1,
            ),
            ("id_ever_used", include_str!("../sql/id_ever_used.sql"), 1),
            ("name_taken", include_str!("../sql/name_taken.sql"), 3),
            (
                "idempotency_taken",
                include_str!("../sql/idempotency_taken.sql"),
                4,
            ),
            ("history", include_str!("../sql/history.sql"), 2),
            (
                "outbox_pending",
                include_str!("../sql/outbox_pending.sql"),
                1,
            ),
            ("outbox_due", include_str!("../sql/outbox_due.sql"), 2),
            (
                "outbox_for_run",
                include_str!("../sql/outbox_for_run.sql"),
                2,
            ),
            (
                "outbox_record_attempt",
                include_str!("../sql/outbox_record_attempt.sql"),
                6,
            ),
            ("delete_run", include_str!("../sql/delete_run.sql"), 1),
            ("delete_grants", include_str!("../sql/delete_grants.sql"), 2),
            ("delete_part", include_str!("../sql/delete_part.sql"), 2),
            (
                "delete_version",
                include_str!("../sql/delete_version.sql"),
                2,
            ),
        ];
        for (name, sql, n) in queries {
            let p = plan_positional(&c, sql, *n);
            assert_no_full_scan(name, &p);
        }
        let update = include_str!("../sql/update_run.sql").replace("/*SET*/", "version = :version");
        assert_no_full_scan("update_run", &plan_positional(&c, &update, 3));
    }
}
