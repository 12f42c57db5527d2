//! LIST-1/LIST-2 queries. `sql/list_runs.sql` and `sql/count_runs.sql` carry the fixed shape;
//! the optional filters are spliced in from the fixed `sql/list_filter_*.sql` fragments (never
//! from input: every value is a bound parameter, numbered here), so each combination is its own
//! prepared statement and the planner picks the index that serves it (LIST-3, tests/explain.rs).

use crate::codec::{bound, enum_str, Param};
use postgres::types::ToSql;
use workflow_core::uuid::Uuid;
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

/// The placeholder of the fragments, numbered by [`number`].
const NEXT: &str = "$?";

/// One owned parameter value.
pub(crate) type Value = Box<dyn ToSql + Sync + Send>;

/// The statement text without its `--` comment lines, on one line.
fn strip(sql: &str) -> String {
    let mut out = String::new();
    for line in sql.lines().filter(|l| !l.trim_start().starts_with("--")) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim());
    }
    out
}

/// Numbers each `$?` of `sql` in order, from `$2` (`$1` is the tenant).
fn number(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 2;
    let mut rest = sql;
    while let Some(i) = rest.find(NEXT) {
        out.push_str(&rest[..i]);
        out.push_str(&format!("${n}"));
        n += 1;
        rest = &rest[i + NEXT.len()..];
    }
    out.push_str(rest);
    out
}

/// A built listing: its filters and their parameters, and the statements over them.
pub(crate) struct Built {
    /// The `AND ...` clauses (with `$?` placeholders), for every query over the same runs.
    filters: String,
    /// The tenant, then the filters' values in placeholder order.
    params: Vec<Value>,
    order: String,
}

impl Built {
    /// A statement of `template` (with the `FILTERS` marker) over these runs: its text, whose
    /// placeholders are numbered, and its parameters, `extra` after the filters'.
    pub(crate) fn statement(&self, template: &str) -> StoreResult<String> {
        if !template.contains("/*FILTERS*/") {
            return Err(StoreError::backend(
                "query template lost its FILTERS marker",
            ));
        }
        Ok(number(
            &strip(template)
                .replace("/*FILTERS*/", &self.filters)
                .replace("/*ORDER*/", &self.order),
        ))
    }

    /// The filters' parameters followed by `extra`.
    pub(crate) fn params<'a>(&'a self, extra: &[Param<'a>]) -> Vec<Param<'a>> {
        let mut out: Vec<Param<'a>> = self.params.iter().map(|b| &**b as Param<'a>).collect();
        out.extend_from_slice(extra);
        out
    }

    /// The page query (`LIMIT`, `OFFSET` bound last).
    pub(crate) fn list_sql(&self) -> StoreResult<String> {
        self.statement(LIST)
    }

    /// The count query.
    pub(crate) fn count_sql(&self) -> StoreResult<String> {
        self.statement(COUNT)
    }
}

/// Appends a fragment and its values (one per `$?`).
fn push(b: &mut Built, fragment: &str, values: Vec<Value>) -> StoreResult<()> {
    let f = strip(fragment);
    if f.matches(NEXT).count() != values.len() {
        return Err(StoreError::backend(
            "list filter fragment and its values disagree",
        ));
    }
    b.filters.push(' ');
    b.filters.push_str(&f);
    b.params.extend(values);
    Ok(())
}

pub(crate) fn build(q: &RunQuery) -> StoreResult<Built> {
    let mut b = Built {
        filters: String::new(),
        params: vec![Box::new(q.tenant_id.0)],
        order: String::new(),
    };
    if let Some(d) = q.definition_id {
        push(&mut b, BY_DEFINITION, vec![Box::new(d.0)])?;
    }
    if !q.states.is_empty() {
        let states: Vec<String> = q.states.iter().map(|s| s.as_str().to_owned()).collect();
        push(&mut b, BY_STATE, vec![Box::new(states)])?;
    }
    if !q.approval_states.is_empty() {
        let states = q
            .approval_states
            .iter()
            .map(enum_str)
            .collect::<StoreResult<Vec<String>>>()?;
        push(&mut b, BY_APPROVAL, vec![Box::new(states)])?;
    }
    let ranges: [(&TimeRange, &str, &str); 2] = [
        (&q.created, CREATED_FROM, CREATED_TO),
        (&q.updated, UPDATED_FROM, UPDATED_TO),
    ];
    for (range, from_sql, to_sql) in ranges {
        if let Some(t) = range.from {
            push(&mut b, from_sql, vec![Box::new(bound(t))])?;
        }
        if let Some(t) = range.to {
            push(&mut b, to_sql, vec![Box::new(bound(t))])?;
        }
    }
    if let Some(w) = &q.within {
        let defs: Vec<Uuid> = w.definitions.iter().map(|d| d.0).collect();
        let run_defs: Vec<Uuid> = w.runs.iter().map(|(d, _)| d.0).collect();
        let run_names: Vec<String> = w.runs.iter().map(|(_, n)| n.clone()).collect();
        push(
            &mut b,
            WITHIN,
            vec![Box::new(defs), Box::new(run_defs), Box::new(run_names)],
        )?;
    }
    if let Some(u) = q.triggered_by {
        push(&mut b, BY_TRIGGERER, vec![Box::new(u.0)])?;
    }
    if let Visibility::Only {
        paths,
        or_triggered_by,
    } = &q.visibility
    {
        push(
            &mut b,
            VISIBLE,
            vec![
                Box::new(or_triggered_by.0),
                Box::new(q.tenant_id.0),
                Box::new(paths.clone()),
            ],
        )?;
    }
    let column = match q.order {
        RunOrder::CreatedAt => "created_at",
        RunOrder::StartedAt => "started_at",
        RunOrder::CompletedAt => "completed_at",
    };
    // Runs without the time last in both directions. PostgreSQL sorts NULL highest: ascending
    // puts them last by itself; descending needs NULLS LAST (served by the DESC NULLS LAST
    // indexes), except for the never-NULL created_at, whose one index serves both directions.
    b.order = match (q.dir, q.order) {
        (SortDir::Asc, _) => format!("{column} ASC, id ASC"),
        (SortDir::Desc, RunOrder::CreatedAt) => format!("{column} DESC, id DESC"),
        (SortDir::Desc, _) => format!("{column} DESC NULLS LAST, id DESC"),
    };
    Ok(b)
}
