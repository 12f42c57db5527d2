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
            "limit" => q.limit = parse_limit(v)?,
            "offset" => q.offset = parse_offset(v)?,
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

/// A date-time of a query string, in every spelling a client of the ksapi API sends (LIST-2,
/// SUM-1): RFC 3339 (`Z` or `+02:00`); ksapi 3.18.2's own `strftime("%Y-%m-%dT%H:%M:%S.%f%z")`,
/// whose offset has no colon (`+0000`); a naive date-time or a bare date (UTC, as the Python
/// server's lax date-time parsing takes them); and an offset whose `+` was left unescaped in the
/// URL, which arrives as a space.
pub(crate) fn parse_time(field: &str, v: &str) -> ApiResult<Timestamp> {
    parse_time_exact(v)
        .or_else(|| unescaped_plus(v).as_deref().and_then(parse_time_exact))
        .ok_or_else(|| {
            ApiError::unprocessable(format!(
                "{field}: {v:?} is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"
            ))
        })
}

fn parse_time_exact(v: &str) -> Option<Timestamp> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    let utc = |t: DateTime<chrono::FixedOffset>| t.with_timezone(&Utc);
    DateTime::parse_from_rfc3339(v)
        .map(utc)
        .or_else(|_| DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f%z").map(utc))
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
        .or_else(|_| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .ok()
}

/// `2026-01-31T12:00:00 02:00` → `2026-01-31T12:00:00+02:00`: a time with a `T` whose last
/// space is followed by an offset (`HH:MM` or `HHMM`).
fn unescaped_plus(v: &str) -> Option<String> {
    let (head, offset) = v.rsplit_once(' ')?;
    let digits = offset.bytes().filter(u8::is_ascii_digit).count();
    let offset_like = match offset.len() {
        4 => digits == 4,
        5 => digits == 4 && offset.as_bytes()[2] == b':',
        _ => false,
    };
    (head.contains('T') && offset_like).then(|| format!("{head}+{offset}"))
}

/// A page's `limit`: 1..=100.
pub(crate) fn parse_limit(v: &str) -> ApiResult<u32> {
    v.parse()
        .ok()
        .filter(|l| (1..=100).contains(l))
        .ok_or_else(|| ApiError::unprocessable("limit: must be an integer 1..=100"))
}

/// A page's `offset`: 0..=i64::MAX (what a store can skip).
pub(crate) fn parse_offset(v: &str) -> ApiResult<u64> {
    v.parse()
        .ok()
        .filter(|o| i64::try_from(*o).is_ok())
        .ok_or_else(|| {
            ApiError::unprocessable("offset: must be an integer 0..=9223372036854775807")
        })
}

/// `true`/`false` as query strings and forms spell them. An empty value (`?mine=`) is not a
/// boolean and is refused, as the OpenAPI schema says (HTTP-3).
pub(crate) fn parse_bool(field: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "True" | "1" | "on" => Ok(true),
        "false" | "False" | "0" | "off" => Ok(false),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// HTTP-3: the spellings of a boolean parse; an empty or other value is a typed 422.
    #[test]
    fn parse_bool_spellings_and_empty_refused() {
        for v in ["true", "True", "1", "on"] {
            assert!(parse_bool("mine", v).unwrap(), "{v}");
        }
        for v in ["false", "False", "0", "off"] {
            assert!(!parse_bool("mine", v).unwrap(), "{v}");
        }
        for v in ["", "yes", "TRUE ", "2"] {
            let e = parse_bool("mine", v).unwrap_err();
            assert_eq!(
                e.status(),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{v:?}"
            );
        }
    }

    /// LIST-2, SUM-1: the spellings of one instant a client sends all parse to it; the rest is
    /// refused.
    #[test]
    fn parse_time_spellings() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-31T12:00:00.123456Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for v in [
            "2026-01-31T12:00:00.123456Z",
            "2026-01-31T12:00:00.123456+00:00",
            "2026-01-31T14:00:00.123456+02:00",
            "2026-01-31T12:00:00.123456+0000",
            "2026-01-31T14:00:00.123456+0200",
            "2026-01-31T10:00:00.123456-0200",
            "2026-01-31T14:00:00.123456 02:00",
            "2026-01-31T14:00:00.123456 0200",
            "2026-01-31T12:00:00.123456",
        ] {
            assert_eq!(parse_time("t", v).unwrap(), t, "{v}");
        }
        assert_eq!(
            parse_time("t", "2026-01-31").unwrap(),
            chrono::DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z").unwrap()
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-31T12:00:00+25:00",
            "2026-01-31T12:00:00 25",
            "2026-01-31 12:00:00 junk",
            "1769860800",
        ] {
            assert!(parse_time("t", bad).is_err(), "{bad}");
        }
    }
}
