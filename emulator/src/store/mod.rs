//! Persistent state: one SQLite database (WAL) per emulator instance.
//!
//! Every service keeps its tables here (schema in `emulator/migrations/`, applied at start).
//! WAL mode with `synchronous = NORMAL` means a write is in the log before the response that
//! acknowledges it is sent, so it survives the process being killed (`kill -9`); only an OS
//! crash can lose the last commits. `--in-memory` uses a private temporary database instead,
//! deleted when the instance stops.
//!
//! Checkpoints (copying the log back into the database file, the only step that waits for the
//! disk) run on a connection of their own shortly after writes, not inside the commit that
//! happens to fill the log: a commit returns once its pages are in the log, as before, and the
//! fsyncs of a checkpoint no longer hold the writer's turn.

pub mod dump;
pub mod horizon;
pub mod mailbox;

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::StateLocation;

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Connections for reads and single-statement writes.
    pool: SqlitePool,
    /// The one connection write transactions run on, and this process's writer turn: writers
    /// queue on this lock, in order and without polling, instead of inside SQLite, whose busy
    /// handler sleeps 1, 2, 5, 10… ms between retries and turned concurrent writes into a queue
    /// of sleeps.
    ///
    /// Every statement is a round trip to the thread sqlx runs a connection on, and the turn is
    /// held for all of a transaction's trips, so writes go as fast as those trips. A connection
    /// of its own spares a writer the pool's trips: no wait for a free connection (readers hold
    /// them), no ping when one is taken and none when it is given back, and `BEGIN IMMEDIATE`
    /// and `COMMIT` are one trip each (sqlx's transactions check a custom `BEGIN` with a
    /// second).
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// Values read from the `meta` table that never change while the state stands (the S3
    /// master key): read once, forgotten when the whole state is reset or restored.
    memo: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Vec<u8>>>>,
    /// Counts resets and restores: what was learnt of the state in one generation (see
    /// [`Store::generation`]) no longer holds in the next.
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// The background checkpointer, stopped by [`Store::close`] (or when the last handle goes).
    checkpointer: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Keeps a throwaway database's directory alive; it is deleted with the last handle.
    _temp: Option<Arc<tempfile::TempDir>>,
}

/// How long the checkpointer lets writes gather after the first one it is told of: one
/// checkpoint (two fsyncs) then covers all of them.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(50);

/// Log size (pages) past which the checkpointer has the log started over (see
/// [`checkpoint_after_writes`]).
const WAL_RESTART_PAGES: i64 = 4096;

/// Log size (pages) at which a committing writer checkpoints by itself (SQLite's automatic
/// checkpoint, default 1,000 pages): only when the checkpointer cannot keep up.
const WAL_BACKSTOP_PAGES: &str = "16384";

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
            .foreign_keys(true)
            .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES);
        // A new database is switched to WAL once, on one connection, before the pool opens
        // several: two connections making that switch at the same moment can fail at once with
        // SQLITE_BUSY ("database is locked"), whatever the busy timeout.
        // That connection then stays open as the writer's.
        let writer =
            SqliteConnection::connect_with(&options).await.map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        // A connection is only ever lost with its thread, so the pool's ping on each checkout
        // (a round trip) would never find a broken one.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        let checkpoints =
            SqliteConnection::connect_with(&options).await.map_err(|e| anyhow::anyhow!("cannot open database: {e}"))?;
        let (wrote, writes) = tokio::sync::mpsc::channel(1);
        let writer = Arc::new(tokio::sync::Mutex::new(Writer { conn: Some(writer), open: false, wrote }));
        let checkpointer = tokio::spawn(checkpoint_after_writes(checkpoints, writes, Arc::downgrade(&writer)));
        Ok(Self {
            pool,
            writer,
            memo: Default::default(),
            generation: Default::default(),
            checkpointer: Arc::new(std::sync::Mutex::new(Some(checkpointer))),
            _temp: temp,
        })
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
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Changes whenever the whole state is reset or restored.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`) once no other one is open in this process.
    /// Never call it while holding another: the second would wait for the first forever.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let mut writer = self.writer_turn().await?;
        // Marked open before the statement is sent: were this future dropped while it runs,
        // the next writer still rolls back whatever it began.
        writer.open = true;
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(writer.conn()).await {
            writer.open = false;
            return Err(e);
        }
        Ok(WriteTx { writer: Some(writer) })
    }

    /// The writer's turn for statements outside a transaction, each committing on its own.
    ///
    /// Every write in the process goes through the writer's connection, in turn: a write on a
    /// pool connection would meet the writer inside SQLite, whose busy handler sleeps (1, 2,
    /// 5… ms) until the other lets go — with the writer's turn, and so every queued writer,
    /// held meanwhile. Never call it while holding a turn or a [`WriteTx`].
    pub async fn turn(&self) -> Result<Turn, sqlx::Error> {
        Ok(Turn { writer: self.writer_turn().await? })
    }

    /// Waits for the writer's turn, with no transaction left open on its connection.
    async fn writer_turn(&self) -> Result<tokio::sync::OwnedMutexGuard<Writer>, sqlx::Error> {
        let mut writer = self.writer.clone().lock_owned().await;
        writer.finish_abandoned().await;
        if writer.conn.is_none() {
            return Err(sqlx::Error::PoolClosed);
        }
        Ok(writer)
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
        let checkpointer = self.checkpointer.lock().expect("checkpointer lock").take();
        if let Some(task) = checkpointer {
            task.abort();
            let _ = task.await;
        }
        let mut writer = self.writer.lock().await;
        writer.finish_abandoned().await;
        if let Some(conn) = writer.conn.take() {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// Checkpoints the log a moment after each burst of committed write transactions, until every
/// handle is gone.
///
/// A `PASSIVE` checkpoint copies what is in the log without waiting for anyone, but while
/// writes go on it never catches up with the log's end, and SQLite starts the log over only
/// once everything in it has been copied back: under steady writes the log would grow without
/// end. So once it is past [`WAL_RESTART_PAGES`] the checkpointer takes the writer's turn for a
/// last short catch-up (most of the log was copied just before, outside the turn), after which
/// the next writer starts the log from its beginning.
async fn checkpoint_after_writes(
    mut conn: SqliteConnection,
    mut writes: tokio::sync::mpsc::Receiver<()>,
    writer: std::sync::Weak<tokio::sync::Mutex<Writer>>,
) {
    while writes.recv().await.is_some() {
        tokio::time::sleep(CHECKPOINT_DELAY).await;
        while writes.try_recv().is_ok() {}
        let pages = match checkpoint(&mut conn).await {
            Ok(pages) => pages,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed; the next one retries");
                continue;
            }
        };
        if pages < WAL_RESTART_PAGES {
            continue;
        }
        let Some(writer) = writer.upgrade() else { break };
        let _turn = writer.lock().await;
        if let Err(e) = checkpoint(&mut conn).await {
            tracing::warn!(error = %e, "checkpoint failed; the next one retries");
        }
    }
    let _ = conn.close().await;
}

/// One `PASSIVE` checkpoint (never waits for, nor blocks, readers or the writer): the pages in
/// the log.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let (_busy, log, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await?;
    Ok(log)
}

/// The writer's connection and whether a transaction is open on it.
#[derive(Debug)]
struct Writer {
    /// `None` once the store is closed.
    conn: Option<SqliteConnection>,
    /// A transaction was begun and neither committed nor rolled back yet.
    open: bool,
    /// Tells the checkpointer of a commit (a full channel means it is told already).
    wrote: tokio::sync::mpsc::Sender<()>,
}

impl Writer {
    /// Rolls back a transaction left open by a `WriteTx` dropped where no rollback could be
    /// started. SQLite may already have rolled it back itself (after some errors it does), so
    /// "no transaction is active" is no failure here.
    async fn finish_abandoned(&mut self) {
        if !self.open {
            return;
        }
        if let Some(conn) = self.conn.as_mut() {
            let _ = sqlx::query("ROLLBACK").execute(conn).await;
        }
        self.open = false;
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("a WriteTx exists only while the writer's connection is open")
    }
}

/// A write transaction and this process's writer turn; dereferences to the connection, as
/// `sqlx::Transaction` does. Dropped without [`WriteTx::commit`], it rolls back: the turn is
/// passed on only once the rollback has run, so no other writer ever sees its changes.
pub struct WriteTx {
    /// `Some` until committed, rolled back or dropped.
    writer: Option<tokio::sync::OwnedMutexGuard<Writer>>,
}

impl WriteTx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        let Some(mut writer) = self.writer.take() else { return Ok(()) };
        let result = sqlx::query(statement).execute(writer.conn()).await;
        // A COMMIT that fails (a deferred foreign key, a full disk) leaves the transaction
        // open; it is rolled back before the turn passes on.
        writer.open = result.is_err();
        if result.is_ok() && statement == "COMMIT" {
            let _ = writer.wrote.try_send(());
        }
        writer.finish_abandoned().await;
        result.map(|_| ())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut writer) = self.writer.take() else { return };
        // Dropped on an error path or cancelled: roll back now rather than at the next write,
        // since until then SQLite's write lock would stall every other connection's writes.
        // The turn moves into the task and is released after the rollback.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { writer.finish_abandoned().await });
        }
    }
}

/// The writer's turn without a transaction ([`Store::turn`]); dereferences to its connection.
pub struct Turn {
    writer: tokio::sync::OwnedMutexGuard<Writer>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.writer.wrote.try_send(());
    }
}

impl std::ops::Deref for Turn {
    type Target = SqliteConnection;
    fn deref(&self) -> &Self::Target {
        self.writer.conn.as_ref().expect("a Turn exists only while the writer's connection is open")
    }
}

impl std::ops::DerefMut for Turn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.writer.conn()
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &Self::Target {
        self.writer.as_ref().and_then(|w| w.conn.as_ref()).expect("a WriteTx is used only before it ends")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.writer.as_mut().expect("a WriteTx is used only before it ends").conn()
    }
}
