//! Properties of envelope encryption, against both KMS implementations: the in-process
//! [`LocalKms`] and the real SDK client talking to the emulator over HTTP.

use std::collections::HashSet;

use backend::envelope::{self, EnvelopeError, Header, NONCE_LEN, Sealed, TAG_LEN};
use backend::kms::{Kms, LocalKms, SdkKms};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn header_strategy() -> impl Strategy<Value = Header> {
    ("[a-z0-9-]{1,36}", "[a-z0-9#:-]{1,40}", "\\PC{1,24}", "\\PC{1,24}").prop_map(|(m, c, s, r)| Header {
        message_id: m,
        conversation_id: c,
        sender: s,
        recipient: r,
    })
}

/// Payloads from empty to 1 MiB: mostly small, some large (the large ones are patterned, not
/// drawn byte by byte, to keep generation cheap).
fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..2048),
        1 => (0usize..=(1 << 20), any::<u8>()).prop_map(|(n, seed)| (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()),
    ]
}

/// Which part of a sealed copy or its header a tampering changes.
#[derive(Debug, Clone)]
enum Tamper {
    Body(usize),
    Tag(usize),
    Nonce(usize),
    WrappedKey(usize),
    MessageId,
    ConversationId,
    Sender,
    Recipient,
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        any::<usize>().prop_map(Tamper::Body),
        (0..TAG_LEN * 8).prop_map(Tamper::Tag),
        (0..NONCE_LEN * 8).prop_map(Tamper::Nonce),
        any::<usize>().prop_map(Tamper::WrappedKey),
        Just(Tamper::MessageId),
        Just(Tamper::ConversationId),
        Just(Tamper::Sender),
        Just(Tamper::Recipient),
    ]
}

fn flip(bytes: &mut [u8], bit: usize) {
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

fn apply(t: &Tamper, sealed: &mut Sealed, header: &mut Header) {
    let n = sealed.ciphertext.len();
    match t {
        Tamper::Body(b) if n > TAG_LEN => flip(&mut sealed.ciphertext[..n - TAG_LEN], *b),
        Tamper::Body(b) | Tamper::Tag(b) => flip(&mut sealed.ciphertext[n - TAG_LEN..], *b),
        Tamper::Nonce(b) => flip(&mut sealed.nonce, *b),
        Tamper::WrappedKey(b) => flip(&mut sealed.wrapped_key, *b),
        Tamper::MessageId => header.message_id.push('x'),
        Tamper::ConversationId => header.conversation_id.push('x'),
        Tamper::Sender => header.sender.push('x'),
        Tamper::Recipient => header.recipient.push('x'),
    }
}

/// Seal → store form → open gives the payload back; any tampering fails to open.
async fn check_round_trip_and_tampering<K: Kms>(kms: &K, key_id: &str, header: Header, payload: Vec<u8>, t: Tamper) {
    let sealed = envelope::seal(kms, key_id, &header, &payload).await.unwrap();
    assert_eq!(sealed.ciphertext.len(), payload.len() + TAG_LEN);
    let stored = Sealed::from_object(&sealed.to_object(), sealed.wrapped_key.clone()).unwrap();
    let opened = envelope::open(kms, &header, &stored).await.unwrap();
    assert_eq!(opened.as_slice(), payload.as_slice());

    let (mut bad, mut bad_header) = (stored.clone(), header.clone());
    apply(&t, &mut bad, &mut bad_header);
    let err = envelope::open(kms, &bad_header, &bad).await.unwrap_err();
    assert!(
        matches!(err, EnvelopeError::Forged | EnvelopeError::Kms(_) | EnvelopeError::Malformed),
        "{t:?} gave {err:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn local_kms_round_trips_and_detects_tampering(
        header in header_strategy(), payload in payload_strategy(), t in tamper_strategy()
    ) {
        let kms = LocalKms::default();
        runtime().block_on(check_round_trip_and_tampering(&kms, "reader-key", header, payload, t));
    }
}

#[test]
fn another_readers_key_or_another_messages_metadata_does_not_open() {
    runtime().block_on(async {
        let kms = LocalKms::default();
        let alice = Header {
            message_id: "m1".into(),
            conversation_id: "c1".into(),
            sender: "bob".into(),
            recipient: "alice".into(),
        };
        let sealed = envelope::seal(&kms, "alice-key", &alice, b"hi alice").await.unwrap();
        // Bob's own key cannot stand in, and a header naming Bob fails the context.
        let for_bob = Header { recipient: "bob".into(), ..alice.clone() };
        assert!(envelope::open(&kms, &for_bob, &sealed).await.is_err());
        // A copy moved onto another message's metadata fails too.
        let other = envelope::seal(&kms, "alice-key", &Header { message_id: "m2".into(), ..alice.clone() }, b"x")
            .await
            .unwrap();
        let swapped = Sealed { wrapped_key: other.wrapped_key.clone(), ..sealed.clone() };
        assert!(envelope::open(&kms, &alice, &swapped).await.is_err());
        assert!(envelope::open(&kms, &Header { message_id: "m2".into(), ..alice.clone() }, &sealed).await.is_err());
        assert_eq!(envelope::open(&kms, &alice, &sealed).await.unwrap().as_slice(), b"hi alice");
    });
}

#[test]
fn nonces_never_repeat_across_100k_encryptions() {
    runtime().block_on(async {
        let kms = LocalKms::default();
        let header =
            Header { message_id: "m".into(), conversation_id: "c".into(), sender: "s".into(), recipient: "r".into() };
        let mut seen = HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            let sealed = envelope::seal(&kms, "k", &header, b"same plaintext").await.unwrap();
            assert!(seen.insert(sealed.nonce), "a nonce repeated");
        }
    });
}

/// The same properties with the real SDK client against the emulator's KMS (real HTTP,
/// real key policies and encryption-context checks).
mod against_the_emulator {
    use super::*;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn sdk(url: &str) -> aws_sdk_kms::Client {
        let cfg = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "t")))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_kms::Client::new(&cfg)
    }

    #[test]
    fn sdk_kms_round_trips_detects_tampering_and_binds_the_reader() {
        let rt = runtime();
        let (emu, kms, alice_key, bob_key) = rt.block_on(async {
            let emu = emulator::Emulator::builder().in_memory().port(0).start().await.unwrap();
            let client = sdk(emu.url());
            let mut keys = Vec::new();
            for _ in 0..2 {
                keys.push(client.create_key().send().await.unwrap().key_metadata.unwrap().key_id);
            }
            (emu, SdkKms(client), keys[0].clone(), keys[1].clone())
        });
        let mut runner =
            proptest::test_runner::TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
        runner
            .run(&(header_strategy(), payload_strategy(), tamper_strategy()), |(h, p, t)| {
                rt.block_on(check_round_trip_and_tampering(&kms, &alice_key, h, p, t));
                Ok(())
            })
            .unwrap();
        rt.block_on(async {
            let alice = Header {
                message_id: "m1".into(),
                conversation_id: "c1".into(),
                sender: "bob".into(),
                recipient: "alice".into(),
            };
            let sealed = envelope::seal(&kms, &alice_key, &alice, b"for alice").await.unwrap();
            let as_bob = Header { recipient: "bob".into(), ..alice.clone() };
            assert!(matches!(envelope::open(&kms, &as_bob, &sealed).await, Err(EnvelopeError::Kms(_))));
            // Re-wrapping is impossible without the plaintext key: Bob's key cannot open Alice's copy.
            let bobs = envelope::seal(&kms, &bob_key, &as_bob, b"for bob").await.unwrap();
            let mixed = Sealed { wrapped_key: bobs.wrapped_key, ..sealed.clone() };
            assert!(envelope::open(&kms, &alice, &mixed).await.is_err());
            assert_eq!(envelope::open(&kms, &alice, &sealed).await.unwrap().as_slice(), b"for alice");
            emu.shutdown().await;
        });
    }
}
