//! The catalog administration calls: read the facts, decide ([`crate::rules`]'s catalog
//! decisions), apply the writes in one atomic `apply_catalog`.

use super::Engine;
use crate::error::{Error, Result};
use crate::ids::{DefinitionId, PathPartId, TenantId};
use crate::model::{
    Actor, Capability, Definition, Ingestion, PathPart, PathPartKind, Tenant, User,
};
use crate::policy;
use crate::rules::{self, CatalogDecision, Ctx, DefinitionFacts, NewDefinition};
use crate::store::{CatalogWrite, Store};

impl<S: Store> Engine<S> {
    pub(super) fn apply<A>(&self, d: CatalogDecision<A>) -> Result<A> {
        if let Some(writes) = d.change {
            self.store.apply_catalog(&writes)?;
        }
        Ok(d.answer)
    }

    /// Insert or replace a tenant.
    pub fn put_tenant(&self, tenant: Tenant) -> Result<()> {
        Ok(self.store.apply_catalog(&[CatalogWrite::Tenant(tenant)])?)
    }

    /// Insert or replace a user and its grants.
    pub fn put_user(&self, user: User) -> Result<()> {
        self.apply(rules::decide_user(&user)?)
    }

    /// `parent`'s part, which must exist in the tenant.
    fn parent(&self, tenant: TenantId, parent: Option<PathPartId>) -> Result<Option<PathPart>> {
        parent
            .map(|p| {
                self.store
                    .path_part(tenant, p)?
                    .ok_or_else(|| Error::not_found("path part", p))
            })
            .transpose()
    }

    /// Insert or replace a knowledge-base node (folder, document, connector) under `parent`.
    /// Keeps the creation time of an existing node, so that writing the same node twice changes
    /// nothing.
    pub fn put_part(
        &self,
        tenant: TenantId,
        id: PathPartId,
        kind: PathPartKind,
        name: &str,
        parent: Option<PathPartId>,
    ) -> Result<PathPart> {
        crate::policy::validate_name("name", name)?;
        let parent = self.parent(tenant, parent)?;
        let existing = self.store.path_part(tenant, id)?;
        let d = rules::decide_part(
            tenant,
            id,
            kind,
            name,
            parent.as_ref(),
            existing.as_ref(),
            self.clock.now(),
        )?;
        self.apply(d)
    }

    /// Insert or replace a version of a DOCUMENT. Making it active deactivates the others, in
    /// the same atomic write (two racing activations leave one active version).
    pub fn put_version(
        &self,
        tenant: TenantId,
        document: PathPartId,
        id: PathPartId,
        ingestion: Ingestion,
        active: bool,
    ) -> Result<PathPart> {
        let doc = self
            .store
            .path_part(tenant, document)?
            .ok_or_else(|| Error::not_found("document", document))?;
        let existing = self.store.path_part(tenant, id)?;
        let d = rules::decide_version(
            &doc,
            id,
            ingestion,
            active,
            existing.as_ref(),
            self.clock.now(),
        )?;
        self.apply(d)
    }

    /// Create (or, with the same id, replace) a workflow definition. OWNER/ADMIN, or a USER with
    /// a read-write grant covering the parent folder.
    pub fn create_definition(&self, actor: &Actor, d: NewDefinition) -> Result<Definition> {
        let id = d.id.unwrap_or_else(|| DefinitionId(self.ids.new_id()));
        let existing = self.store.definition(actor.tenant_id, id)?;
        self.decide_and_apply_definition(actor, &d, id, existing)
    }

    /// Read the facts of a definition write, decide it and apply it (creation, replacement,
    /// instantiation).
    pub(super) fn decide_and_apply_definition(
        &self,
        actor: &Actor,
        d: &NewDefinition,
        id: DefinitionId,
        existing: Option<Definition>,
    ) -> Result<Definition> {
        let tenant = actor.tenant_id;
        let grants = self.grants_of(actor)?;
        let parent = self.store.path_part(tenant, d.parent_id)?;
        let sibling = match &parent {
            Some(p) => self
                .store
                .children(tenant, p.id)?
                .into_iter()
                .find(|c| c.name == d.name),
            None => None,
        };
        let (subtree, runs, runs_in_progress) = match &existing {
            Some(e) => {
                let (runs, in_progress) = self.run_counts(e)?;
                (
                    self.store.descendants(tenant, e.id.into())?,
                    runs,
                    in_progress,
                )
            }
            None => (Vec::new(), 0, 0),
        };
        let facts = DefinitionFacts {
            parent,
            instruction: match d.instruction_id {
                Some(i) => self.store.path_part(tenant, i)?,
                None => None,
            },
            sibling,
            existing,
            subtree,
            runs,
            runs_in_progress,
        };
        let ctx = Ctx {
            actor,
            grants: &grants,
            now: self.clock.now(),
            grace: self.config.grace,
        };
        self.apply(rules::decide_definition(&ctx, d, id, &facts)?)
    }

    /// Get a definition the actor can read.
    pub fn get_definition(&self, actor: &Actor, id: DefinitionId) -> Result<Definition> {
        let grants = self.grants_of(actor)?;
        self.store
            .definition(actor.tenant_id, id)?
            .filter(|d| policy::can_read_path(actor, &grants, actor.tenant_id, &d.path))
            .ok_or_else(|| Error::not_found("workflow definition", id))
    }

    /// The grant an actor holds on a path, for hosts rendering permissions.
    pub fn capability_on(&self, actor: &Actor, path: &str) -> Result<Option<Capability>> {
        if actor.role.is_admin() {
            return Ok(Some(Capability::ReadWrite));
        }
        Ok(policy::capability_on(&self.grants_of(actor)?, path))
    }
}
