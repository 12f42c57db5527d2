//! # workflow-dispatch-webhook
//!
//! A [`workflow_core::Dispatcher`] for runners that are plain HTTP services (SPEC HOOK-1): each
//! queued dispatch or cancel is one `POST` of its DISP-1 payload
//! ([`workflow_runner::DispatchPayload`], or [`workflow_runner::CancelPayload`] with
//! `"type": "cancel"`) to one URL, signed per the
//! [Standard Webhooks](https://www.standardwebhooks.com) specification, so that any of its
//! libraries verifies it (HOOK-2):
//!
//! * `webhook-id`: the outbox message id ([`workflow_core::OutboxMessage::message_id`]), the
//!   same on every redelivery of a message: the receiver's idempotency key (DISP-2);
//! * `webhook-timestamp`: the time of this delivery attempt, in unix seconds;
//! * `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one entry per
//!   secret of the secret file (rotation), keyed by the base64 part of `whsec_<base64>`.
//!
//! The answer decides what the relay does ([`classify`]): 2xx is delivered; 410 and every other
//! 4xx but 408 and 429 are permanent (the message is dead-lettered and its attempt fails,
//! DISP-5); 408, 429, 5xx, refused connections and timeouts are retried with the relay's
//! backoff, or after the answer's `Retry-After` if that is longer (DISP-4). Redirects are not
//! followed. Every request has a connect timeout and an overall timeout, so a receiver that
//! hangs holds one relay worker for at most that long; other runs' deliveries go on meanwhile
//! on the other workers (DISP-6).
//!
//! The client is synchronous (`ureq`) because the relay calls dispatchers from its own threads,
//! and speaks plain `http://` only (no TLS stack is compiled in): put a TLS-terminating proxy in
//! front of a remote receiver. The signing and the verification use the `hmac` and `sha2`
//! crates, and the verification compares in constant time with a timestamp tolerance
//! ([`WebhookSecret::verify`]), for receivers written in Rust.
//!
//! ## Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use workflow_dispatch_webhook::*;
//! use workflow_runner::{PayloadBuilder, TokenKeys};
//!
//! // The sender: the server's dispatcher (no request is made until the relay delivers).
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let payloads = PayloadBuilder::new(
//!     "http://127.0.0.1:8000",
//!     TokenKeys::random().unwrap(),
//!     chrono::Duration::seconds(60),
//! );
//! let dispatcher = WebhookDispatcher::new(
//!     WebhookConfig::new("http://127.0.0.1:9000/hooks/workflow-runs"),
//!     vec![secret.clone()],
//!     payloads,
//! )
//! .unwrap();
//! let _: std::sync::Arc<dyn workflow_core::Dispatcher> = std::sync::Arc::new(dispatcher);
//!
//! // A receiver in Rust: verify the three headers against the raw body before parsing it.
//! let body = br#"{"schema":"workflow-run-dispatch/1","type":"dispatch"}"#;
//! let now = SystemTime::now();
//! let timestamp = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
//! let signature = secret.sign("3f1c…", timestamp, body);
//! let headers = SignedHeaders {
//!     id: "3f1c…",
//!     timestamp: &timestamp.to_string(),
//!     signature: &signature,
//! };
//! assert_eq!(secret.verify(&headers, body, now, DEFAULT_TOLERANCE), Ok(()));
//! assert_eq!(
//!     secret.verify(&headers, b"{}", now, DEFAULT_TOLERANCE),
//!     Err(VerifyError::NoMatchingSignature)
//! );
//! let an_hour_later = now + Duration::from_secs(3600);
//! assert!(matches!(
//!     secret.verify(&headers, body, an_hour_later, DEFAULT_TOLERANCE),
//!     Err(VerifyError::TooOld(_))
//! ));
//! ```

mod answer;
mod signature;

pub use answer::{classify, parse_retry_after};
pub use signature::{
    load_secrets, signature_header, SecretError, SecretFileError, SignedHeaders, VerifyError,
    WebhookSecret, DEFAULT_TOLERANCE, MAX_SECRET_LEN, MIN_SECRET_LEN, SECRET_PREFIX,
};

use std::io::Read as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use workflow_core::{Cancel, Dispatch, DispatchError, Dispatcher};
use workflow_runner::PayloadBuilder;

/// Where and how to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The receiver's URL (`http://…`).
    pub url: String,
    /// Connecting gives up after this.
    pub connect_timeout: Duration,
    /// A whole delivery (connect, send, the receiver's answer) gives up after this.
    pub timeout: Duration,
}

impl WebhookConfig {
    /// Defaults for everything but the URL: 5 s to connect, 15 s per delivery (the low end of
    /// the 15–30 s Standard Webhooks recommends: a relay worker is held that long at most).
    pub fn new(url: &str) -> Self {
        WebhookConfig {
            url: url.to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

/// The dispatcher cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not an absolute `http://` URL with a host.
    #[error("webhook URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No secret to sign with.
    #[error("no webhook secret to sign with")]
    NoSecret,
}

/// POSTs signed payloads to one receiver.
#[derive(Debug)]
pub struct WebhookDispatcher {
    config: WebhookConfig,
    agent: ureq::Agent,
    secrets: Vec<WebhookSecret>,
    payloads: PayloadBuilder,
}

impl WebhookDispatcher {
    /// A dispatcher delivering to `config.url`, signing with every one of `secrets` and building
    /// payloads with `payloads`. Refuses a URL that is not `http://host…` and an empty secret
    /// list, so a misconfiguration fails at start, not as dead-lettered runs.
    pub fn new(
        config: WebhookConfig,
        secrets: Vec<WebhookSecret>,
        payloads: PayloadBuilder,
    ) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::Url {
            url: config.url.clone(),
            reason: reason.to_owned(),
        };
        let uri: ureq::http::Uri = config.url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not built in; deliver to a local TLS-terminating proxy over http",
                ))
            }
            _ => return Err(bad("expected http://host[:port]/path")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if secrets.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Ok(WebhookDispatcher {
            config,
            agent,
            secrets,
            payloads,
        })
    }

    /// Where it delivers, and its timeouts.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// One signed POST of `body` as message `id`, timestamped now.
    fn deliver(&self, id: &str, body: &[u8]) -> Result<(), DispatchError> {
        let timestamp = unix_now();
        let signature = signature_header(&self.secrets, id, timestamp, body);
        let mut response = self
            .agent
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("user-agent", "workflow-runs-webhook/1")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .send(body)
            .map_err(|e| DispatchError::transient(format!("webhook not delivered: {e}")))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // A few hundred bytes of the refusal are enough to tell why; a body that fails to
        // arrive does not change the classification.
        let mut head = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(512)
            .read_to_end(&mut head);
        classify(
            status,
            retry_after.as_deref(),
            SystemTime::now(),
            &answer::snippet(&head, 200),
        )
    }

    fn deliver_json<T: serde::Serialize>(
        &self,
        id: &str,
        payload: &T,
    ) -> Result<(), DispatchError> {
        let body =
            serde_json::to_vec(payload).map_err(|e| DispatchError::permanent(e.to_string()))?;
        self.deliver(id, &body)
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Dispatcher for WebhookDispatcher {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        self.deliver_json(&d.message_id().to_string(), &self.payloads.dispatch(d))
    }

    fn cancel(&self, c: &Cancel) -> Result<(), DispatchError> {
        self.deliver_json(&c.message_id().to_string(), &self.payloads.cancel(c))
    }
}
