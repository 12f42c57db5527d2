//! Conversions between domain values and PostgreSQL columns: ids as `uuid`, timestamps as
//! `bigint` nanoseconds since the epoch (exact and ordered), wire enums as their wire strings,
//! structured values as `jsonb` (through serde).

use crate::conn::map_err;
use postgres::types::{FromSql, Json, ToSql};
use postgres::Row;
use serde::de::DeserializeOwned;
use serde::Serialize;
use workflow_core::chrono::DateTime;
use workflow_core::uuid::Uuid;
use workflow_core::{
    ActorStamp, ApiKeyDigest, Definition, DefinitionId, HistoryRecord, OutboxEntry, OutboxMessage,
    PathPart, PathPartId, Run, RunId, StoreError, StoreResult, TenantId, Timestamp, User, UserId,
    VersionInfo,
};

/// One bound parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("unreadable {what} in the database: {detail}"))
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

/// A window bound as stored nanoseconds: times outside what can be stored compare as the lowest
/// or highest value, so a far bound is a valid, open-looking bound, not an error.
pub(crate) fn bound(t: Timestamp) -> i64 {
    ts(t).unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

pub(crate) fn int(n: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::backend(format!("{what} overflows a bigint")))
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

/// Typed column access that maps driver errors to [`StoreError`] (a value that does not decode
/// is `Corrupt`).
pub(crate) struct Cols<'r> {
    row: &'r Row,
    /// Column `i` is the row's column `base + i` (a join returns several records side by side).
    base: usize,
}

impl<'r> Cols<'r> {
    /// The row's columns from the first.
    pub(crate) fn new(row: &'r Row) -> Self {
        Cols { row, base: 0 }
    }
    /// The row's columns from `base` on.
    pub(crate) fn at(row: &'r Row, base: usize) -> Self {
        Cols { row, base }
    }
    pub(crate) fn get<'a, T: FromSql<'a>>(&'a self, i: usize) -> StoreResult<T> {
        self.row.try_get(self.base + i).map_err(map_err)
    }
    pub(crate) fn text(&self, i: usize) -> StoreResult<String> {
        self.get(i)
    }
    pub(crate) fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        self.get(i)
    }
    pub(crate) fn uuid(&self, i: usize) -> StoreResult<Uuid> {
        self.get(i)
    }
    pub(crate) fn opt_uuid(&self, i: usize) -> StoreResult<Option<Uuid>> {
        self.get(i)
    }
    pub(crate) fn u32(&self, i: usize) -> StoreResult<u32> {
        u32::try_from(self.get::<i64>(i)?).map_err(|e| corrupt("integer", e))
    }
    pub(crate) fn u64(&self, i: usize) -> StoreResult<u64> {
        u64::try_from(self.get::<i64>(i)?).map_err(|e| corrupt("integer", e))
    }
    pub(crate) fn bool(&self, i: usize) -> StoreResult<bool> {
        self.get(i)
    }
    pub(crate) fn ts(&self, i: usize) -> StoreResult<Timestamp> {
        Ok(from_ts(self.get(i)?))
    }
    pub(crate) fn opt_ts(&self, i: usize) -> StoreResult<Option<Timestamp>> {
        Ok(self.get::<Option<i64>>(i)?.map(from_ts))
    }
    pub(crate) fn json<T: DeserializeOwned>(&self, i: usize) -> StoreResult<T> {
        Ok(self.get::<Json<T>>(i)?.0)
    }
    pub(crate) fn opt_json<T: DeserializeOwned>(&self, i: usize) -> StoreResult<Option<T>> {
        Ok(self.get::<Option<Json<T>>>(i)?.map(|j| j.0))
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
    /// An API key digest column (SEC-3): NULL or exactly 32 bytes.
    pub(crate) fn opt_digest(&self, i: usize) -> StoreResult<Option<ApiKeyDigest>> {
        let bytes: Option<Vec<u8>> = self.get(i)?;
        bytes
            .map(|b| {
                ApiKeyDigest::from_slice(&b).ok_or_else(|| {
                    StoreError::corrupt(format!("an API key digest of {} bytes", b.len()))
                })
            })
            .transpose()
    }
}

// ------------------------------------------------------------------------------------- runs

/// The 26 column values of a run, in the order of `sql/insert_run.sql`.
pub(crate) struct RunRow<'r> {
    run: &'r Run,
    execution_state: &'static str,
    approval_state: &'static str,
    attempt: i64,
    version: i64,
    started_at: Option<i64>,
    attempt_started_at: Option<i64>,
    deadline_at: Option<i64>,
    completed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    failure: Option<String>,
    input_scope: Json<&'r Vec<PathPartId>>,
    skills: Json<&'r Vec<Uuid>>,
    snapshot: Option<Json<&'r workflow_core::Snapshot>>,
    folders: Json<&'r workflow_core::RunFolders>,
    approval: Option<Json<&'r workflow_core::ApprovalRecord>>,
}

impl<'r> RunRow<'r> {
    pub(crate) fn new(r: &'r Run) -> StoreResult<Self> {
        Ok(RunRow {
            run: r,
            execution_state: r.execution_state.as_str(),
            approval_state: r.approval_state.as_str(),
            attempt: i64::from(r.attempt),
            version: int(r.version, "version")?,
            started_at: opt_ts(r.started_at)?,
            attempt_started_at: opt_ts(r.attempt_started_at)?,
            deadline_at: opt_ts(r.deadline_at)?,
            completed_at: opt_ts(r.completed_at)?,
            created_at: ts(r.created_at)?,
            updated_at: ts(r.updated_at)?,
            failure: r.failure.as_ref().map(enum_str).transpose()?,
            input_scope: Json(&r.input_scope),
            skills: Json(&r.selected_skill_ids),
            snapshot: r.snapshot.as_ref().map(Json),
            folders: Json(&r.folders),
            approval: r.approval.as_ref().map(Json),
        })
    }

    pub(crate) fn params(&self) -> [Param<'_>; 26] {
        let r = self.run;
        [
            &r.id.0,
            &r.tenant_id.0,
            &r.definition_id.0,
            &r.name,
            &r.triggered_by.0,
            &self.execution_state,
            &self.approval_state,
            &self.attempt,
            &self.version,
            &self.input_scope,
            &self.skills,
            &r.auto_start,
            &r.auto_start_user_message,
            &r.idempotency_key,
            &self.snapshot,
            &self.started_at,
            &self.attempt_started_at,
            &self.deadline_at,
            &self.completed_at,
            &r.error,
            &r.run_thread_id,
            &self.folders,
            &self.approval,
            &self.created_at,
            &self.updated_at,
            &self.failure,
        ]
    }
}

/// How many columns `run_from_row` reads (those of `sql/load_run.sql`).
pub(crate) const RUN_COLUMNS: usize = 26;

pub(crate) fn run_from_row(row: &Row) -> StoreResult<Run> {
    let c = Cols::new(row);
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
        input_scope: c.json(9)?,
        selected_skill_ids: c.json(10)?,
        auto_start: c.bool(11)?,
        auto_start_user_message: c.opt_text(12)?,
        idempotency_key: c.opt_text(13)?,
        snapshot: c.opt_json(14)?,
        started_at: c.opt_ts(15)?,
        attempt_started_at: c.opt_ts(16)?,
        deadline_at: c.opt_ts(17)?,
        completed_at: c.opt_ts(18)?,
        error: c.opt_text(19)?,
        run_thread_id: c.opt_uuid(20)?,
        folders: c.json(21)?,
        approval: c.opt_json(22)?,
        created_at: c.ts(23)?,
        updated_at: c.ts(24)?,
        failure: c.opt_enum("failure kind", 25)?,
    })
}

// ---------------------------------------------------------------------------------- history

pub(crate) fn history_from_row(row: &Row) -> StoreResult<HistoryRecord> {
    let c = Cols::new(row);
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

/// The kind column of an outbox message.
pub(crate) fn outbox_kind(m: &OutboxMessage) -> (TenantId, &'static str) {
    match m {
        OutboxMessage::Dispatch(d) => (d.tenant_id, "dispatch"),
        OutboxMessage::Cancel(c) => (c.tenant_id, "cancel"),
    }
}

pub(crate) fn outbox_from_row(row: &Row) -> StoreResult<OutboxEntry> {
    let c = Cols::new(row);
    Ok(OutboxEntry {
        seq: c.u64(0)?,
        message: c.json(1)?,
        attempts: c.u32(2)?,
        delivered: c.bool(3)?,
        dead: c.bool(4)?,
        last_error: c.opt_text(5)?,
        next_try_at: c.opt_ts(6)?,
        first_failed_at: c.opt_ts(7)?,
    })
}

// ---------------------------------------------------------------------------------- catalog

pub(crate) fn user_from_row(row: &Row) -> StoreResult<User> {
    let c = Cols::new(row);
    Ok(User {
        tenant_id: TenantId(c.uuid(0)?),
        id: UserId(c.uuid(1)?),
        role: c.enumv("role", 2)?,
        first_name: c.text(3)?,
        last_name: c.text(4)?,
        api_key: c.opt_digest(5)?,
        grants: c.json(6)?,
    })
}

pub(crate) fn part_from_row(row: &Row) -> StoreResult<PathPart> {
    let c = Cols::new(row);
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
        approval: c.opt_json(7)?,
        created_at: c.ts(8)?,
        version,
    })
}

/// The 19 column values of a definition, in the order of `sql/upsert_definition.sql`.
pub(crate) struct DefinitionRow<'d> {
    d: &'d Definition,
    max_run: i64,
    common: Json<&'d Vec<PathPartId>>,
    skills: Json<&'d Vec<Uuid>>,
    schedule: Option<Json<&'d workflow_core::Schedule>>,
    created_at: i64,
    updated_at: i64,
    instruction_id: Option<Uuid>,
    created_from_id: Option<Uuid>,
}

impl<'d> DefinitionRow<'d> {
    pub(crate) fn new(d: &'d Definition) -> StoreResult<Self> {
        Ok(DefinitionRow {
            d,
            max_run: i64::from(d.max_run_duration_seconds),
            common: Json(&d.common_file_ids),
            skills: Json(&d.selected_skill_ids),
            schedule: d.schedule.as_ref().map(Json),
            created_at: ts(d.created_at)?,
            updated_at: ts(d.updated_at)?,
            instruction_id: d.instruction_id.map(|i| i.0),
            created_from_id: d.created_from_id.map(|i| i.0),
        })
    }

    pub(crate) fn params(&self) -> [Param<'_>; 19] {
        let d = self.d;
        [
            &d.tenant_id.0,
            &d.id.0,
            &d.parent_id.0,
            &d.path,
            &d.runs_folder_id.0,
            &d.name,
            &self.instruction_id,
            &self.max_run,
            &d.approval_required,
            &d.is_active,
            &d.is_template,
            &self.common,
            &self.skills,
            &d.owner_id.0,
            &self.created_at,
            &d.description,
            &self.schedule,
            &self.created_from_id,
            &self.updated_at,
        ]
    }
}

pub(crate) fn definition_from_row(row: &Row) -> StoreResult<Definition> {
    definition_at(row, 0)
}

/// The columns of `sql/definition.sql`, from column `base` of `row` on.
pub(crate) fn definition_at(row: &Row, base: usize) -> StoreResult<Definition> {
    let c = Cols::at(row, base);
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
        common_file_ids: c.json(11)?,
        selected_skill_ids: c.json(12)?,
        owner_id: UserId(c.uuid(13)?),
        created_at: c.ts(14)?,
        description: c.opt_text(15)?,
        schedule: c.opt_json(16)?,
        created_from_id: c.opt_uuid(17)?.map(DefinitionId),
        updated_at: c.ts(18)?,
    })
}
