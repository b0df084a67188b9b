//! Real time: WebSocket connections (recorded at `$connect` with a TTL, removed at
//! `$disconnect` or when API Gateway says a connection is gone) and the fan-out of new messages,
//! driven by the table's stream: every live connection of every reader gets a notice of the
//! message (ids, sender, time; the text is fetched decrypted through the API), and readers
//! other than the sender get the e-mail notice.

use std::collections::HashMap;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::auth::Verifier;
use crate::chat::Caller;
use crate::ids;
use crate::notify;
use crate::store::{self, Item, MessageMeta, Store};

/// How long a connection row lives without being refreshed (API Gateway's 2-hour maximum).
pub const CONNECTION_TTL_SECS: i64 = 2 * 60 * 60;

/// Pushes (and e-mail notices) in flight at once for one message.
pub const PUSH_CONCURRENCY: usize = 16;

pub struct Realtime {
    pub store: Store,
    pub management: aws_sdk_apigatewaymanagement::Client,
}

/// What one fan-out did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    pub pushed: usize,
    pub gone: usize,
}

impl Realtime {
    /// Sends `doc` to every live connection of `user`; drops connections that are gone.
    pub async fn push_to_user(&self, user: &str, doc: &Value, out: &mut Fanout) -> Result<(), String> {
        let now = (ids::now_millis() / 1000) as i64;
        let connections = self.store.connections(user, now).await.map_err(|e| e.to_string())?;
        let bytes = doc.to_string();
        for c in connections {
            match self.management.post_to_connection().connection_id(&c).data(Blob::new(bytes.clone())).send().await {
                Ok(_) => out.pushed += 1,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                    out.gone += 1;
                    self.store.delete_connection(user, &c).await.map_err(|e| e.to_string())?;
                }
                Err(e) => tracing::warn!(connection = %c, error = ?e, "push failed"),
            }
        }
        Ok(())
    }

    /// Sends `doc` to one connection (an answer to what it sent).
    pub async fn push_to_connection(&self, connection: &str, doc: &Value, out: &mut Fanout) -> Result<(), String> {
        match self
            .management
            .post_to_connection()
            .connection_id(connection)
            .data(Blob::new(doc.to_string()))
            .send()
            .await
        {
            Ok(_) => out.pushed += 1,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => out.gone += 1,
            Err(e) => return Err(format!("{e:?}")),
        }
        Ok(())
    }

    /// Fans a new message out to its readers' connections.
    pub async fn deliver(&self, meta: &MessageMeta) -> Result<Fanout, String> {
        let doc = json!({
            "type": "message",
            "conversationId": meta.conversation_id,
            "messageId": meta.message_id,
            "sender": meta.sender,
            "sentAt": meta.sent_at,
            "kind": meta.kind,
        });
        let mut readers: Vec<&String> = meta.copies.keys().collect();
        readers.sort();
        self.push_to_users(readers, &doc).await
    }

    /// Pushes `doc` to several users' connections, [`PUSH_CONCURRENCY`] at a time: a room's
    /// readers should not wait for each other's round trips.
    async fn push_to_users(&self, users: Vec<&String>, doc: &Value) -> Result<Fanout, String> {
        use futures_util::{StreamExt, TryStreamExt};
        futures_util::stream::iter(users)
            .map(|user| async move {
                let mut out = Fanout::default();
                self.push_to_user(user, doc, &mut out).await.map(|()| out)
            })
            .buffer_unordered(PUSH_CONCURRENCY)
            .try_fold(Fanout::default(), |sum, one| async move {
                Ok(Fanout { pushed: sum.pushed + one.pushed, gone: sum.gone + one.gone })
            })
            .await
    }

    /// Tells the other members of a conversation that the caller is typing.
    pub async fn typing(&self, caller: &Caller, conversation: &str) -> Result<Fanout, String> {
        let member = self.store.membership(&caller.sub, conversation).await.map_err(|e| e.to_string())?;
        if member.is_none() {
            return Err("not a member of this conversation".into());
        }
        let doc = json!({
            "type": "typing",
            "conversationId": conversation,
            "userId": caller.sub,
            "username": caller.username,
        });
        let members = self.store.members(conversation).await.map_err(|e| e.to_string())?;
        self.push_to_users(members.iter().filter(|m| **m != caller.sub).collect(), &doc).await
    }
}

/// `$connect`: verifies the access token from `?token=` and records the connection.
pub async fn connect(store: &Store, verifier: &Verifier, connection: &str, token: Option<&str>) -> Result<Caller, u16> {
    let caller = verifier.verify_access(token.unwrap_or("")).await.map_err(|e| {
        tracing::info!(error = %e, "connection refused");
        401u16
    })?;
    let expires = (ids::now_millis() / 1000) as i64 + CONNECTION_TTL_SECS;
    store.put_connection(&caller.sub, connection, expires).await.map_err(|e| {
        tracing::error!(error = %e, "recording a connection");
        500u16
    })?;
    Ok(caller)
}

/// `$disconnect`: forgets the connection.
pub async fn disconnect(store: &Store, connection: &str) -> Result<(), String> {
    if let Some(sub) = store.connection_owner(connection).await.map_err(|e| e.to_string())? {
        store.delete_connection(&sub, connection).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A stream record's image (DynamoDB JSON) as SDK attribute values.
pub fn image(v: &Value) -> Item {
    v.as_object().map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), attribute(v)?))).collect()).unwrap_or_default()
}

fn attribute(v: &Value) -> Option<AttributeValue> {
    let (kind, inner) = v.as_object()?.iter().next()?;
    let b64 = |s: &Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("")).ok();
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_string()),
        "N" => AttributeValue::N(inner.as_str()?.to_string()),
        "B" => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b64(inner)?)),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(inner.as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()),
        "NS" => AttributeValue::Ns(inner.as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()),
        "BS" => AttributeValue::Bs(
            inner.as_array()?.iter().filter_map(b64).map(aws_sdk_dynamodb::primitives::Blob::new).collect(),
        ),
        "L" => AttributeValue::L(inner.as_array()?.iter().filter_map(attribute).collect()),
        "M" => AttributeValue::M(
            inner.as_object()?.iter().filter_map(|(k, v)| Some((k.clone(), attribute(v)?))).collect::<HashMap<_, _>>(),
        ),
        _ => return None,
    })
}

/// The new messages in a stream batch (inserted items of type `message`).
pub fn new_messages(event: &Value) -> Vec<MessageMeta> {
    event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["eventName"] == "INSERT")
        .map(|r| image(&r["dynamodb"]["NewImage"]))
        .filter(|i| store::get_s(i, "type") == "message")
        .map(|i| store::message_from_item(&i))
        .collect()
}

/// The e-mail notices of a message: every reader but the sender.
pub async fn notify_readers(store: &Store, sns: &aws_sdk_sns::Client, meta: &MessageMeta) -> Result<(), String> {
    let (sender, conversation) =
        futures_util::future::try_join(store.profile(&meta.sender), store.conversation(&meta.conversation_id))
            .await
            .map_err(|e| e.to_string())?;
    let sender_name = sender.map(|p| p.username).unwrap_or_else(|| meta.sender.clone());
    let title = match conversation {
        Some(c) if store::get_s(&c, "kind") == "room" => store::get_s(&c, "name"),
        _ => String::new(),
    };
    use futures_util::{StreamExt, TryStreamExt};
    futures_util::stream::iter(meta.copies.keys().filter(|r| **r != meta.sender))
        .map(|reader| async {
            match store.profile(reader).await.map_err(|e| e.to_string())? {
                Some(p) => notify::notify(sns, &p, &sender_name, &title).await,
                None => Ok(()),
            }
        })
        .buffer_unordered(PUSH_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_images_become_messages() {
        let event = json!({ "Records": [
            { "eventName": "INSERT", "dynamodb": { "NewImage": {
                "pk": {"S": "CONV#c"}, "sk": {"S": "MSG#m"}, "type": {"S": "message"},
                "conversationId": {"S": "c"}, "messageId": {"S": "m"}, "sender": {"S": "alice"},
                "sentAt": {"N": "17"}, "kind": {"S": "text"},
                "copies": {"M": {"bob": {"M": {"wrappedKey": {"B": "AAEC"}, "object": {"S": "messages/c/m/bob"}}}}}
            }}},
            { "eventName": "MODIFY", "dynamodb": { "NewImage": { "type": {"S": "message"} } } },
            { "eventName": "INSERT", "dynamodb": { "NewImage": { "type": {"S": "connection"} } } }
        ]});
        let got = new_messages(&event);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].sender, "alice");
        assert_eq!(got[0].sent_at, 17);
        assert_eq!(got[0].copies["bob"].wrapped_key, vec![0, 1, 2]);
    }
}
