//! The mailbox: every e-mail and SMS a service "sent" (SNS deliveries and confirmations, later
//! Cognito codes), readable through `/_emulator/mailbox`.

use serde::Serialize;
use sqlx::Row;

use super::Store;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub id: i64,
    pub sent_at: String,
    pub channel: String,
    pub source: String,
    pub destination: String,
    pub subject: Option<String>,
    pub body: String,
}

/// What a service hands to [`Store::send_mail`].
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub channel: &'a str,
    pub source: &'a str,
    pub destination: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
}

impl Store {
    pub async fn send_mail(&self, sent_at: &str, m: Outgoing<'_>) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO mailbox (sent_at, channel, source, destination, subject, body) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(sent_at)
        .bind(m.channel)
        .bind(m.source)
        .bind(m.destination)
        .bind(m.subject)
        .bind(m.body)
        .fetch_one(&mut *self.turn().await?)
        .await?;
        Ok(row.get(0))
    }

    /// Newest first; only mail to `destination` when given.
    pub async fn mailbox(&self, destination: Option<&str>, limit: i64) -> Result<Vec<Mail>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, sent_at, channel, source, destination, subject, body FROM mailbox
             WHERE (?1 IS NULL OR destination = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(destination)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Mail {
                id: r.get(0),
                sent_at: r.get(1),
                channel: r.get(2),
                source: r.get(3),
                destination: r.get(4),
                subject: r.get(5),
                body: r.get(6),
            })
            .collect())
    }
}
