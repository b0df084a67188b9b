//! Persistent state: one SQLite database (WAL) per emulator instance.
//!
//! Every service keeps its tables here (schema in `emulator/migrations/`, applied at start).
//! WAL mode with `synchronous = NORMAL` means a write is in the log before the response that
//! acknowledges it is sent, so it survives the process being killed (`kill -9`); only an OS
//! crash can lose the last commits. `--in-memory` uses a private in-memory database instead.

pub mod mailbox;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::StateLocation;

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    pub async fn open(location: &StateLocation) -> anyhow::Result<Self> {
        let (options, max) = match location {
            StateLocation::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
                let opts = SqliteConnectOptions::new()
                    .filename(dir.join("emulator.db"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                (opts, 4)
            }
            // One connection: each in-memory connection would otherwise be its own database.
            StateLocation::InMemory => (SqliteConnectOptions::from_str("sqlite::memory:").expect("static url"), 1),
        };
        let options = options.busy_timeout(Duration::from_secs(10)).foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Deletes every row of every table (schema stays).
    pub async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'",
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        for (t,) in tables {
            sqlx::query(&format!("DELETE FROM \"{t}\"")).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
