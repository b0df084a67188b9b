//! Persistent state: one SQLite database (WAL) per emulator instance.
//!
//! Every service keeps its tables here (schema in `emulator/migrations/`, applied at start).
//! WAL mode with `synchronous = NORMAL` means a write is in the log before the response that
//! acknowledges it is sent, so it survives the process being killed (`kill -9`); only an OS
//! crash can lose the last commits. `--in-memory` uses a private temporary database instead,
//! deleted when the instance stops.

pub mod dump;
pub mod mailbox;

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::StateLocation;

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Taken before a write transaction begins, so writers queue here, in order and without
    /// polling, instead of inside SQLite, whose busy handler sleeps 1, 2, 5, 10… ms between
    /// retries and turned concurrent writes into a queue of sleeps.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Values read from the `meta` table that never change while the state stands (the S3
    /// master key): read once, forgotten when the whole state is reset or restored.
    memo: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Vec<u8>>>>,
    /// Keeps a throwaway database's directory alive; it is deleted with the last handle.
    _temp: Option<Arc<tempfile::TempDir>>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    pub async fn open(location: &StateLocation) -> anyhow::Result<Self> {
        // Throwaway state is a private temporary database with exactly the same engine settings
        // as persistent state (WAL, a pool of connections), so behaviour never differs between
        // the two; only fsync is skipped, since nothing has to survive.
        let (dir, temp, synchronous) = match location {
            StateLocation::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
                (dir.clone(), None, SqliteSynchronous::Normal)
            }
            StateLocation::InMemory => {
                let temp = tempfile::Builder::new().prefix("emulator-").tempdir()?;
                (temp.path().to_path_buf(), Some(Arc::new(temp)), SqliteSynchronous::Off)
            }
        };
        let options = SqliteConnectOptions::new()
            .filename(dir.join("emulator.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // A new database is switched to WAL once, on one connection, before the pool opens
        // several: two connections making that switch at the same moment can fail at once with
        // SQLITE_BUSY ("database is locked"), whatever the busy timeout.
        {
            use sqlx::Connection as _;
            let conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
            conn.close().await.map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(Self { pool, writer: Default::default(), memo: Default::default(), _temp: temp })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A value kept by [`Store::remember`] since the state was last reset or restored.
    pub fn recall(&self, name: &'static str) -> Option<Vec<u8>> {
        self.memo.lock().expect("memo lock").get(name).cloned()
    }

    pub fn remember(&self, name: &'static str, value: Vec<u8>) {
        self.memo.lock().expect("memo lock").insert(name, value);
    }

    pub(crate) fn forget_all(&self) {
        self.memo.lock().expect("memo lock").clear();
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`) once no other one is open in this process.
    /// Never call it while holding another: the second would wait for the first forever.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _guard: guard })
    }

    /// Deletes every row of every table (schema stays).
    pub async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'",
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        for (t,) in tables {
            sqlx::query(&format!("DELETE FROM \"{t}\"")).execute(&mut *tx).await?;
        }
        // AUTOINCREMENT counters (stream sequence numbers) restart too, so a reset instance
        // replays a fixture exactly as a fresh one.
        let counters =
            sqlx::query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetch_optional(&mut *tx).await?;
        if counters.is_some() {
            sqlx::query("DELETE FROM sqlite_sequence").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.forget_all();
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A write transaction and this process's writer turn; dereferences to the connection, as
/// `sqlx::Transaction` does. Dropped without [`WriteTx::commit`], it rolls back.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
