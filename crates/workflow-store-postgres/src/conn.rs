//! Connections: the pool (r2d2 over r2d2_postgres), the per-connection cache of prepared
//! statements, and the one function that turns driver errors into [`StoreError`]s.

use postgres::error::SqlState;
use postgres::{Client, Statement};
use r2d2_postgres::PostgresConnectionManager;
use std::collections::HashMap;
use workflow_core::StoreError;

#[cfg(not(feature = "tls"))]
pub(crate) type Tls = postgres::NoTls;
#[cfg(feature = "tls")]
pub(crate) type Tls = postgres_native_tls::MakeTlsConnector;

/// How many prepared statements each pooled connection keeps (every `.sql` file plus the list
/// variants in use); past it the cache starts over.
const STATEMENT_CACHE: usize = 256;

/// A pooled connection: the client and its prepared statements, by SQL text.
pub(crate) struct Conn {
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The prepared statement of `sql` on this connection (prepared on first use).
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        prepare_cached(&mut self.client, &mut self.statements, sql)
    }

    /// The client and the statement cache, borrowed apart (a transaction borrows the client).
    pub(crate) fn split(&mut self) -> (&mut Client, &mut HashMap<String, Statement>) {
        (&mut self.client, &mut self.statements)
    }
}

/// The prepared statement of `sql`, from `cache` or prepared on `client` (which may be a
/// transaction: a statement prepared inside one stays valid on the connection afterwards).
pub(crate) fn prepare_cached(
    client: &mut impl postgres::GenericClient,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    if cache.len() >= STATEMENT_CACHE {
        cache.clear();
    }
    cache.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// The r2d2 manager: r2d2_postgres's, plus a statement cache per connection.
pub(crate) struct Manager(pub(crate) PostgresConnectionManager<Tls>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The TLS connector (feature `tls`) has no Debug; the connection config is not shown
        // either (it may hold a password).
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.0.connect()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// What a store call can fail with below the store: the driver or the pool.
#[derive(Debug)]
pub(crate) enum DriverError {
    Pg(postgres::Error),
    Pool(r2d2::Error),
}

impl From<postgres::Error> for DriverError {
    fn from(e: postgres::Error) -> Self {
        DriverError::Pg(e)
    }
}

impl From<r2d2::Error> for DriverError {
    fn from(e: r2d2::Error) -> Self {
        DriverError::Pool(e)
    }
}

/// Whether a database error is transient contention or a lost server: the same call may
/// succeed later.
fn transient(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::QUERY_CANCELED
        || code.code().starts_with("08") // connection exceptions
}

/// The one place driver and pool errors become [`StoreError`]s, keeping the driver's error as
/// the source: a refused or lost connection, a pool timeout, a serialization failure, a
/// deadlock or a lock timeout is `Unavailable` (retryable, `service_unavailable`); a value
/// that does not decode is `Corrupt`; the rest is `Backend`.
pub(crate) fn map_err(e: impl Into<DriverError>) -> StoreError {
    match e.into() {
        DriverError::Pool(e) => {
            StoreError::unavailable(format!("no PostgreSQL connection available, retry: {e}"))
                .with_source(e)
        }
        DriverError::Pg(e) => {
            let mapped = if let Some(db) = e.as_db_error() {
                let text = format!(
                    "postgres {}: {}{}",
                    db.code().code(),
                    db.message(),
                    db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                );
                if transient(db.code()) {
                    StoreError::unavailable(format!("{text}; retry"))
                } else {
                    StoreError::backend(text)
                }
            } else {
                let text = e.to_string();
                let io = std::error::Error::source(&e)
                    .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
                if e.is_closed()
                    || io
                    || text.starts_with("error connecting")
                    || text.starts_with("error communicating")
                    || text.starts_with("timeout")
                {
                    StoreError::unavailable(format!("PostgreSQL unreachable, retry: {text}"))
                } else if text.starts_with("error deserializing")
                    || text.starts_with("invalid column")
                    || text.starts_with("query returned an unexpected number of columns")
                {
                    let cause = std::error::Error::source(&e)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    StoreError::corrupt(format!("unreadable value in the database: {text}{cause}"))
                } else {
                    StoreError::backend(format!("postgres: {text}"))
                }
            };
            mapped.with_source(e)
        }
    }
}
