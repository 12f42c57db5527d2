//! The dispatch side of the standalone server.
//!
//! [`ChannelDispatcher`] is the engine's [`Dispatcher`]: the outbox relay hands it each queued
//! dispatch and cancel (at least once), and it forwards them to a channel. [`spawn_local_runner`]
//! is the simulated agent of `--runner local`: for each dispatched attempt it waits the delay,
//! writes one output document into `outputs/`, then reports COMPLETED with the attempt number
//! through [`Engine::callback`], the same call the HTTP callback endpoint makes, acting as the
//! run's triggerer, assumed. A redelivered dispatch (same run and attempt) is run once. A cancel
//! (stop, timeout) aborts a waiting attempt; an attempt already past its wait still reports, and
//! the engine ignores that late result (`already_terminal`, CB-3; `stale_attempt` after a retry,
//! CB-4). `--runner none` uses [`LoggingDispatcher`]: dispatches are only logged and an outside
//! runner posts the callbacks. `--runner webhook` uses [`webhook_dispatcher`]: each message is
//! POSTed, signed per Standard Webhooks, to one receiver URL (HOOK-1).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use workflow_core::{
    Actor, Callback, CallbackStatus, Cancel, Dispatch, DispatchError, DispatchKey, Dispatcher,
    Engine, ExecutionState, Role, Store,
};
use workflow_dispatch_webhook::{load_secrets, WebhookConfig, WebhookDispatcher};
use workflow_runner::PayloadBuilder;

/// A message for the runner.
#[derive(Clone, Debug)]
pub enum RunnerMessage {
    /// Execute an attempt.
    Dispatch(Box<Dispatch>),
    /// Abandon an attempt (best effort).
    Cancel(Cancel),
}

/// A [`Dispatcher`] that forwards to a channel.
#[derive(Clone, Debug)]
pub struct ChannelDispatcher {
    tx: mpsc::UnboundedSender<RunnerMessage>,
}

/// The receiving end of a [`ChannelDispatcher`].
#[derive(Debug)]
pub struct RunnerInbox {
    rx: mpsc::UnboundedReceiver<RunnerMessage>,
}

/// A connected dispatcher and inbox.
pub fn channel() -> (ChannelDispatcher, RunnerInbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ChannelDispatcher { tx }, RunnerInbox { rx })
}

impl ChannelDispatcher {
    fn send(&self, m: RunnerMessage) -> Result<(), DispatchError> {
        self.tx.send(m).map_err(|_| DispatchError {
            retryable: true,
            message: "the local runner is not running".to_owned(),
            retry_after: None,
        })
    }
}

impl Dispatcher for ChannelDispatcher {
    fn dispatch(&self, message: &Dispatch) -> Result<(), DispatchError> {
        self.send(RunnerMessage::Dispatch(Box::new(message.clone())))
    }
    fn cancel(&self, message: &Cancel) -> Result<(), DispatchError> {
        self.send(RunnerMessage::Cancel(message.clone()))
    }
}

/// The dispatcher of `--runner none`: logs each message; an outside runner posts the callbacks.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoggingDispatcher;

impl Dispatcher for LoggingDispatcher {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        tracing::info!(run_id = %d.key.run_id, attempt = d.key.attempt, "dispatch logged");
        Ok(())
    }
    fn cancel(&self, c: &Cancel) -> Result<(), DispatchError> {
        tracing::info!(run_id = %c.key.run_id, attempt = c.key.attempt, reason = %c.reason, "cancel logged");
        Ok(())
    }
}

/// The dispatcher of `--runner webhook` (HOOK-1): POSTs to `url`, signed with every secret of
/// `secret_file` (one `whsec_<base64>` per line), each delivery cut off after `timeout`. Errors
/// (an unreadable or malformed secret file, a URL that is not `http://host…`) are for the
/// operator, at start.
pub fn webhook_dispatcher(
    url: &str,
    secret_file: &Path,
    timeout: Duration,
    payloads: PayloadBuilder,
) -> Result<WebhookDispatcher, String> {
    let secrets = load_secrets(secret_file).map_err(|e| e.to_string())?;
    let config = WebhookConfig {
        timeout,
        connect_timeout: WebhookConfig::new(url).connect_timeout.min(timeout),
        ..WebhookConfig::new(url)
    };
    WebhookDispatcher::new(config, secrets, payloads).map_err(|e| e.to_string())
}

/// Start the simulated agent on `inbox`; it runs until the inbox closes or the handle is aborted
/// (aborting it aborts the attempts it is waiting on).
pub fn spawn_local_runner<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    mut inbox: RunnerInbox,
    delay: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: HashSet<DispatchKey> = HashSet::new();
        let mut waiting: HashMap<DispatchKey, AbortHandle> = HashMap::new();
        let mut attempts = JoinSet::new();
        loop {
            tokio::select! {
                msg = inbox.rx.recv() => match msg {
                    None => break,
                    Some(RunnerMessage::Dispatch(d)) => {
                        if !seen.insert(d.key) {
                            tracing::debug!(run_id = %d.key.run_id, attempt = d.key.attempt, "redelivered dispatch ignored");
                            continue;
                        }
                        let key = d.key;
                        let h = attempts.spawn(run_attempt(engine.clone(), *d, delay));
                        waiting.insert(key, h);
                    }
                    Some(RunnerMessage::Cancel(c)) => {
                        if let Some(h) = waiting.remove(&c.key) {
                            h.abort();
                            tracing::info!(run_id = %c.key.run_id, attempt = c.key.attempt, "attempt cancelled");
                        }
                    }
                },
                Some(done) = attempts.join_next(), if !attempts.is_empty() => {
                    if let Ok(key) = done {
                        waiting.remove(&key);
                    }
                }
            }
        }
    })
}

async fn run_attempt<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    d: Dispatch,
    delay: Duration,
) -> DispatchKey {
    tokio::time::sleep(delay).await;
    let key = d.key;
    let result = tokio::task::spawn_blocking(move || complete_attempt(&engine, &d)).await;
    match result {
        Ok(Ok(outcome)) => {
            tracing::info!(run_id = %key.run_id, attempt = key.attempt, outcome, "local runner reported COMPLETED")
        }
        Ok(Err(e)) => {
            tracing::warn!(run_id = %key.run_id, attempt = key.attempt, error = %e, "local runner could not report")
        }
        Err(e) => {
            tracing::error!(run_id = %key.run_id, error = %e, "local runner attempt panicked")
        }
    }
    key
}

/// What the local runner does at the end of an attempt, as the run's triggerer (assumed): write
/// one output document (only while this attempt is the live one), then report COMPLETED with
/// the attempt number through [`Engine::callback`]. Returns the callback's outcome
/// (`updated`, or `already_terminal` / `stale_attempt` for a late result, which changes nothing).
pub fn complete_attempt<S: Store>(
    engine: &Engine<S>,
    d: &Dispatch,
) -> workflow_core::Result<&'static str> {
    let tenant = d.tenant_id;
    let actor = engine
        .store()
        .user(tenant, d.triggered_by)?
        .map_or_else(
            || Actor::new(tenant, d.triggered_by, Role::User),
            |u| Actor::of(&u),
        )
        .assumed();
    let run = engine.get_run(&actor, d.key.run_id)?;
    // Only the live attempt writes outputs; a late one only reports (and is ignored).
    if run.execution_state == ExecutionState::InProgress && run.attempt == d.key.attempt {
        let name = format!("result-attempt-{}.md", d.key.attempt);
        engine.add_output(&actor, d.key.run_id, &name)?;
    }
    let r = engine.callback(
        &actor,
        d.key.run_id,
        Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(d.key.attempt),
        },
    )?;
    Ok(r.outcome.as_str())
}
