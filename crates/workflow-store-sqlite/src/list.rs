//! LIST-1 queries. `sql/list_runs.sql` and `sql/count_runs.sql` carry the fixed shape; the
//! optional filters are spliced in from the fixed fragments below (never from input: every value
//! is a bound parameter), so each combination is its own cached prepared statement and the
//! planner can pick the index that serves it (see the `EXPLAIN QUERY PLAN` test).

use crate::codec::{enum_str, to_json, uuid_text};
use rusqlite::types::Value;
use workflow_core::{RunOrder, RunQuery, StoreError, StoreResult, Visibility};

const LIST: &str = include_str!("../sql/list_runs.sql");
const COUNT: &str = include_str!("../sql/count_runs.sql");

const BY_DEFINITION: &str = " AND definition_id = :definition";
const BY_STATE: &str = " AND execution_state = :state";
const BY_APPROVAL: &str = " AND approval_state = :approval";
const BY_TRIGGERER: &str = " AND triggered_by = :mine";
const VISIBLE: &str = " AND (triggered_by = :me OR definition_id IN \
                        (SELECT value FROM json_each(:readable)))";

/// A built listing: the page query, the count query and their named parameters.
pub(crate) struct Built {
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
        filters.push_str(BY_DEFINITION);
        params.push((":definition", Value::Text(uuid_text(d.0))));
    }
    if let Some(s) = q.execution_state {
        filters.push_str(BY_STATE);
        params.push((":state", Value::Text(s.as_str().to_owned())));
    }
    if let Some(s) = q.approval_state {
        filters.push_str(BY_APPROVAL);
        params.push((":approval", Value::Text(enum_str(&s)?)));
    }
    if let Some(u) = q.triggered_by {
        filters.push_str(BY_TRIGGERER);
        params.push((":mine", Value::Text(uuid_text(u.0))));
    }
    if let Visibility::Only {
        definition_ids,
        or_triggered_by,
    } = &q.visibility
    {
        filters.push_str(VISIBLE);
        params.push((":me", Value::Text(uuid_text(or_triggered_by.0))));
        let ids: Vec<String> = definition_ids.iter().map(|d| uuid_text(d.0)).collect();
        params.push((":readable", Value::Text(to_json(&ids)?)));
    }
    let order = match q.order {
        RunOrder::CreatedAt => "created_at",
        RunOrder::StartedAt => "started_at",
        RunOrder::CompletedAt => "completed_at",
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
            .replace("/*ORDER*/", order),
        count_sql: COUNT.replace("/*FILTERS*/", &filters),
        filter_params: params,
        page_params,
    })
}
