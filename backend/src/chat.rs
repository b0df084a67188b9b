//! The chat's operations as plain async functions of a [`Caller`] (always from a verified
//! token, never from a request body) over [`Deps`]. The Lambda functions only translate events
//! to these calls and results back.
//!
//! Authorisation rule: a conversation exists for a user only through their membership row;
//! reading or listing without one answers *not found*, so ids of other people's
//! conversations are not even confirmed to exist.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::envelope::{self, Header, Sealed};
use crate::ids;
use crate::kms::Kms;
use crate::store::{self, Copy, MessageMeta, Profile, Store, StoreError};

/// Largest text message, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// Largest attachment, in bytes.
pub const MAX_ATTACHMENT: i64 = 10 * 1024 * 1024;
/// Most members a room may have unless configured otherwise (one sealed copy per member per
/// message): [`Deps::max_room_members`], from `MAX_ROOM_MEMBERS` ([`room_cap`]).
pub const MAX_ROOM_MEMBERS: usize = 100;

/// The room cap from the `MAX_ROOM_MEMBERS` environment variable's value, [`MAX_ROOM_MEMBERS`]
/// when unset. A deployment that accepts the cost of larger rooms (every message is sealed and
/// stored once per member) raises it through the template's `MaxRoomMembers` parameter.
pub fn room_cap(value: Option<&str>) -> std::result::Result<usize, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(MAX_ROOM_MEMBERS),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 2 => Ok(n),
            _ => Err(format!("MAX_ROOM_MEMBERS must be a whole number of at least 2, not {v:?}")),
        },
    }
}

/// Who is calling, from the verified token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub username: String,
}

/// The AWS clients and names the chat runs on.
pub struct Deps<K: Kms> {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub kms: K,
    /// Most members a room may have.
    pub max_room_members: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("forbidden")]
    Forbidden,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => ChatError::BadRequest("invalid cursor".into()),
            other => ChatError::Internal(other.to_string()),
        }
    }
}

impl From<envelope::EnvelopeError> for ChatError {
    fn from(e: envelope::EnvelopeError) -> Self {
        ChatError::Internal(e.to_string())
    }
}

impl ChatError {
    pub fn status(&self) -> u16 {
        match self {
            ChatError::NotFound(_) => 404,
            ChatError::BadRequest(_) => 400,
            ChatError::Forbidden => 403,
            ChatError::Internal(_) => 500,
        }
    }
}

pub type Result<T> = std::result::Result<T, ChatError>;

fn page_limit(limit: Option<i32>) -> Result<i32> {
    match limit.unwrap_or(20) {
        l @ 1..=100 => Ok(l),
        _ => Err(ChatError::BadRequest("limit must be between 1 and 100".into())),
    }
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub conversation_id: String,
    pub message_id: String,
    pub sent_at: i64,
}

async fn profile_of(deps: &Deps<impl Kms>, sub: &str) -> Result<Profile> {
    deps.store.profile(sub).await?.ok_or(ChatError::NotFound("user"))
}

/// Seals `body` once per reader and stores the copies; returns the message's metadata.
async fn seal_for_readers<K: Kms>(
    deps: &Deps<K>,
    caller: &Caller,
    conv: &str,
    readers: &[Profile],
    body: &[u8],
    kind: &str,
    attachment: Option<Map<String, Value>>,
) -> Result<MessageMeta> {
    let sent_at = ids::now_millis() as i64;
    let message_id = ids::message_id(sent_at as u64);
    // Readers are sealed for concurrently: each is a KMS call and an S3 write of its own.
    let sealing = readers.iter().map(|reader| {
        let header = Header {
            message_id: message_id.clone(),
            conversation_id: conv.to_string(),
            sender: caller.sub.clone(),
            recipient: reader.sub.clone(),
        };
        async move {
            let sealed = envelope::seal(&deps.kms, &reader.key_id, &header, body).await?;
            let object = format!("messages/{conv}/{}/{}", header.message_id, reader.sub);
            deps.s3
                .put_object()
                .bucket(&deps.bucket)
                .key(&object)
                .body(ByteStream::from(sealed.to_object()))
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .send()
                .await
                .map_err(|e| ChatError::Internal(format!("S3 PutObject: {e:?}")))?;
            Ok::<_, ChatError>((reader.sub.clone(), Copy { wrapped_key: sealed.wrapped_key, object }))
        }
    });
    let copies: HashMap<String, Copy> = futures_util::future::try_join_all(sealing).await?.into_iter().collect();
    Ok(MessageMeta {
        conversation_id: conv.to_string(),
        message_id,
        sender: caller.sub.clone(),
        sent_at,
        copies,
        kind: kind.to_string(),
        attachment,
    })
}

async fn readers_of(deps: &Deps<impl Kms>, conv: &str) -> Result<(Vec<String>, Vec<Profile>)> {
    let members = deps.store.members(conv).await?;
    let profiles = futures_util::future::try_join_all(members.iter().map(|m| profile_of(deps, m))).await?;
    Ok((members, profiles))
}

/// Sends a text message to another user, in their direct conversation.
pub async fn send_to_user<K: Kms>(deps: &Deps<K>, caller: &Caller, to: &str, text: &str) -> Result<Sent> {
    check_text(text)?;
    if to == caller.sub {
        return Err(ChatError::BadRequest("cannot send a message to yourself".into()));
    }
    // Every step below waits on a round trip; the independent ones go together.
    let (me, them) = futures_util::future::try_join(profile_of(deps, &caller.sub), profile_of(deps, to)).await?;
    let conv = deps.store.ensure_direct(&me, &them, ids::now_millis() as i64).await?;
    // `ensure_direct` has just seen (or written) both memberships, and a direct conversation's
    // readers are exactly its two members, whose profiles are at hand: reading them again
    // through `send_to_conversation` would only repeat four lookups.
    let members = vec![me.sub.clone(), them.sub.clone()];
    let meta = seal_for_readers(deps, caller, &conv, &[me, them], text.as_bytes(), "text", None).await?;
    deps.store.put_message(&meta, &members).await?;
    Ok(Sent { conversation_id: conv, message_id: meta.message_id, sent_at: meta.sent_at })
}

fn check_text(text: &str) -> Result<()> {
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(ChatError::BadRequest(format!("a message has 1 to {MAX_TEXT} bytes")));
    }
    Ok(())
}

/// Sends a text message to a conversation the caller belongs to (direct or room).
pub async fn send_to_conversation<K: Kms>(deps: &Deps<K>, caller: &Caller, conv: &str, text: &str) -> Result<Sent> {
    check_text(text)?;
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    let (members, readers) = readers_of(deps, conv).await?;
    let meta = seal_for_readers(deps, caller, conv, &readers, text.as_bytes(), "text", None).await?;
    deps.store.put_message(&meta, &members).await?;
    Ok(Sent { conversation_id: conv.to_string(), message_id: meta.message_id, sent_at: meta.sent_at })
}

/// The caller's conversations, most recently active first.
pub async fn conversations(
    deps: &Deps<impl Kms>,
    caller: &Caller,
    limit: Option<i32>,
    cursor: Option<&str>,
) -> Result<Value> {
    let page = deps.store.conversations(&caller.sub, page_limit(limit)?, cursor).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            json!({
                "conversationId": store::get_s(i, "conversationId"),
                "kind": store::get_s(i, "kind"),
                "title": store::get_s(i, "title"),
                "lastActivity": store::get_n(i, "lastActivity"),
                "lastMessageId": store::get_s(i, "lastMessageId"),
                "lastSender": store::get_s(i, "lastSender"),
                "unread": store::get_n(i, "unread"),
            })
        })
        .collect();
    Ok(json!({ "conversations": items, "nextCursor": page.next }))
}

async fn open_copy<K: Kms>(deps: &Deps<K>, caller: &Caller, meta: &MessageMeta) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let copy = meta.copies.get(&caller.sub).ok_or(ChatError::NotFound("message"))?;
    let object = deps
        .s3
        .get_object()
        .bucket(&deps.bucket)
        .key(&copy.object)
        .send()
        .await
        .map_err(|e| ChatError::Internal(format!("S3 GetObject: {e:?}")))?;
    let bytes = object.body.collect().await.map_err(|e| ChatError::Internal(e.to_string()))?.into_bytes();
    let sealed = Sealed::from_object(&bytes, copy.wrapped_key.clone())?;
    let header = Header {
        message_id: meta.message_id.clone(),
        conversation_id: meta.conversation_id.clone(),
        sender: meta.sender.clone(),
        recipient: caller.sub.clone(),
    };
    Ok(envelope::open(&deps.kms, &header, &sealed).await?)
}

fn message_json(meta: &MessageMeta, text: Option<String>) -> Value {
    let mut v = json!({
        "conversationId": meta.conversation_id,
        "messageId": meta.message_id,
        "sender": meta.sender,
        "sentAt": meta.sent_at,
        "kind": meta.kind,
    });
    if let Some(t) = text {
        v["text"] = t.into();
    }
    if let Some(a) = &meta.attachment {
        v["attachment"] = Value::Object(a.clone());
    }
    v
}

/// A conversation's messages, newest first, decrypted for the caller.
pub async fn history<K: Kms>(
    deps: &Deps<K>,
    caller: &Caller,
    conv: &str,
    limit: Option<i32>,
    cursor: Option<&str>,
) -> Result<Value> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    let page = deps.store.messages(conv, page_limit(limit)?, cursor).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let meta = store::message_from_item(item);
        // Messages from before the caller joined a room have no copy for them.
        let text = match (meta.kind.as_str(), meta.copies.contains_key(&caller.sub)) {
            ("text", true) => Some(String::from_utf8_lossy(&open_copy(deps, caller, &meta).await?).into_owned()),
            _ => None,
        };
        items.push(message_json(&meta, text));
    }
    Ok(json!({ "messages": items, "nextCursor": page.next }))
}

/// One message, decrypted for the caller.
pub async fn message<K: Kms>(deps: &Deps<K>, caller: &Caller, conv: &str, message_id: &str) -> Result<Value> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    let meta = deps.store.message(conv, message_id).await?.ok_or(ChatError::NotFound("message"))?;
    let plain = open_copy(deps, caller, &meta).await?;
    let text = (meta.kind == "text").then(|| String::from_utf8_lossy(&plain).into_owned());
    Ok(message_json(&meta, text))
}

/// Marks the caller's copy of a conversation read up to a message.
pub async fn mark_read(deps: &Deps<impl Kms>, caller: &Caller, conv: &str, message_id: &str) -> Result<Value> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    deps.store.message(conv, message_id).await?.ok_or(ChatError::NotFound("message"))?;
    let unread = deps.store.mark_read(&caller.sub, conv, message_id).await?;
    Ok(json!({ "conversationId": conv, "unread": unread }))
}

/// Unread counts per conversation and in total.
pub async fn unread(deps: &Deps<impl Kms>, caller: &Caller) -> Result<Value> {
    let counts = deps.store.unread(&caller.sub).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let per: Map<String, Value> = counts.into_iter().map(|(c, n)| (c, n.into())).collect();
    Ok(json!({ "total": total, "conversations": per }))
}

/// The user directory, by name.
pub async fn users(deps: &Deps<impl Kms>, limit: Option<i32>, cursor: Option<&str>) -> Result<Value> {
    let (profiles, next) = deps.store.directory(page_limit(limit)?, cursor).await?;
    let users: Vec<Value> = profiles.iter().map(|p| json!({ "userId": p.sub, "username": p.username })).collect();
    Ok(json!({ "users": users, "nextCursor": next }))
}

pub async fn create_room(deps: &Deps<impl Kms>, caller: &Caller, name: &str) -> Result<Value> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ChatError::BadRequest("a room name has 1 to 100 characters".into()));
    }
    let room = format!("r-{}", ids::random_id().to_lowercase());
    deps.store.create_room(&room, name, &caller.sub, ids::now_millis() as i64).await?;
    Ok(json!({ "conversationId": room, "name": name }))
}

pub async fn join_room(deps: &Deps<impl Kms>, caller: &Caller, room: &str) -> Result<Value> {
    let meta = deps.store.conversation(room).await?.filter(|m| store::get_s(m, "kind") == "room");
    let meta = meta.ok_or(ChatError::NotFound("room"))?;
    let name = store::get_s(&meta, "name");
    let max = deps.max_room_members;
    match deps.store.join_room(room, &name, &caller.sub, ids::now_millis() as i64, max).await? {
        store::Join::Full => Err(ChatError::BadRequest(format!("a room has at most {max} members"))),
        store::Join::Joined | store::Join::AlreadyMember => Ok(json!({ "conversationId": room, "name": name })),
    }
}

pub async fn leave_room(deps: &Deps<impl Kms>, caller: &Caller, room: &str) -> Result<Value> {
    deps.store.membership(&caller.sub, room).await?.ok_or(ChatError::NotFound("conversation"))?;
    deps.store.leave_room(room, &caller.sub).await?;
    Ok(json!({ "conversationId": room, "left": true }))
}

pub async fn rooms(deps: &Deps<impl Kms>, limit: Option<i32>, cursor: Option<&str>) -> Result<Value> {
    let page = deps.store.rooms(page_limit(limit)?, cursor).await?;
    let rooms: Vec<Value> = page
        .items
        .iter()
        .map(|i| json!({ "conversationId": store::get_s(i, "pk").trim_start_matches("CONV#"), "name": store::get_s(i, "name") }))
        .collect();
    Ok(json!({ "rooms": rooms, "nextCursor": page.next }))
}

// ---- attachments --------------------------------------------------------------------------------

/// Where a client uploads an attachment's plaintext: a presigned PUT to a staging key only the
/// caller knows, kept encrypted at rest by SSE-KMS until [`send_attachment`] seals it.
pub async fn attachment_upload(deps: &Deps<impl Kms>, caller: &Caller, conv: &str) -> Result<Value> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    let id = ids::random_id();
    let key = format!("staging/{}/{id}", caller.sub);
    let presigned = deps
        .s3
        .put_object()
        .bucket(&deps.bucket)
        .key(&key)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(900))
                .map_err(|e| ChatError::Internal(e.to_string()))?,
        )
        .await
        .map_err(|e| ChatError::Internal(format!("presign: {e:?}")))?;
    Ok(json!({ "attachmentId": id, "uploadUrl": presigned.uri(), "method": "PUT", "maxBytes": MAX_ATTACHMENT }))
}

/// Seals an uploaded attachment for every reader of the conversation and sends it.
pub async fn send_attachment<K: Kms>(
    deps: &Deps<K>,
    caller: &Caller,
    conv: &str,
    attachment_id: &str,
    file_name: &str,
    content_type: &str,
) -> Result<Sent> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    if attachment_id.is_empty() || !attachment_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ChatError::BadRequest("invalid attachment id".into()));
    }
    let staging = format!("staging/{}/{attachment_id}", caller.sub);
    let object = deps
        .s3
        .get_object()
        .bucket(&deps.bucket)
        .key(&staging)
        .send()
        .await
        .map_err(|_| ChatError::NotFound("attachment upload"))?;
    if object.content_length.unwrap_or(0) > MAX_ATTACHMENT {
        return Err(ChatError::BadRequest(format!("attachments have at most {MAX_ATTACHMENT} bytes")));
    }
    let body = zeroize::Zeroizing::new(
        object.body.collect().await.map_err(|e| ChatError::Internal(e.to_string()))?.into_bytes().to_vec(),
    );
    let (members, readers) = readers_of(deps, conv).await?;
    let mut info = Map::new();
    info.insert("fileName".into(), file_name.into());
    info.insert("contentType".into(), content_type.into());
    info.insert("size".into(), body.len().into());
    let meta = seal_for_readers(deps, caller, conv, &readers, &body, "attachment", Some(info)).await?;
    deps.store.put_message(&meta, &members).await?;
    let _ = deps.s3.delete_object().bucket(&deps.bucket).key(&staging).send().await;
    Ok(Sent { conversation_id: conv.to_string(), message_id: meta.message_id, sent_at: meta.sent_at })
}

/// An attachment's bytes, decrypted for the caller, with its content type.
pub async fn attachment<K: Kms>(
    deps: &Deps<K>,
    caller: &Caller,
    conv: &str,
    message_id: &str,
) -> Result<(Vec<u8>, String)> {
    deps.store.membership(&caller.sub, conv).await?.ok_or(ChatError::NotFound("conversation"))?;
    let meta = deps.store.message(conv, message_id).await?.ok_or(ChatError::NotFound("message"))?;
    let info = meta.attachment.clone().ok_or(ChatError::NotFound("attachment"))?;
    let plain = open_copy(deps, caller, &meta).await?;
    let content_type =
        info.get("contentType").and_then(Value::as_str).unwrap_or("application/octet-stream").to_string();
    Ok((plain.to_vec(), content_type))
}
