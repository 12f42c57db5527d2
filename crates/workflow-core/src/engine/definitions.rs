//! Definition administration beyond creation (DEF-1..5): list, full replacement, deletion with
//! its runs, instantiation, and the derived numbers of a definition's answer.

use super::Engine;
use crate::error::{Error, Result};
use crate::ids::{DefinitionId, PathPartId};
use crate::model::{
    Actor, ActorStamp, ApprovalState, Definition, DefinitionOrder, ExecutionState, Page, Run,
    SortDir, TimeRange,
};
use crate::policy;
use crate::rules::{self, PutDefinition};
use crate::store::{CatalogWrite, RunQuery, Store};

/// Input of the definition list (DEF-1, ksapi `list_workflow_definitions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListDefinitions {
    /// Only definitions the actor owns.
    pub mine: bool,
    /// Case-insensitive substring of the name or the description.
    pub search: Option<String>,
    /// Only templates (`true`) or only runnable ones (`false`); `None`: runnable ones, as
    /// ksapi excludes templates from the default list.
    pub is_template: Option<bool>,
    /// Only definitions with (`true`) or without (`false`) a run awaiting approval.
    pub needs_approval: Option<bool>,
    /// `created_at` window.
    pub created: TimeRange,
    /// `updated_at` window.
    pub updated: TimeRange,
    /// Sort key.
    pub order: DefinitionOrder,
    /// Direction; `None`: the key's natural one (newest first for times, A→Z for names).
    pub dir: Option<SortDir>,
    /// 1..=100.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl Default for ListDefinitions {
    fn default() -> Self {
        ListDefinitions {
            mine: false,
            search: None,
            is_template: None,
            needs_approval: None,
            created: TimeRange::default(),
            updated: TimeRange::default(),
            order: DefinitionOrder::CreatedAt,
            dir: None,
            limit: 20,
            offset: 0,
        }
    }
}

/// What a definition's answer derives from its runs and copies (DEF-5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionStats {
    /// Its most recent run (by creation) the actor can read.
    pub last_run: Option<Run>,
    /// Its runs awaiting approval the actor can read.
    pub pending_approval_count: u64,
    /// Definitions copied from it.
    pub copy_count: u64,
}

impl<S: Store> Engine<S> {
    /// Live runs of `def`, and how many are IN_PROGRESS (store aggregates, every run).
    pub(super) fn run_counts(&self, def: &Definition) -> Result<(u64, u64)> {
        let stats = self.store.run_stats(
            &RunQuery {
                definition_id: Some(def.id),
                ..RunQuery::all(def.tenant_id)
            },
            false,
        )?;
        let total = stats.counts.iter().map(|(_, n)| n).sum();
        let in_progress = stats
            .counts
            .iter()
            .filter(|(s, _)| *s == ExecutionState::InProgress)
            .map(|(_, n)| n)
            .sum();
        Ok((total, in_progress))
    }

    /// A definition the actor can read, which it may also write (DEF-2, DEF-3): `not_found`
    /// when unreadable (VIS-1), `forbidden` when read-only.
    fn writable_definition(&self, actor: &Actor, id: DefinitionId) -> Result<Definition> {
        let def = self.get_definition(actor, id)?;
        let grants = self.grants_of(actor)?;
        if !policy::can_write_path(actor, &grants, actor.tenant_id, &def.path) {
            return Err(Error::forbidden(
                "changing a definition needs write access to it",
            ));
        }
        Ok(def)
    }

    /// Replace a definition (DEF-2): ksapi's retain-on-null fields; moving or renaming it
    /// while a run is IN_PROGRESS is `conflict`; started runs keep their snapshots (SNAP-7).
    pub fn put_definition(
        &self,
        actor: &Actor,
        id: DefinitionId,
        put: PutDefinition,
    ) -> Result<Definition> {
        let existing = self.writable_definition(actor, id)?;
        let cmd = put.over(&existing);
        self.decide_and_apply_definition(actor, &cmd, id, Some(existing))
    }

    /// Delete a definition and its runs (DEF-3): `conflict` while any run is IN_PROGRESS;
    /// otherwise each run is deleted with its own recorded transition (DELETE-3), then the
    /// definition's parts and row.
    pub fn delete_definition(&self, actor: &Actor, id: DefinitionId) -> Result<()> {
        let def = self.writable_definition(actor, id)?;
        let tenant = def.tenant_id;
        if self.run_counts(&def)?.1 > 0 {
            return Err(Error::conflict(
                Some(ExecutionState::InProgress),
                "a run of this definition is IN_PROGRESS; stop it first",
            ));
        }
        let stamp = ActorStamp::from(actor);
        loop {
            let page = self.store.list_runs(&RunQuery {
                definition_id: Some(id),
                ..RunQuery::all(tenant)
            })?;
            if page.items.is_empty() {
                break;
            }
            for run in page.items {
                self.on_run(tenant, run.id, stamp, |run, _, _| {
                    let subtree = self.store.descendants(tenant, run.id.into())?;
                    rules::decide_delete_with_definition(run, &subtree)
                })?;
            }
        }
        let root = PathPartId::from(id);
        let mut writes: Vec<CatalogWrite> = self
            .store
            .descendants(tenant, root)?
            .iter()
            .rev()
            .map(|p| CatalogWrite::RemovePart(tenant, p.id))
            .collect();
        writes.push(CatalogWrite::RemovePart(tenant, root));
        writes.push(CatalogWrite::RemoveDefinition(tenant, id));
        Ok(self.store.apply_catalog(&writes)?)
    }

    /// Copy a definition (usually a template) into a new active, non-template one under
    /// `parent_id` (DEF-4): write access to the folder needed; named as asked or as the source.
    pub fn instantiate_definition(
        &self,
        actor: &Actor,
        source: DefinitionId,
        parent_id: PathPartId,
        name: Option<String>,
    ) -> Result<Definition> {
        let source = self.get_definition(actor, source)?;
        let cmd = rules::instantiate_command(&source, parent_id, name);
        let id = DefinitionId(self.ids.new_id());
        self.decide_and_apply_definition(actor, &cmd, id, None)
    }

    /// The definitions the actor can read, filtered and ordered (DEF-1).
    pub fn list_definitions(&self, actor: &Actor, q: ListDefinitions) -> Result<Page<Definition>> {
        if !(1..=100).contains(&q.limit) {
            return Err(Error::invalid("limit", "must be 1..=100"));
        }
        let grants = self.grants_of(actor)?;
        let tenant = actor.tenant_id;
        let needle = q.search.as_deref().map(str::to_lowercase);
        let awaiting = match q.needs_approval {
            Some(_) => Some(self.definitions_awaiting_approval(actor)?),
            None => None,
        };
        let mut hits: Vec<Definition> = self
            .store
            .definitions(tenant)?
            .into_iter()
            .filter(|d| policy::can_read_path(actor, &grants, tenant, &d.path))
            .filter(|d| !q.mine || d.owner_id == actor.user_id)
            .filter(|d| d.is_template == q.is_template.unwrap_or(false))
            .filter(|d| {
                needle.as_deref().is_none_or(|n| {
                    d.name.to_lowercase().contains(n)
                        || d.description
                            .as_deref()
                            .is_some_and(|x| x.to_lowercase().contains(n))
                })
            })
            .filter(|d| q.created.contains(d.created_at) && q.updated.contains(d.updated_at))
            .filter(|d| match (&awaiting, q.needs_approval) {
                (Some(ids), Some(want)) => ids.contains(&d.id) == want,
                _ => true,
            })
            .collect();
        let dir = q.dir.unwrap_or(match q.order {
            DefinitionOrder::Name => SortDir::Asc,
            _ => SortDir::Desc,
        });
        hits.sort_by(|a, b| {
            let c = match q.order {
                DefinitionOrder::CreatedAt => a.created_at.cmp(&b.created_at),
                DefinitionOrder::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                DefinitionOrder::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            }
            .then(a.id.cmp(&b.id));
            if dir == SortDir::Asc {
                c
            } else {
                c.reverse()
            }
        });
        let total = hits.len() as u64;
        let items = hits
            .into_iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(q.limit as usize)
            .collect();
        Ok(Page {
            items,
            total,
            limit: q.limit,
            offset: q.offset,
        })
    }

    /// Definitions with a run awaiting approval that the actor can read (one store query
    /// per page of such runs).
    fn definitions_awaiting_approval(&self, actor: &Actor) -> Result<Vec<DefinitionId>> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.list_runs(
                actor,
                super::ListRuns {
                    states: vec![ExecutionState::Completed],
                    approval_states: vec![ApprovalState::Pending],
                    limit: 100,
                    offset,
                    ..super::ListRuns::default()
                },
            )?;
            let n = page.items.len() as u64;
            out.extend(page.items.into_iter().map(|r| r.definition_id));
            if n < 100 {
                break;
            }
            offset += n;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// What a definition's answer derives (DEF-5), as `actor` can see it.
    pub fn definition_stats(&self, actor: &Actor, def: &Definition) -> Result<DefinitionStats> {
        let last = self.list_runs(
            actor,
            super::ListRuns {
                definition_id: Some(def.id),
                limit: 1,
                ..super::ListRuns::default()
            },
        )?;
        let pending = self.list_runs(
            actor,
            super::ListRuns {
                definition_id: Some(def.id),
                states: vec![ExecutionState::Completed],
                approval_states: vec![ApprovalState::Pending],
                limit: 1,
                ..super::ListRuns::default()
            },
        )?;
        let copy_count = self
            .store
            .definitions(def.tenant_id)?
            .iter()
            .filter(|d| d.created_from_id == Some(def.id))
            .count() as u64;
        Ok(DefinitionStats {
            last_run: last.items.into_iter().next(),
            pending_approval_count: pending.total,
            copy_count,
        })
    }
}
