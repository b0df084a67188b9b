//! The chat's operations called directly (no Lambda, no API Gateway), over the table and bucket
//! of `backend/template.yaml` provisioned in an in-process emulator, with the in-process KMS
//! stand-in: pagination, ordering, unread counts, rooms, attachments and the authorisation rule.

use backend::chat::{self, Caller, ChatError, Deps};
use backend::kms::LocalKms;
use backend::store::{Profile, Store};
use emulator::template::provision::FunctionBinaries;
use emulator::up::{Up, UpOptions};
use serde_json::Value;

/// The template's resources (functions are registered but never run here).
async fn world() -> (Up, Deps<LocalKms>) {
    let mut options = UpOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"));
    options.stack_name = Some("chat".into());
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_api"));
    options.functions = FunctionBinaries::Dir(exe.parent().unwrap().to_path_buf());
    let up = emulator::up::up(emulator::Emulator::builder().in_memory().port(0), &options).await.unwrap();
    let cfg = testkit::sdk_config(up.handle.url());
    let deps = Deps {
        store: Store::new(aws_sdk_dynamodb::Client::new(&cfg), up.stack.physical_id("ChatTable").unwrap()),
        s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build()),
        bucket: up.stack.physical_id("MessageBucket").unwrap().to_string(),
        kms: LocalKms::default(),
        max_room_members: chat::MAX_ROOM_MEMBERS,
    };
    (up, deps)
}

async fn user(deps: &Deps<LocalKms>, name: &str) -> Caller {
    let p = Profile {
        sub: format!("sub-{name}"),
        username: name.into(),
        email: format!("{name}@example.com"),
        key_id: format!("key-{name}"),
        topic_arn: String::new(),
        created_at: 1,
    };
    assert!(deps.store.put_profile(&p).await.unwrap());
    assert!(!deps.store.put_profile(&p).await.unwrap(), "a second put is a no-op");
    Caller { sub: p.sub, username: p.username }
}

fn ids(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list].as_array().unwrap().iter().map(|m| m[field].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_conversations_page_newest_first_with_checked_cursors() {
    let (up, deps) = world().await;
    let alice = user(&deps, "alice").await;
    let bob = user(&deps, "bob").await;
    let carol = user(&deps, "carol").await;

    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(chat::send_to_user(&deps, &alice, &bob.sub, &format!("m{i}")).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let conv = sent[0].conversation_id.clone();
    assert!(sent.iter().all(|s| s.conversation_id == conv), "one direct conversation");

    // Newest first, three at a time, decrypted for the reader.
    let mut texts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = chat::history(&deps, &bob, &conv, Some(3), cursor.as_deref()).await.unwrap();
        texts.extend(ids(&page, "messages", "text"));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(texts, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);

    // A cursor from one conversation cannot page another (or anyone else's list).
    let page = chat::history(&deps, &bob, &conv, Some(3), None).await.unwrap();
    let c = page["nextCursor"].as_str().unwrap();
    chat::send_to_user(&deps, &carol, &bob.sub, "from carol").await.unwrap();
    let other = chat::conversations(&deps, &carol, None, None).await.unwrap();
    let carol_conv = other["conversations"][0]["conversationId"].as_str().unwrap().to_string();
    let e = chat::history(&deps, &bob, &carol_conv, Some(3), Some(c)).await.unwrap_err();
    assert!(matches!(e, ChatError::BadRequest(_)), "{e:?}");
    let e = chat::conversations(&deps, &carol, None, Some(c)).await.unwrap_err();
    assert!(matches!(e, ChatError::BadRequest(_)));

    // Bob's conversations: the most recently active first.
    let list = chat::conversations(&deps, &bob, Some(1), None).await.unwrap();
    assert_eq!(ids(&list, "conversations", "conversationId"), [carol_conv.as_str()]);
    let rest = chat::conversations(&deps, &bob, Some(1), list["nextCursor"].as_str()).await.unwrap();
    assert_eq!(ids(&rest, "conversations", "conversationId"), [conv.as_str()]);
    chat::send_to_conversation(&deps, &bob, &conv, "back to alice").await.unwrap();
    let list = chat::conversations(&deps, &bob, None, None).await.unwrap();
    assert_eq!(ids(&list, "conversations", "conversationId"), [conv.clone(), carol_conv.clone()]);

    // Unread: 7 from Alice and 1 from Carol; reading up to the 5th leaves 2.
    let unread = chat::unread(&deps, &bob).await.unwrap();
    assert_eq!(unread["total"], 8);
    let r = chat::mark_read(&deps, &bob, &conv, &sent[4].message_id).await.unwrap();
    assert_eq!(r["unread"], 2);
    let unread = chat::unread(&deps, &bob).await.unwrap();
    assert_eq!(unread["conversations"][&conv], 2);
    assert_eq!(unread["total"], 3);
    assert_eq!(chat::unread(&deps, &alice).await.unwrap()["conversations"][&conv], 1, "Bob's reply");

    // Carol is not a member: everything about the conversation is "not found".
    for e in [
        chat::history(&deps, &carol, &conv, None, None).await.unwrap_err(),
        chat::message(&deps, &carol, &conv, &sent[0].message_id).await.unwrap_err(),
        chat::send_to_conversation(&deps, &carol, &conv, "intrude").await.map(|_| Value::Null).unwrap_err(),
        chat::mark_read(&deps, &carol, &conv, &sent[0].message_id).await.unwrap_err(),
    ] {
        assert!(matches!(e, ChatError::NotFound(_)), "{e:?}");
    }
    // Bad input.
    assert!(matches!(chat::send_to_user(&deps, &alice, &alice.sub, "me").await, Err(ChatError::BadRequest(_))));
    assert!(matches!(chat::send_to_user(&deps, &alice, &bob.sub, "").await, Err(ChatError::BadRequest(_))));
    let big = "x".repeat(chat::MAX_TEXT + 1);
    assert!(matches!(chat::send_to_user(&deps, &alice, &bob.sub, &big).await, Err(ChatError::BadRequest(_))));
    assert!(matches!(chat::send_to_user(&deps, &alice, "sub-nobody", "hi").await, Err(ChatError::NotFound(_))));
    assert!(matches!(chat::history(&deps, &bob, &conv, Some(0), None).await, Err(ChatError::BadRequest(_))));
    up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_seal_for_members_at_send_time_and_attachments_round_trip() {
    let (up, deps) = world().await;
    let alice = user(&deps, "alice").await;
    let bob = user(&deps, "bob").await;
    let dave = user(&deps, "dave").await;

    let room = chat::create_room(&deps, &alice, "General").await.unwrap();
    let room = room["conversationId"].as_str().unwrap().to_string();
    chat::join_room(&deps, &bob, &room).await.unwrap();
    let early = chat::send_to_conversation(&deps, &alice, &room, "before dave").await.unwrap();
    chat::join_room(&deps, &dave, &room).await.unwrap();
    let later = chat::send_to_conversation(&deps, &bob, &room, "after dave").await.unwrap();

    let listed = chat::rooms(&deps, None, None).await.unwrap();
    assert_eq!(ids(&listed, "rooms", "name"), ["General"]);
    // Dave reads what was sent after he joined; the earlier message has no copy for him.
    let h = chat::history(&deps, &dave, &room, None, None).await.unwrap();
    assert_eq!(h["messages"][0]["text"], "after dave");
    assert!(h["messages"][1].get("text").is_none());
    assert!(matches!(chat::message(&deps, &dave, &room, &early.message_id).await, Err(ChatError::NotFound(_))));
    assert_eq!(chat::message(&deps, &alice, &room, &later.message_id).await.unwrap()["text"], "after dave");
    // Leaving ends access.
    chat::leave_room(&deps, &dave, &room).await.unwrap();
    assert!(matches!(chat::history(&deps, &dave, &room, None, None).await, Err(ChatError::NotFound(_))));
    assert!(matches!(chat::join_room(&deps, &dave, "r-missing").await, Err(ChatError::NotFound(_))));

    // Attachments: presigned upload of the plaintext, sealed per reader, read back decrypted.
    let upload = chat::attachment_upload(&deps, &alice, &room).await.unwrap();
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let put =
        reqwest::Client::new().put(upload["uploadUrl"].as_str().unwrap()).body(bytes.clone()).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let id = upload["attachmentId"].as_str().unwrap();
    let sent = chat::send_attachment(&deps, &alice, &room, id, "photo.bin", "application/octet-stream").await.unwrap();
    let (got, content_type) = chat::attachment(&deps, &bob, &room, &sent.message_id).await.unwrap();
    assert_eq!(got, bytes);
    assert_eq!(content_type, "application/octet-stream");
    let meta = chat::message(&deps, &bob, &room, &sent.message_id).await.unwrap();
    assert_eq!(meta["attachment"]["fileName"], "photo.bin");
    assert_eq!(meta["attachment"]["size"], 50_000);
    // The staging object is gone; sending it twice fails.
    assert!(chat::send_attachment(&deps, &alice, &room, id, "again", "x/y").await.is_err());
    assert!(matches!(chat::attachment(&deps, &dave, &room, &sent.message_id).await, Err(ChatError::NotFound(_))));
    // The bucket holds only ciphertext: no object contains the plaintext's first bytes.
    let objects = deps.s3.list_objects_v2().bucket(&deps.bucket).send().await.unwrap();
    let needle = &bytes[..64];
    for o in objects.contents() {
        let body = deps.s3.get_object().bucket(&deps.bucket).key(o.key().unwrap()).send().await.unwrap();
        let data = body.body.collect().await.unwrap().into_bytes();
        assert!(!data.windows(needle.len()).any(|w| w == needle), "{} holds plaintext", o.key().unwrap());
    }
    up.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_never_passes_its_member_cap_even_when_joins_race() {
    let (_up, deps) = world().await;
    let owner = user(&deps, "owner").await;
    let room = chat::create_room(&deps, &owner, "Crowded").await.unwrap();
    let room = room["conversationId"].as_str().unwrap().to_string();
    let mut joiners = Vec::new();
    for i in 0..chat::MAX_ROOM_MEMBERS + 9 {
        joiners.push(user(&deps, &format!("j{i}")).await);
    }
    // Everyone joins at once: the cap is checked by the write itself, not by an earlier read.
    let results = futures_util::future::join_all(joiners.iter().map(|j| chat::join_room(&deps, j, &room))).await;
    let joined: Vec<&Caller> = joiners.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(j, _)| j).collect();
    let refused: Vec<&Caller> = joiners.iter().zip(&results).filter(|(_, r)| r.is_err()).map(|(j, _)| j).collect();
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, ChatError::BadRequest(m) if m.contains("at most")), "{r:?}");
    }
    assert_eq!(joined.len(), chat::MAX_ROOM_MEMBERS - 1, "the owner holds one place");
    assert_eq!(refused.len(), 10);
    assert_eq!(deps.store.members(&room).await.unwrap().len(), chat::MAX_ROOM_MEMBERS);
    // Joining again changes nothing; leaving frees a place that a refused user can take.
    chat::join_room(&deps, joined[0], &room).await.unwrap();
    assert!(chat::join_room(&deps, refused[0], &room).await.is_err());
    chat::leave_room(&deps, joined[0], &room).await.unwrap();
    chat::join_room(&deps, refused[0], &room).await.unwrap();
    assert!(chat::join_room(&deps, refused[1], &room).await.is_err());
    let members = deps.store.members(&room).await.unwrap();
    assert_eq!(members.len(), chat::MAX_ROOM_MEMBERS);
    assert!(members.contains(&refused[0].sub) && !members.contains(&joined[0].sub));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_cap_is_the_configured_one() {
    assert_eq!(chat::room_cap(None), Ok(chat::MAX_ROOM_MEMBERS), "unset: the default");
    assert_eq!(chat::room_cap(Some("")), Ok(chat::MAX_ROOM_MEMBERS));
    assert_eq!(chat::room_cap(Some(" 500 ")), Ok(500));
    for bad in ["1", "0", "-3", "many", "2.5"] {
        assert!(chat::room_cap(Some(bad)).is_err(), "{bad} is refused");
    }

    let (_up, mut deps) = world().await;
    deps.max_room_members = 3;
    let owner = user(&deps, "owner").await;
    let room = chat::create_room(&deps, &owner, "Small").await.unwrap();
    let room = room["conversationId"].as_str().unwrap().to_string();
    for name in ["a", "b"] {
        chat::join_room(&deps, &user(&deps, name).await, &room).await.unwrap();
    }
    let late = user(&deps, "c").await;
    let refused = chat::join_room(&deps, &late, &room).await.unwrap_err();
    assert!(matches!(&refused, ChatError::BadRequest(m) if m == "a room has at most 3 members"), "{refused:?}");
    assert_eq!(deps.store.members(&room).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_messages_racing_each_other_open_one_direct_conversation() {
    let (_up, deps) = world().await;
    let alice = user(&deps, "alice").await;
    let bob = user(&deps, "bob").await;
    // Both first contacts at once: one creates the conversation in its transaction, the other
    // finds its rows there (its own transaction cancelled) and completes nothing twice.
    let (a, b) = futures_util::future::join(
        chat::send_to_user(&deps, &alice, &bob.sub, "hi bob"),
        chat::send_to_user(&deps, &bob, &alice.sub, "hi alice"),
    )
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.conversation_id, b.conversation_id);
    for who in [&alice, &bob] {
        let convs = chat::conversations(&deps, who, None, None).await.unwrap();
        assert_eq!(ids(&convs, "conversations", "conversationId"), [a.conversation_id.as_str()]);
        assert_eq!(convs["conversations"][0]["unread"], 1, "the other's message is unread");
        let history = chat::history(&deps, who, &a.conversation_id, None, None).await.unwrap();
        let mut texts: Vec<&str> =
            history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
        texts.sort();
        assert_eq!(texts, ["hi alice", "hi bob"], "each message sealed for both readers");
    }
    assert_eq!(deps.store.members(&a.conversation_id).await.unwrap().len(), 2);
}
