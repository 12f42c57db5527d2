//! The run lists' query string (LIST-1), as ksapi sends it, and the scalar parsers the other
//! handlers share. Every refusal is 422 `unprocessable_entity`.

use crate::error::ApiError;
use std::str::FromStr;
use uuid::Uuid;
use workflow_core::{
    ApprovalState, DefinitionId, Error, ExecutionState, ListRuns, RunOrder, SortDir, Timestamp,
    UserId,
};

type ApiResult<T> = Result<T, ApiError>;

/// A domain enum from its wire string (`T::from_str`, the enum's `as_str` values).
pub(crate) fn parse_enum<T: FromStr<Err = Error>>(field: &str, value: &str) -> ApiResult<T> {
    // ksapi sends a list-valued enum query parameter as `str(member)`, e.g.
    // `WorkflowExecutionState.IN_PROGRESS`: accept that form too.
    let v = value.rsplit('.').next().unwrap_or(value);
    T::from_str(v).map_err(|_| ApiError::unprocessable(format!("{field}: unknown value {value:?}")))
}

/// Parse the query string of a run list (LIST-1, LIST-2); `definition_id` is the path's, for a
/// definition's runs (then a `definition_id` parameter is ignored). Repeated `state` and
/// `approval_state` mean "any of"; `exclude_tag_ids` removes nothing (no run carries a tag).
pub(crate) fn parse_list_query(
    raw: Option<&str>,
    definition_id: Option<DefinitionId>,
) -> ApiResult<ListRuns> {
    // ksapi documents STARTED_AT as the default sort (never-started runs last).
    let mut q = ListRuns {
        definition_id,
        order: RunOrder::StartedAt,
        ..ListRuns::default()
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| ApiError::unprocessable("limit: must be an integer 1..=100"))?;
            }
            "offset" => {
                q.offset = v
                    .parse()
                    .ok()
                    .filter(|o| i64::try_from(*o).is_ok())
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "offset: must be an integer 0..=9223372036854775807",
                        )
                    })?;
            }
            "state" | "execution_state" => {
                q.states.push(parse_enum::<ExecutionState>("state", v)?);
            }
            "approval_state" => q
                .approval_states
                .push(parse_enum::<ApprovalState>("approval_state", v)?),
            "mine" => q.mine = parse_bool("mine", v)?,
            "approvable_by_me" => q.approvable_by_me = parse_bool("approvable_by_me", v)?,
            "definition_id" if definition_id.is_none() => {
                q.definition_id = Some(DefinitionId(parse_uuid("definition_id", v)?));
            }
            "owner_id" => q.owner_id = Some(UserId(parse_uuid("owner_id", v)?)),
            "sort_by" | "order" => q.order = parse_enum::<RunOrder>("sort_by", v)?,
            "sort_dir" => q.dir = parse_enum::<SortDir>("sort_dir", &v.to_ascii_uppercase())?,
            "created_after" => q.created.from = Some(parse_time("created_after", v)?),
            "created_before" => q.created.to = Some(parse_time("created_before", v)?),
            "updated_after" => q.updated.from = Some(parse_time("updated_after", v)?),
            "updated_before" => q.updated.to = Some(parse_time("updated_before", v)?),
            "include_tag_ids" => q.include_tag_ids.push(parse_uuid("include_tag_ids", v)?),
            "exclude_tag_ids" => {
                parse_uuid("exclude_tag_ids", v)?;
            }
            _ => {}
        }
    }
    q.states.sort_unstable();
    q.states.dedup();
    q.approval_states.sort_unstable();
    q.approval_states.dedup();
    Ok(q)
}

/// An RFC 3339 time (ksapi sends `datetime.isoformat()`; a value without an offset is UTC).
pub(crate) fn parse_time(field: &str, v: &str) -> ApiResult<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|n| n.and_utc())
        .map_err(|_| {
            ApiError::unprocessable(format!(
                "{field}: {v:?} is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"
            ))
        })
}

/// `true`/`false` as query strings and forms spell them.
pub(crate) fn parse_bool(field: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "True" | "1" | "on" => Ok(true),
        "false" | "False" | "0" | "off" | "" => Ok(false),
        _ => Err(ApiError::unprocessable(format!(
            "{field}: expected true or false, got {v:?}"
        ))),
    }
}

/// A UUID field.
pub(crate) fn parse_uuid(field: &str, v: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(v.trim())
        .map_err(|_| ApiError::unprocessable(format!("{field}: {v:?} is not a UUID")))
}
