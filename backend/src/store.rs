//! The chat's one DynamoDB table. Keys are strings `pk`/`sk`; one global index `gsi1`
//! (`gsi1pk`/`gsi1sk`); `expiresAt` is the TTL attribute; the stream (new and old images)
//! drives real-time delivery. Every access pattern is a key lookup or a range query:
//!
//! | item              | pk                | sk                 | gsi1pk                | gsi1sk                       |
//! |-------------------|-------------------|--------------------|-----------------------|------------------------------|
//! | profile           | `USER#{sub}`      | `PROFILE`          | `DIRECTORY`           | `{name lowercased}#{sub}`    |
//! | membership        | `USER#{sub}`      | `CONV#{conv}`      | `USER#{sub}#CONVS`    | `{last activity ms:013}#{conv}` |
//! | connection        | `USER#{sub}`      | `CONN#{connection}`| –                     | –                            |
//! | connection owner  | `CONN#{connection}` | `CONN`           | –                     | –                            |
//! | conversation      | `CONV#{conv}`     | `META`             | `ROOMS` (rooms only)  | `{name lowercased}#{conv}`   |
//! | room member       | `CONV#{conv}`     | `MEMBER#{sub}`     | –                     | –                            |
//! | message           | `CONV#{conv}`     | `MSG#{message id}` | –                     | –                            |
//!
//! - user by id: GetItem profile; directory: Query gsi1 `DIRECTORY` (sorted by name).
//! - a user's conversations by last activity: Query gsi1 `USER#{sub}#CONVS`, newest first.
//! - a conversation's messages newest first: Query `CONV#{conv}`, `sk` begins with `MSG#`,
//!   backwards (message ids sort by time).
//! - unread: a counter on each membership (`ADD unread 1` in the same transaction as the
//!   message); the total is one Query of the user's memberships.
//! - live connections of a user: Query `USER#{sub}`, `sk` begins with `CONN#` (TTL-expired).
//! - rooms: Query gsi1 `ROOMS`; members: Query `CONV#{conv}`, `sk` begins with `MEMBER#`.
//!
//! Membership rows are the authorisation: a conversation is readable by a user only if
//! `USER#{sub}`/`CONV#{conv}` exists.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde_json::{Map, Value};

use crate::ids::{self, Key};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("invalid cursor")]
    BadCursor,
}

fn dynamo<E>(e: aws_sdk_dynamodb::error::SdkError<E>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("").to_string();
    let msg = e.as_service_error().and_then(|s| s.message()).unwrap_or("").to_string();
    StoreError::Dynamo(if code.is_empty() { format!("{e:?}") } else { format!("{code}: {msg}") })
}

/// The per-item cancellation reasons of a cancelled transaction (`None` for other errors).
fn cancellation_reasons(
    e: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(c) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect())
        }
        _ => None,
    }
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    Joined,
    AlreadyMember,
    /// The room has its maximum of members (or is gone).
    Full,
}

fn is_condition_failure<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub fn get_s(item: &Item, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}
pub fn get_n(item: &Item, k: &str) -> i64 {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn key_of(item: &Item, attrs: &[&str]) -> Key {
    attrs.iter().filter_map(|a| Some((a.to_string(), Value::String(item.get(*a)?.as_s().ok()?.clone())))).collect()
}

fn start_key(key: &Key) -> Item {
    key.iter().filter_map(|(k, v)| Some((k.clone(), s(v.as_str()?)))).collect()
}

/// One page of a query: the items and the cursor for the next page.
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub sub: String,
    pub username: String,
    pub email: String,
    pub key_id: String,
    pub topic_arn: String,
    pub created_at: i64,
}

impl Profile {
    fn from_item(item: &Item) -> Profile {
        Profile {
            sub: get_s(item, "sub"),
            username: get_s(item, "username"),
            email: get_s(item, "email"),
            key_id: get_s(item, "keyId"),
            topic_arn: get_s(item, "topicArn"),
            created_at: get_n(item, "createdAt"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Direct,
    Room,
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Room => "room",
        }
    }
}

/// A message's stored metadata (the body is in S3, one sealed copy per reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub conversation_id: String,
    pub message_id: String,
    pub sender: String,
    pub sent_at: i64,
    /// Reader → (KMS key id, wrapped data key, S3 object key).
    pub copies: HashMap<String, Copy>,
    /// `text` or `attachment`.
    pub kind: String,
    /// Attachments: file name, content type and size (metadata, not secret).
    pub attachment: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub wrapped_key: Vec<u8>,
    pub object: String,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub db: Client,
    pub table: String,
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Store { db, table: table.into() }
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out.item)
    }

    /// Puts an item unless one with its key exists; `false` when it already existed.
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        match self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(dynamo(e)),
        }
    }

    /// A transaction's put of `item`, on condition that no item with its key exists.
    fn put_new_in_transaction(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn query(
        &self,
        index: Option<&str>,
        partition: (&str, &str),
        sk_prefix: Option<(&str, &str)>,
        newest_first: bool,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page, StoreError> {
        let (pattr, pval) = partition;
        let mut q = self
            .db
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#p", pattr)
            .expression_attribute_values(":p", s(pval))
            .scan_index_forward(!newest_first)
            .limit(limit);
        q = match sk_prefix {
            Some((sattr, prefix)) => q
                .key_condition_expression("#p = :p AND begins_with(#s, :s)")
                .expression_attribute_names("#s", sattr)
                .expression_attribute_values(":s", s(prefix)),
            None => q.key_condition_expression("#p = :p"),
        };
        if let Some(c) = cursor {
            let key = ids::decode_cursor(c, pattr, pval).ok_or(StoreError::BadCursor)?;
            q = q.set_exclusive_start_key(Some(start_key(&key)));
        }
        let out = q.send().await.map_err(dynamo)?;
        let key_attrs: &[&str] = match index {
            Some(_) => &["pk", "sk", "gsi1pk", "gsi1sk"],
            None => &["pk", "sk"],
        };
        let next = out.last_evaluated_key.as_ref().map(|k| ids::encode_cursor(&key_of(k, key_attrs)));
        Ok(Page { items: out.items.unwrap_or_default(), next })
    }

    // ---- users ------------------------------------------------------------------------------

    /// Creates a profile; `false` if the user already had one (confirmation retried).
    pub async fn put_profile(&self, p: &Profile) -> Result<bool, StoreError> {
        let item: Item = [
            ("pk", s(format!("USER#{}", p.sub))),
            ("sk", s("PROFILE")),
            ("gsi1pk", s("DIRECTORY")),
            ("gsi1sk", s(format!("{}#{}", p.username.to_lowercase(), p.sub))),
            ("sub", s(&p.sub)),
            ("username", s(&p.username)),
            ("email", s(&p.email)),
            ("keyId", s(&p.key_id)),
            ("topicArn", s(&p.topic_arn)),
            ("createdAt", n(p.created_at)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put_new(item).await
    }

    pub async fn profile(&self, sub: &str) -> Result<Option<Profile>, StoreError> {
        Ok(self.get(&format!("USER#{sub}"), "PROFILE").await?.map(|i| Profile::from_item(&i)))
    }

    pub async fn directory(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<Profile>, Option<String>), StoreError> {
        let page = self.query(Some("gsi1"), ("gsi1pk", "DIRECTORY"), None, false, limit, cursor).await?;
        Ok((page.items.iter().map(Profile::from_item).collect(), page.next))
    }

    // ---- conversations ----------------------------------------------------------------------

    fn membership_item(&self, sub: &str, conv: &str, kind: &Kind, title: &str, at: i64) -> Item {
        [
            ("pk", s(format!("USER#{sub}"))),
            ("sk", s(format!("CONV#{conv}"))),
            ("gsi1pk", s(format!("USER#{sub}#CONVS"))),
            ("gsi1sk", s(format!("{at:013}#{conv}"))),
            ("conversationId", s(conv)),
            ("kind", s(kind.as_str())),
            ("title", s(title)),
            ("lastActivity", n(at)),
            ("unread", n(0)),
            ("joinedAt", n(at)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The caller's membership of a conversation (the authorisation check), if any.
    pub async fn membership(&self, sub: &str, conv: &str) -> Result<Option<Item>, StoreError> {
        self.get(&format!("USER#{sub}"), &format!("CONV#{conv}")).await
    }

    /// The direct conversation of two users, created with both memberships on first use.
    pub async fn ensure_direct(&self, a: &Profile, b: &Profile, at: i64) -> Result<String, StoreError> {
        let conv = ids::direct_conversation(&a.sub, &b.sub);
        // Usual case: it exists (both memberships are written before anyone can see it).
        let (mb, ma) =
            futures_util::future::try_join(self.membership(&b.sub, &conv), self.membership(&a.sub, &conv)).await?;
        if mb.is_some() && ma.is_some() {
            return Ok(conv);
        }
        let meta: Item = [
            ("pk", s(format!("CONV#{conv}"))),
            ("sk", s("META")),
            ("kind", s("direct")),
            ("members", AttributeValue::Ss(vec![a.sub.clone(), b.sub.clone()])),
            ("createdAt", n(at)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let a_item = self.membership_item(&a.sub, &conv, &Kind::Direct, &b.username, at);
        let b_item = self.membership_item(&b.sub, &conv, &Kind::Direct, &a.username, at);
        // First contact: the conversation and both memberships in one transaction, so it is
        // one write instead of three and nobody ever sees half of it.
        let writes = [meta.clone(), a_item.clone(), b_item.clone()]
            .into_iter()
            .map(|item| self.put_new_in_transaction(item))
            .collect::<Result<Vec<_>, _>>()?;
        match self.db.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => return Ok(conv),
            // Some of it exists already (a concurrent first message, or rows of an earlier
            // attempt), or a concurrent transaction held the rows: complete whatever is
            // missing, one idempotent put at a time.
            Err(e) if cancellation_reasons(&e).is_some() => {}
            Err(e) => return Err(dynamo(e)),
        }
        self.put_new(meta).await?;
        self.put_new(a_item).await?;
        self.put_new(b_item).await?;
        Ok(conv)
    }

    pub async fn conversation(&self, conv: &str) -> Result<Option<Item>, StoreError> {
        self.get(&format!("CONV#{conv}"), "META").await
    }

    /// Who reads a conversation: the two members of a direct one, a room's members.
    pub async fn members(&self, conv: &str) -> Result<Vec<String>, StoreError> {
        let Some(meta) = self.conversation(conv).await? else { return Ok(vec![]) };
        if get_s(&meta, "kind") == "direct" {
            return Ok(meta.get("members").and_then(|m| m.as_ss().ok()).cloned().unwrap_or_default());
        }
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .query(None, ("pk", &format!("CONV#{conv}")), Some(("sk", "MEMBER#")), false, 500, cursor.as_deref())
                .await?;
            out.extend(page.items.iter().map(|i| get_s(i, "sub")));
            match page.next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// A user's conversations, most recently active first.
    pub async fn conversations(&self, sub: &str, limit: i32, cursor: Option<&str>) -> Result<Page, StoreError> {
        self.query(Some("gsi1"), ("gsi1pk", &format!("USER#{sub}#CONVS")), None, true, limit, cursor).await
    }

    // ---- rooms ------------------------------------------------------------------------------

    /// Creates a room with its owner as the first member.
    pub async fn create_room(&self, room: &str, name: &str, owner: &str, at: i64) -> Result<(), StoreError> {
        let meta: Item = [
            ("pk", s(format!("CONV#{room}"))),
            ("sk", s("META")),
            ("gsi1pk", s("ROOMS")),
            ("gsi1sk", s(format!("{}#{room}", name.to_lowercase()))),
            ("kind", s("room")),
            ("name", s(name)),
            ("owner", s(owner)),
            ("createdAt", n(at)),
            ("memberCount", n(0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put_new(meta).await?;
        self.join_room(room, name, owner, at, usize::MAX).await.map(|_| ())
    }

    /// Adds `sub` to `room` unless the room has `max` members already. The room's member count
    /// and both membership rows are written in one transaction, conditional on the count being
    /// below `max` and `sub` not being a member, so joins racing each other cannot pass the cap
    /// (a count read first and checked afterwards would let every racer in).
    pub async fn join_room(&self, room: &str, name: &str, sub: &str, at: i64, max: usize) -> Result<Join, StoreError> {
        let member: Item = [
            ("pk", s(format!("CONV#{room}"))),
            ("sk", s(format!("MEMBER#{sub}"))),
            ("sub", s(sub)),
            ("joinedAt", n(at)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // Retried only when the room's first count raced another join, or a write conflicted.
        for _ in 0..5 {
            let Some(meta) = self.conversation(room).await? else { return Ok(Join::Full) };
            let counted = meta.contains_key("memberCount");
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            let mut values: HashMap<String, AttributeValue> = HashMap::new();
            let (update, condition) = if counted {
                values.insert(":one".into(), n(1));
                values.insert(":max".into(), n(max));
                ("ADD memberCount :one", "memberCount < :max")
            } else {
                // A room written before rooms kept a count: count its rows once.
                let count = self.members(room).await?.len() as i64;
                if count >= max {
                    return Ok(Join::Full);
                }
                values.insert(":next".into(), n(count + 1));
                ("SET memberCount = :next", "attribute_exists(pk) AND attribute_not_exists(memberCount)")
            };
            let count_update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("CONV#{room}")))
                .key("sk", s("META"))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::Dynamo(e.to_string()))?;
            let items = vec![
                TransactWriteItem::builder().update(count_update).build(),
                self.put_new_in_transaction(member.clone())?,
                self.put_new_in_transaction(self.membership_item(sub, room, &Kind::Room, name, at))?,
            ];
            let Err(e) = self.db.transact_write_items().set_transact_items(Some(items)).send().await else {
                return Ok(Join::Joined);
            };
            let Some(reasons) = cancellation_reasons(&e) else { return Err(dynamo(e)) };
            let failed = |i: usize| reasons.get(i).map(String::as_str) == Some("ConditionalCheckFailed");
            if failed(1) || failed(2) {
                return Ok(Join::AlreadyMember);
            }
            if failed(0) && counted {
                return Ok(Join::Full);
            }
            // The first count raced another join, or a write conflicted: read again.
        }
        Err(StoreError::Dynamo(format!("joining room {room}: the member count kept changing")))
    }

    /// Removes `sub` from `room`, and one from its member count.
    pub async fn leave_room(&self, room: &str, sub: &str) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for (pk, sk) in
            [(format!("CONV#{room}"), format!("MEMBER#{sub}")), (format!("USER#{sub}"), format!("CONV#{room}"))]
        {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .build()
                .map_err(|e| StoreError::Dynamo(e.to_string()))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if self.conversation(room).await?.is_some_and(|m| m.contains_key("memberCount")) {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("CONV#{room}")))
                .key("sk", s("META"))
                .update_expression("ADD memberCount :minus")
                .condition_expression("memberCount > :zero")
                .expression_attribute_values(":minus", n(-1))
                .expression_attribute_values(":zero", n(0))
                .build()
                .map_err(|e| StoreError::Dynamo(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        self.db.transact_write_items().set_transact_items(Some(items)).send().await.map_err(dynamo)?;
        Ok(())
    }

    pub async fn rooms(&self, limit: i32, cursor: Option<&str>) -> Result<Page, StoreError> {
        self.query(Some("gsi1"), ("gsi1pk", "ROOMS"), None, false, limit, cursor).await
    }

    // ---- messages ---------------------------------------------------------------------------

    /// Stores a message and, in the same transaction(s), moves every member's conversation to
    /// the top of their list and counts it unread for everyone but the sender.
    pub async fn put_message(&self, m: &MessageMeta, members: &[String]) -> Result<(), StoreError> {
        let mut copies = HashMap::new();
        for (reader, c) in &m.copies {
            let v: HashMap<String, AttributeValue> = [
                (
                    "wrappedKey".to_string(),
                    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(c.wrapped_key.clone())),
                ),
                ("object".to_string(), s(&c.object)),
            ]
            .into_iter()
            .collect();
            copies.insert(reader.clone(), AttributeValue::M(v));
        }
        let mut item: Item = [
            ("pk", s(format!("CONV#{}", m.conversation_id))),
            ("sk", s(format!("MSG#{}", m.message_id))),
            ("type", s("message")),
            ("conversationId", s(&m.conversation_id)),
            ("messageId", s(&m.message_id)),
            ("sender", s(&m.sender)),
            ("sentAt", n(m.sent_at)),
            ("kind", s(&m.kind)),
            ("copies", AttributeValue::M(copies)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(a) = &m.attachment {
            item.insert("attachment".into(), s(Value::Object(a.clone()).to_string()));
        }
        let mut writes = vec![self.put_new_in_transaction(item)?];
        for member in members {
            let mut u = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("USER#{member}")))
                .key("sk", s(format!("CONV#{}", m.conversation_id)))
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":at", n(m.sent_at))
                .expression_attribute_values(":g", s(format!("{:013}#{}", m.sent_at, m.conversation_id)))
                .expression_attribute_values(":m", s(&m.message_id))
                .expression_attribute_values(":who", s(&m.sender));
            u = if *member == m.sender {
                u.update_expression("SET lastActivity = :at, gsi1sk = :g, lastMessageId = :m, lastSender = :who")
            } else {
                u.update_expression(
                    "SET lastActivity = :at, gsi1sk = :g, lastMessageId = :m, lastSender = :who ADD unread :one",
                )
                .expression_attribute_values(":one", n(1))
            };
            writes.push(
                TransactWriteItem::builder().update(u.build().map_err(|e| StoreError::Dynamo(e.to_string()))?).build(),
            );
        }
        // DynamoDB transactions take 100 items; a message and 99 members go in one, larger
        // rooms continue in further transactions (the message is already visible then).
        for chunk in writes.chunks(100) {
            self.db.transact_write_items().set_transact_items(Some(chunk.to_vec())).send().await.map_err(dynamo)?;
        }
        Ok(())
    }

    pub async fn messages(&self, conv: &str, limit: i32, cursor: Option<&str>) -> Result<Page, StoreError> {
        self.query(None, ("pk", &format!("CONV#{conv}")), Some(("sk", "MSG#")), true, limit, cursor).await
    }

    pub async fn message(&self, conv: &str, message_id: &str) -> Result<Option<MessageMeta>, StoreError> {
        Ok(self.get(&format!("CONV#{conv}"), &format!("MSG#{message_id}")).await?.map(|i| message_from_item(&i)))
    }

    /// Marks a conversation read up to `message_id` (inclusive): the unread counter becomes
    /// the number of later messages from others.
    pub async fn mark_read(&self, sub: &str, conv: &str, message_id: &str) -> Result<i64, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk > :s")
            .filter_expression("sender <> :me")
            .expression_attribute_values(":p", s(format!("CONV#{conv}")))
            .expression_attribute_values(":s", s(format!("MSG#{message_id}")))
            .expression_attribute_values(":me", s(sub))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .map_err(dynamo)?;
        let remaining = out.count as i64;
        self.db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("USER#{sub}")))
            .key("sk", s(format!("CONV#{conv}")))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET unread = :u, lastRead = :m")
            .expression_attribute_values(":u", n(remaining))
            .expression_attribute_values(":m", s(message_id))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(remaining)
    }

    /// Unread counts of every conversation of a user.
    pub async fn unread(&self, sub: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .query(None, ("pk", &format!("USER#{sub}")), Some(("sk", "CONV#")), false, 500, cursor.as_deref())
                .await?;
            out.extend(page.items.iter().map(|i| (get_s(i, "conversationId"), get_n(i, "unread"))));
            match page.next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    // ---- connections ------------------------------------------------------------------------

    pub async fn put_connection(&self, sub: &str, connection: &str, expires_at: i64) -> Result<(), StoreError> {
        for (pk, sk) in
            [(format!("USER#{sub}"), format!("CONN#{connection}")), (format!("CONN#{connection}"), "CONN".into())]
        {
            self.db
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk))
                .item("sk", s(sk))
                .item("sub", s(sub))
                .item("connectionId", s(connection))
                .item("expiresAt", n(expires_at))
                .send()
                .await
                .map_err(dynamo)?;
        }
        Ok(())
    }

    pub async fn connection_owner(&self, connection: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(&format!("CONN#{connection}"), "CONN").await?.map(|i| get_s(&i, "sub")))
    }

    pub async fn delete_connection(&self, sub: &str, connection: &str) -> Result<(), StoreError> {
        for (pk, sk) in
            [(format!("USER#{sub}"), format!("CONN#{connection}")), (format!("CONN#{connection}"), "CONN".into())]
        {
            self.db
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .send()
                .await
                .map_err(dynamo)?;
        }
        Ok(())
    }

    /// A user's live connections (rows past their TTL are skipped before the sweeper runs).
    pub async fn connections(&self, sub: &str, now_secs: i64) -> Result<Vec<String>, StoreError> {
        let page = self.query(None, ("pk", &format!("USER#{sub}")), Some(("sk", "CONN#")), false, 100, None).await?;
        Ok(page.items.iter().filter(|i| get_n(i, "expiresAt") > now_secs).map(|i| get_s(i, "connectionId")).collect())
    }
}

pub fn message_from_item(item: &Item) -> MessageMeta {
    let copies = item
        .get("copies")
        .and_then(|c| c.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(reader, v)| {
                    let v = v.as_m().ok()?;
                    Some((
                        reader.clone(),
                        Copy {
                            wrapped_key: v.get("wrappedKey")?.as_b().ok()?.as_ref().to_vec(),
                            object: v.get("object")?.as_s().ok()?.clone(),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    MessageMeta {
        conversation_id: get_s(item, "conversationId"),
        message_id: get_s(item, "messageId"),
        sender: get_s(item, "sender"),
        sent_at: get_n(item, "sentAt"),
        copies,
        kind: get_s(item, "kind"),
        attachment: item.get("attachment").and_then(|a| a.as_s().ok()).and_then(|t| serde_json::from_str(t).ok()),
    }
}
