//! The closed error set of SPEC section 6. Refusals the caller can act on are kept apart from
//! infrastructure failures; every variant maps to exactly one [`ErrorCode`] in [`Error::code`].

use crate::model::{wire_enum, ExecutionState};
use serde::{Deserialize, Serialize};

wire_enum!(
    /// The wire codes of SPEC section 6.
    ErrorCode {
        /// 400: malformed request the schema cannot express.
        BadRequest = "bad_request",
        /// 401: missing or unknown credentials.
        Unauthorized = "unauthorized",
        /// 403: the actor can see the run but may not do this.
        Forbidden = "forbidden",
        /// 404: unknown id, other tenant, or not readable.
        NotFound = "not_found",
        /// 409: the run's state forbids the operation.
        Conflict = "conflict",
        /// 409: THREAD-1.
        RunBusy = "run_busy",
        /// 413: body over the limit.
        PayloadTooLarge = "payload_too_large",
        /// 422: a field fails validation.
        UnprocessableEntity = "unprocessable_entity",
        /// 503: the store is busy; safe to retry.
        ServiceUnavailable = "service_unavailable",
        /// 500: a bug.
        InternalError = "internal_error",
        /// 501: a ksapi route this server does not serve (HTTP-4).
        NotImplemented = "not_implemented",
    }
);

impl ErrorCode {
    /// The HTTP status of the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::RunBusy => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnprocessableEntity => 422,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::InternalError => 500,
            ErrorCode::NotImplemented => 501,
        }
    }
}

/// What kind of infrastructure failure a store reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Busy or locked; the same call may succeed later (`service_unavailable`).
    Unavailable,
    /// The data is damaged or of an unknown schema; a person must look (`internal_error`).
    Corrupt,
    /// Any other backend failure (I/O, driver) (`internal_error`).
    Backend,
}

/// An infrastructure failure of a [`crate::Store`]. A failed call has changed nothing.
///
/// It keeps the driver's error as its [`std::error::Error::source`] (for logs and for
/// adapters that look at a database's error code), without naming the driver's type in this
/// crate's API. Equality compares the kind and message only.
#[derive(Clone, Debug, thiserror::Error)]
#[error("store {kind:?}: {message}")]
pub struct StoreError {
    /// The kind.
    pub kind: StoreErrorKind,
    /// Human-readable detail.
    pub message: String,
    /// The underlying error, if the adapter had one.
    #[source]
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for StoreError {}

impl StoreError {
    fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }
    /// A retryable failure.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Unavailable, message)
    }
    /// Damaged data or unknown schema.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Corrupt, message)
    }
    /// Any other backend failure.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Backend, message)
    }
    /// The same error, keeping `source` as its cause.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError {
            source: Some(std::sync::Arc::new(source)),
            ..self
        }
    }
}

/// Every way an engine call can fail. A call that returns an error has written nothing (ERR-2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Unknown id, another tenant's, or not readable by the actor (VIS-1).
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of thing (`workflow run`, `path part`, ...).
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The actor can see the thing but may not do this (VIS-2).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// The run's state (or a name/definition condition) forbids the operation.
    #[error("conflict: {reason}")]
    Conflict {
        /// The run's state when refused, if a run was involved.
        state: Option<ExecutionState>,
        /// Why.
        reason: String,
    },
    /// THREAD-1: the run is IN_PROGRESS.
    #[error("run is busy: a workflow run is in progress on this thread")]
    RunBusy,
    /// A field fails validation.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// A malformed request the schema cannot express.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Missing or unknown credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// Body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug (an invariant of ours was broken). Never caused by input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A validation failure of `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// A not-found of `what` with `id`.
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }
    /// A permission refusal.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Error::Forbidden {
            reason: reason.into(),
        }
    }
    /// A state refusal.
    pub fn conflict(state: Option<ExecutionState>, reason: impl Into<String>) -> Self {
        Error::Conflict {
            state,
            reason: reason.into(),
        }
    }

    /// The one place errors map to SPEC codes.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Forbidden { .. } => ErrorCode::Forbidden,
            Error::Conflict { .. } => ErrorCode::Conflict,
            Error::RunBusy => ErrorCode::RunBusy,
            Error::Invalid { .. } => ErrorCode::UnprocessableEntity,
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::Unauthorized => ErrorCode::Unauthorized,
            Error::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Error::Store(e) => match e.kind {
                crate::error::StoreErrorKind::Unavailable => ErrorCode::ServiceUnavailable,
                _ => ErrorCode::InternalError,
            },
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }
}

/// Result of an engine call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
