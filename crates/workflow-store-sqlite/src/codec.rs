//! Conversions between domain values and SQLite columns: UUIDs as lowercase hyphenated text
//! (whose text order is the UUID order), timestamps as INTEGER nanoseconds since the epoch
//! (exact and ordered), wire enums as their wire strings, structured values as JSON text.

use rusqlite::types::Value;
use rusqlite::Row;
use serde::de::DeserializeOwned;
use serde::Serialize;
use workflow_core::chrono::DateTime;
use workflow_core::uuid::Uuid;
use workflow_core::{
    ActorStamp, ApiKeyDigest, Definition, DefinitionId, HistoryRecord, OutboxEntry, OutboxMessage,
    PathPart, PathPartId, Run, RunId, StoreError, StoreResult, TenantId, Timestamp, User, UserId,
    VersionInfo,
};

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("unreadable {what} in the database: {detail}"))
}

pub(crate) fn uuid_text(u: Uuid) -> String {
    u.hyphenated().to_string()
}

pub(crate) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt("id", e))
}

/// Nanoseconds since the epoch. Times outside 1677..2262 cannot be stored (they are refused as a
/// backend error rather than silently rounded).
pub(crate) fn ts(t: Timestamp) -> StoreResult<i64> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| StoreError::backend(format!("timestamp {t} is outside 1677..2262")))
}

pub(crate) fn opt_ts(t: Option<Timestamp>) -> StoreResult<Option<i64>> {
    t.map(ts).transpose()
}

pub(crate) fn from_ts(n: i64) -> Timestamp {
    DateTime::from_timestamp_nanos(n)
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::backend(format!("cannot encode: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

/// A fieldless serde enum as its wire string.
pub(crate) fn enum_str<T: Serialize>(v: &T) -> StoreResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::backend("enum without a wire string")),
    }
}

pub(crate) fn parse_enum<T: DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| corrupt(what, e))
}

/// Typed column access that maps driver errors to [`StoreError`].
pub(crate) struct Cols<'r, 's>(pub(crate) &'r Row<'s>);

impl Cols<'_, '_> {
    pub(crate) fn text(&self, i: usize) -> StoreResult<String> {
        self.0.get(i).map_err(crate::conn::map_err)
    }
    pub(crate) fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        self.0.get(i).map_err(crate::conn::map_err)
    }
    /// An API key digest column (SEC-3): NULL or exactly 32 bytes.
    pub(crate) fn opt_digest(&self, i: usize) -> StoreResult<Option<ApiKeyDigest>> {
        let bytes: Option<Vec<u8>> = self.0.get(i).map_err(crate::conn::map_err)?;
        bytes
            .map(|b| {
                ApiKeyDigest::from_slice(&b).ok_or_else(|| {
                    StoreError::corrupt(format!("an API key digest of {} bytes", b.len()))
                })
            })
            .transpose()
    }
    pub(crate) fn int(&self, i: usize) -> StoreResult<i64> {
        self.0.get(i).map_err(crate::conn::map_err)
    }
    pub(crate) fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.0.get(i).map_err(crate::conn::map_err)
    }
    pub(crate) fn uuid(&self, i: usize) -> StoreResult<Uuid> {
        parse_uuid(&self.text(i)?)
    }
    pub(crate) fn opt_uuid(&self, i: usize) -> StoreResult<Option<Uuid>> {
        self.opt_text(i)?.as_deref().map(parse_uuid).transpose()
    }
    pub(crate) fn u32(&self, i: usize) -> StoreResult<u32> {
        u32::try_from(self.int(i)?).map_err(|e| corrupt("integer", e))
    }
    pub(crate) fn u64(&self, i: usize) -> StoreResult<u64> {
        u64::try_from(self.int(i)?).map_err(|e| corrupt("integer", e))
    }
    pub(crate) fn bool(&self, i: usize) -> StoreResult<bool> {
        Ok(self.int(i)? != 0)
    }
    pub(crate) fn ts(&self, i: usize) -> StoreResult<Timestamp> {
        Ok(from_ts(self.int(i)?))
    }
    pub(crate) fn opt_ts(&self, i: usize) -> StoreResult<Option<Timestamp>> {
        Ok(self.opt_int(i)?.map(from_ts))
    }
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &str, i: usize) -> StoreResult<T> {
        from_json(what, &self.text(i)?)
    }
    pub(crate) fn opt_json<T: DeserializeOwned>(
        &self,
        what: &str,
        i: usize,
    ) -> StoreResult<Option<T>> {
        self.opt_text(i)?
            .as_deref()
            .map(|s| from_json(what, s))
            .transpose()
    }
    pub(crate) fn enumv<T: DeserializeOwned>(&self, what: &str, i: usize) -> StoreResult<T> {
        parse_enum(what, &self.text(i)?)
    }
    pub(crate) fn opt_enum<T: DeserializeOwned>(
        &self,
        what: &str,
        i: usize,
    ) -> StoreResult<Option<T>> {
        self.opt_text(i)?
            .as_deref()
            .map(|s| parse_enum(what, s))
            .transpose()
    }
}

// ------------------------------------------------------------------------------------- runs

/// The columns of `runs`, in the order of [`run_params`] (and of `sql/insert_run.sql`).
pub(crate) const RUN_COLUMNS: [&str; 26] = [
    "id",
    "tenant_id",
    "definition_id",
    "name",
    "triggered_by",
    "execution_state",
    "approval_state",
    "attempt",
    "version",
    "input_scope",
    "selected_skill_ids",
    "auto_start",
    "auto_start_user_message",
    "idempotency_key",
    "snapshot",
    "started_at",
    "attempt_started_at",
    "deadline_at",
    "completed_at",
    "error",
    "run_thread_id",
    "folders",
    "approval",
    "created_at",
    "updated_at",
    "failure",
];

/// The 26 column values of a run, in [`RUN_COLUMNS`] order.
pub(crate) fn run_params(r: &Run) -> StoreResult<Vec<Value>> {
    let t = |s: String| Value::Text(s);
    let ot = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let oi = |n: Option<i64>| n.map_or(Value::Null, Value::Integer);
    Ok(vec![
        t(uuid_text(r.id.0)),
        t(uuid_text(r.tenant_id.0)),
        t(uuid_text(r.definition_id.0)),
        t(r.name.clone()),
        t(uuid_text(r.triggered_by.0)),
        t(r.execution_state.as_str().to_owned()),
        t(r.approval_state.as_str().to_owned()),
        Value::Integer(i64::from(r.attempt)),
        Value::Integer(
            i64::try_from(r.version).map_err(|_| StoreError::backend("version overflow"))?,
        ),
        t(to_json(&r.input_scope)?),
        t(to_json(&r.selected_skill_ids)?),
        Value::Integer(i64::from(r.auto_start)),
        ot(r.auto_start_user_message.clone()),
        ot(r.idempotency_key.clone()),
        ot(r.snapshot.as_ref().map(to_json).transpose()?),
        oi(opt_ts(r.started_at)?),
        oi(opt_ts(r.attempt_started_at)?),
        oi(opt_ts(r.deadline_at)?),
        oi(opt_ts(r.completed_at)?),
        ot(r.error.clone()),
        ot(r.run_thread_id.map(uuid_text)),
        t(to_json(&r.folders)?),
        ot(r.approval.as_ref().map(to_json).transpose()?),
        Value::Integer(ts(r.created_at)?),
        Value::Integer(ts(r.updated_at)?),
        ot(r.failure.map(|f| f.as_str().to_owned())),
    ])
}

pub(crate) fn run_from_row(row: &Row<'_>) -> StoreResult<Run> {
    let c = Cols(row);
    Ok(Run {
        id: RunId(c.uuid(0)?),
        tenant_id: TenantId(c.uuid(1)?),
        definition_id: DefinitionId(c.uuid(2)?),
        name: c.text(3)?,
        triggered_by: UserId(c.uuid(4)?),
        execution_state: c.enumv("execution state", 5)?,
        approval_state: c.enumv("approval state", 6)?,
        attempt: c.u32(7)?,
        version: c.u64(8)?,
        input_scope: c.json("input scope", 9)?,
        selected_skill_ids: c.json("skill ids", 10)?,
        auto_start: c.bool(11)?,
        auto_start_user_message: c.opt_text(12)?,
        idempotency_key: c.opt_text(13)?,
        snapshot: c.opt_json("snapshot", 14)?,
        started_at: c.opt_ts(15)?,
        attempt_started_at: c.opt_ts(16)?,
        deadline_at: c.opt_ts(17)?,
        completed_at: c.opt_ts(18)?,
        error: c.opt_text(19)?,
        run_thread_id: c.opt_uuid(20)?,
        folders: c.json("run folders", 21)?,
        approval: c.opt_json("approval", 22)?,
        created_at: c.ts(23)?,
        updated_at: c.ts(24)?,
        failure: c.opt_enum("failure kind", 25)?,
    })
}

// ---------------------------------------------------------------------------------- history

pub(crate) fn history_params(h: &HistoryRecord) -> StoreResult<Vec<Value>> {
    let ot = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    Ok(vec![
        Value::Text(uuid_text(h.run_id.0)),
        Value::Integer(i64::try_from(h.seq).map_err(|_| StoreError::backend("seq overflow"))?),
        Value::Text(uuid_text(h.tenant_id.0)),
        ot(h.from.map(|s| s.as_str().to_owned())),
        ot(h.to.map(|s| s.as_str().to_owned())),
        Value::Text(enum_str(&h.event)?),
        ot(h.actor.user_id.map(|u| uuid_text(u.0))),
        Value::Integer(i64::from(h.actor.assumed)),
        Value::Integer(ts(h.at)?),
        Value::Integer(i64::from(h.attempt)),
        ot(h.reason.clone()),
    ])
}

pub(crate) fn history_from_row(row: &Row<'_>) -> StoreResult<HistoryRecord> {
    let c = Cols(row);
    Ok(HistoryRecord {
        run_id: RunId(c.uuid(0)?),
        seq: c.u64(1)?,
        tenant_id: TenantId(c.uuid(2)?),
        from: c.opt_enum("state", 3)?,
        to: c.opt_enum("state", 4)?,
        event: c.enumv("event", 5)?,
        actor: ActorStamp {
            user_id: c.opt_uuid(6)?.map(UserId),
            assumed: c.bool(7)?,
        },
        at: c.ts(8)?,
        attempt: c.u32(9)?,
        reason: c.opt_text(10)?,
    })
}

// ----------------------------------------------------------------------------------- outbox

pub(crate) fn outbox_params(m: &OutboxMessage) -> StoreResult<Vec<Value>> {
    let (tenant, kind) = match m {
        OutboxMessage::Dispatch(d) => (d.tenant_id, "dispatch"),
        OutboxMessage::Cancel(c) => (c.tenant_id, "cancel"),
    };
    let key = m.key();
    Ok(vec![
        Value::Text(uuid_text(key.run_id.0)),
        Value::Text(uuid_text(tenant.0)),
        Value::Integer(i64::from(key.attempt)),
        Value::Text(kind.to_owned()),
        Value::Text(to_json(m)?),
    ])
}

pub(crate) fn outbox_from_row(row: &Row<'_>) -> StoreResult<OutboxEntry> {
    let c = Cols(row);
    Ok(OutboxEntry {
        seq: c.u64(0)?,
        message: c.json("outbox message", 1)?,
        attempts: c.u32(2)?,
        delivered: c.bool(3)?,
        dead: c.bool(4)?,
        last_error: c.opt_text(5)?,
        next_try_at: c.opt_ts(6)?,
        first_failed_at: c.opt_ts(7)?,
    })
}

// ---------------------------------------------------------------------------------- catalog

pub(crate) fn user_from_row(row: &Row<'_>) -> StoreResult<User> {
    let c = Cols(row);
    Ok(User {
        tenant_id: TenantId(c.uuid(0)?),
        id: UserId(c.uuid(1)?),
        role: c.enumv("role", 2)?,
        first_name: c.text(3)?,
        last_name: c.text(4)?,
        api_key: c.opt_digest(5)?,
        grants: Vec::new(),
    })
}

pub(crate) fn part_from_row(row: &Row<'_>) -> StoreResult<PathPart> {
    let c = Cols(row);
    let version = match c.opt_text(9)? {
        Some(ingestion) => Some(VersionInfo {
            ingestion: parse_enum("ingestion", &ingestion)?,
            active: c.bool(10)?,
        }),
        None => None,
    };
    Ok(PathPart {
        tenant_id: TenantId(c.uuid(0)?),
        id: PathPartId(c.uuid(1)?),
        kind: c.enumv("path part kind", 2)?,
        name: c.text(3)?,
        parent_id: c.opt_uuid(4)?.map(PathPartId),
        path: c.text(5)?,
        approval_state: c.enumv("approval state", 6)?,
        approval: c.opt_json("approval", 7)?,
        created_at: c.ts(8)?,
        version,
    })
}

pub(crate) fn definition_params(d: &Definition) -> StoreResult<Vec<Value>> {
    Ok(vec![
        Value::Text(uuid_text(d.tenant_id.0)),
        Value::Text(uuid_text(d.id.0)),
        Value::Text(uuid_text(d.parent_id.0)),
        Value::Text(d.path.clone()),
        Value::Text(uuid_text(d.runs_folder_id.0)),
        Value::Text(d.name.clone()),
        d.instruction_id
            .map_or(Value::Null, |i| Value::Text(uuid_text(i.0))),
        Value::Integer(i64::from(d.max_run_duration_seconds)),
        Value::Integer(i64::from(d.approval_required)),
        Value::Integer(i64::from(d.is_active)),
        Value::Integer(i64::from(d.is_template)),
        Value::Text(to_json(&d.common_file_ids)?),
        Value::Text(to_json(&d.selected_skill_ids)?),
        Value::Text(uuid_text(d.owner_id.0)),
        Value::Integer(ts(d.created_at)?),
        d.description.clone().map_or(Value::Null, Value::Text),
        match &d.schedule {
            Some(s) => Value::Text(to_json(s)?),
            None => Value::Null,
        },
        d.created_from_id
            .map_or(Value::Null, |i| Value::Text(uuid_text(i.0))),
        Value::Integer(ts(d.updated_at)?),
    ])
}

pub(crate) fn definition_from_row(row: &Row<'_>) -> StoreResult<Definition> {
    let c = Cols(row);
    Ok(Definition {
        tenant_id: TenantId(c.uuid(0)?),
        id: DefinitionId(c.uuid(1)?),
        parent_id: PathPartId(c.uuid(2)?),
        path: c.text(3)?,
        runs_folder_id: PathPartId(c.uuid(4)?),
        name: c.text(5)?,
        instruction_id: c.opt_uuid(6)?.map(PathPartId),
        max_run_duration_seconds: c.u32(7)?,
        approval_required: c.bool(8)?,
        is_active: c.bool(9)?,
        is_template: c.bool(10)?,
        common_file_ids: c.json("common file ids", 11)?,
        selected_skill_ids: c.json("skill ids", 12)?,
        owner_id: UserId(c.uuid(13)?),
        created_at: c.ts(14)?,
        description: c.opt_text(15)?,
        schedule: match c.opt_text(16)? {
            Some(j) => Some(serde_json::from_str(&j).map_err(|e| {
                StoreError::corrupt(format!("definition schedule is not JSON: {e}"))
            })?),
            None => None,
        },
        created_from_id: c.opt_uuid(17)?.map(DefinitionId),
        updated_at: c.ts(18)?,
    })
}
