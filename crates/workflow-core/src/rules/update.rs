use super::start::{start_from_draft, uploads_ready};
use super::*;

/// Input of Update (PATCH). At least one field must be present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateRun {
    /// Replaces the scope wholesale (UPDATE-5).
    pub input_scope: Option<Vec<PathPartId>>,
    /// Renames the run and its folder (UPDATE-4).
    pub name: Option<String>,
    /// Arms or disarms auto-start.
    pub auto_start: Option<bool>,
    /// Sets the auto-start message; an empty string clears it.
    pub auto_start_user_message: Option<String>,
}

impl UpdateRun {
    /// UPDATE-3 and field checks, before anything is read.
    pub fn validate(&self) -> Result<()> {
        if self.input_scope.is_none()
            && self.name.is_none()
            && self.auto_start.is_none()
            && self.auto_start_user_message.is_none()
        {
            return Err(Error::invalid(
                "body",
                "at least one of input_scope, name, auto_start, user_message must be non-null",
            ));
        }
        if let Some(n) = &self.name {
            validate_name("name", n)?;
        }
        if let Some(s) = &self.input_scope {
            if s.len() > MAX_INPUT_SCOPE {
                return Err(Error::invalid(
                    "input_scope",
                    format!("at most {MAX_INPUT_SCOPE} ids"),
                ));
            }
        }
        validate_len(
            "user_message",
            self.auto_start_user_message.as_deref(),
            MAX_USER_MESSAGE_LEN,
        )
    }
}

/// Facts Update needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateFacts {
    /// The new scope, resolved (when given).
    pub scope: Option<Vec<Resolved>>,
    /// Whether another run of the definition has the new name.
    pub name_taken: bool,
    /// The run folder's descendants, whose paths follow a rename.
    pub subtree: Vec<PathPart>,
    /// The run folder itself.
    pub folder: Option<PathPart>,
    /// The thread id a start would use.
    pub thread_id: Uuid,
    /// Start facts, read only when [`UpdateNeeds::start`] (arming a draft, UPDATE-7).
    pub start: StartFacts,
}

/// Which facts Update needs read beyond the resolved scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateNeeds {
    /// A real rename: whether the name is taken, the run folder and its subtree
    /// ([`UpdateFacts::name_taken`], [`UpdateFacts::folder`], [`UpdateFacts::subtree`]).
    pub rename: bool,
    /// Arming `auto_start` on a draft, which may start it: the start facts
    /// ([`UpdateFacts::start`]).
    pub start: bool,
}

impl UpdateRun {
    /// Whether the PATCH only arms auto-start (the fields a PENDING run accepts, UPDATE-7).
    fn only_arms(&self) -> bool {
        self.input_scope.is_none() && self.name.is_none()
    }
}

/// The refusals of Update that need no facts (fields UPDATE-3, permission UPDATE-2 before
/// state UPDATE-1, VIS-2), and which facts the decision then needs.
pub fn update_needs(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &UpdateRun,
) -> Result<UpdateNeeds> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "update")?;
    match run.execution_state {
        ExecutionState::NotStarted => {}
        ExecutionState::Pending if cmd.only_arms() => {}
        ExecutionState::Pending => {
            return Err(conflict(
                run,
                "a PENDING run accepts only auto_start and user_message",
            ))
        }
        s => return Err(conflict(run, format!("a {s} run cannot be edited"))),
    }
    Ok(UpdateNeeds {
        rename: cmd.name.as_ref().is_some_and(|n| *n != run.name),
        start: run.execution_state == ExecutionState::NotStarted && cmd.auto_start == Some(true),
    })
}

/// Update (UPDATE-1..7). Arming `auto_start: true` on a draft whose uploads (at least one) are
/// all ingested starts it at once as the caller, in the same commit (UPDATE-7, START-* apply);
/// a draft without uploads, or with a failed one, is only armed (as a create with `auto_start`
/// and no uploads is).
pub fn decide_update(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &UpdateRun,
    facts: &UpdateFacts,
) -> Result<Decision> {
    let needs = update_needs(ctx, run, def, cmd)?;
    let mut next = run.clone();
    let mut catalog = Vec::new();
    if let Some(scope) = &facts.scope {
        next.input_scope = validate_scope(ctx, scope)?;
    }
    if let Some(name) = &cmd.name {
        if *name != run.name {
            if facts.name_taken {
                return Err(conflict(
                    run,
                    "a run of this definition already has that name",
                ));
            }
            let folder = facts
                .folder
                .as_ref()
                .ok_or_else(|| Error::Internal(format!("run folder of {} missing", run.id)))?;
            let old = folder.path.clone();
            let parent = old.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            let new = child_path(parent, name);
            let mut f = folder.clone();
            f.name = name.clone();
            f.path = new.clone();
            catalog.push(CatalogWrite::PutPart(Box::new(f)));
            for d in &facts.subtree {
                let mut d = d.clone();
                d.path = format!("{new}{}", &d.path[old.len().min(d.path.len())..]);
                catalog.push(CatalogWrite::PutPart(Box::new(d)));
            }
            next.name = name.clone();
            next.folders.path = new;
        }
    }
    if let Some(a) = cmd.auto_start {
        next.auto_start = a;
    }
    if let Some(m) = &cmd.auto_start_user_message {
        next.auto_start_user_message = if m.is_empty() { None } else { Some(m.clone()) };
    }
    if needs.start && !facts.start.uploads.is_empty() && uploads_ready(&facts.start) {
        let msg = next.auto_start_user_message.clone();
        let thread = facts.thread_id;
        let mut started =
            start_from_draft(ctx, &next, def, msg, &facts.start, thread, Event::Started)?;
        if let Some(t) = started.change.as_mut() {
            t.reason = Some("auto-start armed".into());
            t.catalog.extend(catalog);
        }
        return Ok(started);
    }
    let mut t = write(bump(&next, ctx.now), Event::Updated);
    t.catalog = catalog;
    Ok(Decision::write(t, ()))
}
