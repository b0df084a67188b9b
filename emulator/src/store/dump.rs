//! Every row of every table, out and back in: the `state` section of a fixture
//! ([`crate::fixtures`]).
//!
//! The dump is generic over the schema, so it is complete by construction — key material,
//! password hashes and SRP verifiers, object bodies, stream records, stack records, the
//! mailbox — and a restore reproduces the database exactly: rowids (which some listings order
//! by) and AUTOINCREMENT counters (stream sequence numbers) included. Values keep SQLite's
//! storage classes: integers, reals, text, and blobs as `{base64: …}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

use super::Store;

/// One table: column names and rows of values in that order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDump {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A value as SQLite stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob { base64: String },
}

/// AUTOINCREMENT counters live in this SQLite table; restored last, as inserting rows moves them.
const SEQUENCES: &str = "sqlite_sequence";
/// The column the dump gives a rowid table's row id.
const ROWID: &str = "rowid";

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables a dump covers (schema bookkeeping excluded), by name.
async fn tables(conn: &mut sqlx::SqliteConnection) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, sql)| {
            let rowid = !sql.unwrap_or_default().to_ascii_uppercase().contains("WITHOUT ROWID");
            (name, rowid)
        })
        .collect())
}

fn cells(row: &sqlx::sqlite::SqliteRow) -> Result<Vec<Cell>, sqlx::Error> {
    (0..row.columns().len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let kind = raw.type_info().name().to_string();
            Ok(match kind.as_str() {
                "INTEGER" => Cell::Integer(row.try_get_unchecked(i)?),
                "REAL" => Cell::Real(row.try_get_unchecked(i)?),
                "BLOB" => Cell::Blob {
                    base64: base64::engine::general_purpose::STANDARD.encode(row.try_get_unchecked::<Vec<u8>, _>(i)?),
                },
                _ => Cell::Text(row.try_get_unchecked(i)?),
            })
        })
        .collect()
}

async fn dump_query(conn: &mut sqlx::SqliteConnection, sql: &str) -> Result<TableDump, sqlx::Error> {
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    let columns = rows.first().map(|r| r.columns().iter().map(|c| c.name().to_string()).collect()).unwrap_or_default();
    Ok(TableDump { columns, rows: rows.iter().map(cells).collect::<Result<_, _>>()? })
}

/// Why a dump could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    #[error("table {table}: a row has {got} values for {want} columns")]
    RowWidth { table: String, got: usize, want: usize },
    #[error("table {table}: bad base64 in a blob: {error}")]
    Base64 { table: String, error: base64::DecodeError },
    #[error("table {table}: {error}")]
    Rejected { table: String, error: sqlx::Error },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Store {
    /// Every row of every table, in one read transaction.
    pub async fn dump(&self) -> Result<BTreeMap<String, TableDump>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut out = BTreeMap::new();
        for (table, rowid) in tables(&mut tx).await? {
            let sql = if rowid {
                format!("SELECT rowid AS {ROWID}, * FROM {} ORDER BY rowid", quote(&table))
            } else {
                format!("SELECT * FROM {}", quote(&table))
            };
            let mut dump = dump_query(&mut tx, &sql).await?;
            if dump.columns.is_empty() {
                // An empty table still names its columns, so a dump documents the schema.
                let info: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT name FROM pragma_table_info({})", quote_literal(&table)))
                        .fetch_all(&mut *tx)
                        .await?;
                dump.columns =
                    rowid.then(|| ROWID.to_string()).into_iter().chain(info.into_iter().map(|(n,)| n)).collect();
            }
            out.insert(table, dump);
        }
        let has_sequences =
            sqlx::query("SELECT 1 FROM sqlite_master WHERE name = ?").bind(SEQUENCES).fetch_optional(&mut *tx).await?;
        if has_sequences.is_some() {
            out.insert(
                SEQUENCES.to_string(),
                dump_query(&mut tx, "SELECT name, seq FROM sqlite_sequence ORDER BY name").await?,
            );
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Replaces every table's rows with `dump`'s, in one transaction: all or nothing. Tables the
    /// dump does not name end up empty.
    pub async fn restore(&self, dump: &BTreeMap<String, TableDump>) -> Result<(), RestoreError> {
        let mut tx = self.begin_write().await?;
        let known = tables(&mut tx).await?;
        if let Some(unknown) = dump.keys().find(|t| *t != SEQUENCES && !known.iter().any(|(k, _)| k == *t)) {
            return Err(RestoreError::UnknownTable(unknown.clone()));
        }
        sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        for (table, _) in &known {
            sqlx::query(&format!("DELETE FROM {}", quote(table))).execute(&mut *tx).await?;
        }
        for (table, data) in dump.iter().filter(|(t, _)| *t != SEQUENCES) {
            insert_rows(&mut tx, table, data).await?;
        }
        let has_sequences =
            sqlx::query("SELECT 1 FROM sqlite_master WHERE name = ?").bind(SEQUENCES).fetch_optional(&mut *tx).await?;
        if has_sequences.is_some() {
            sqlx::query("DELETE FROM sqlite_sequence").execute(&mut *tx).await?;
            if let Some(data) = dump.get(SEQUENCES) {
                insert_rows(&mut tx, SEQUENCES, data).await?;
            }
        }
        tx.commit().await.map_err(|error| RestoreError::Rejected { table: "(foreign keys)".into(), error })?;
        self.forget_all();
        Ok(())
    }
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn insert_rows(conn: &mut sqlx::SqliteConnection, table: &str, data: &TableDump) -> Result<(), RestoreError> {
    if data.rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<String> = data.columns.iter().map(|c| quote(c)).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!("INSERT INTO {} ({}) VALUES ({marks})", quote(table), columns.join(", "));
    for row in &data.rows {
        if row.len() != columns.len() {
            return Err(RestoreError::RowWidth { table: table.into(), got: row.len(), want: columns.len() });
        }
        let mut q = sqlx::query(&sql);
        for cell in row {
            q = match cell {
                Cell::Null => q.bind(None::<i64>),
                Cell::Integer(i) => q.bind(*i),
                Cell::Real(r) => q.bind(*r),
                Cell::Text(t) => q.bind(t.clone()),
                Cell::Blob { base64 } => q.bind(
                    base64::engine::general_purpose::STANDARD
                        .decode(base64)
                        .map_err(|error| RestoreError::Base64 { table: table.into(), error })?,
                ),
            };
        }
        q.execute(&mut *conn).await.map_err(|error| RestoreError::Rejected { table: table.into(), error })?;
    }
    Ok(())
}
