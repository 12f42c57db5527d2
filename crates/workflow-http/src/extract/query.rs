//! The run lists' query string (LIST-1), as ksapi sends it, and the scalar parsers the other
//! handlers share. Every refusal is 422 `unprocessable_entity`.

use crate::error::ApiError;
use std::str::FromStr;
use uuid::Uuid;
use workflow_core::{ApprovalState, DefinitionId, Error, ExecutionState, ListRuns, RunOrder};

type ApiResult<T> = Result<T, ApiError>;

/// A domain enum from its wire string (`T::from_str`, the enum's `as_str` values).
pub(crate) fn parse_enum<T: FromStr<Err = Error>>(field: &str, value: &str) -> ApiResult<T> {
    // ksapi sends a list-valued enum query parameter as `str(member)`, e.g.
    // `WorkflowExecutionState.IN_PROGRESS`: accept that form too.
    let v = value.rsplit('.').next().unwrap_or(value);
    T::from_str(v).map_err(|_| ApiError::unprocessable(format!("{field}: unknown value {value:?}")))
}

/// Query of the run lists (LIST-1), as ksapi sends it.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    /// The engine's query.
    pub(crate) list: ListRuns,
    /// `owner_id`, which only the caller's own id may be (checked with the caller).
    pub(crate) owner: Option<Uuid>,
}

/// Parse the query string of a run list; `definition_id` is the path's, for a definition's
/// runs (then a `definition_id` parameter is ignored).
pub(crate) fn parse_list_query(
    raw: Option<&str>,
    definition_id: Option<DefinitionId>,
) -> ApiResult<ListQuery> {
    // ksapi documents STARTED_AT as the default sort (never-started runs last).
    let mut q = ListRuns {
        definition_id,
        order: RunOrder::StartedAt,
        ..ListRuns::default()
    };
    let mut states = Vec::new();
    let mut approvals = Vec::new();
    let mut owner: Option<Uuid> = None;
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
                states.push(parse_enum::<ExecutionState>("state", v)?);
            }
            "approval_state" => approvals.push(parse_enum::<ApprovalState>("approval_state", v)?),
            "mine" => q.mine = parse_bool("mine", v)?,
            "definition_id" if definition_id.is_none() => {
                q.definition_id = Some(DefinitionId(parse_uuid("definition_id", v)?));
            }
            "owner_id" => owner = Some(parse_uuid("owner_id", v)?),
            "sort_by" | "order" => q.order = parse_enum::<RunOrder>("sort_by", v)?,
            "sort_dir" if !v.eq_ignore_ascii_case("desc") => {
                return Err(ApiError::unprocessable(
                    "sort_dir: only DESC (newest first) is supported",
                ));
            }
            "approvable_by_me" | "created_after" | "created_before" | "updated_after"
            | "updated_before" | "include_tag_ids" | "exclude_tag_ids"
                if !v.is_empty() && v != "false" =>
            {
                return Err(ApiError::unprocessable(format!(
                    "{k}: this filter is not supported by this server"
                )));
            }
            _ => {}
        }
    }
    states.dedup();
    approvals.dedup();
    if states.len() > 1 || approvals.len() > 1 {
        return Err(ApiError::unprocessable(
            "state/approval_state: at most one value per filter is supported",
        ));
    }
    q.execution_state = states.first().copied();
    q.approval_state = approvals.first().copied();
    Ok(ListQuery { list: q, owner })
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
