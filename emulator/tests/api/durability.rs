//! Acknowledged writes survive `kill -9` of the emulator process (SQLite WAL, synchronous=NORMAL).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common;

/// Starts the real binary on a free port over `dir`; returns the process and its endpoint URL.
fn spawn(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["serve", "--port", "0", "--state"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("emulator binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep draining so the child never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("endpoint line").to_string();
    (child, url)
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_dash_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn(dir.path());

    let s3 = common::s3(&url);
    s3.create_bucket().bucket("durable").send().await.unwrap();
    s3.put_object().bucket("durable").key("k").body(b"acknowledged".to_vec().into()).send().await.unwrap();
    let kms = common::kms(&url);
    let key_id = kms.create_key().description("survivor").send().await.unwrap().key_metadata.unwrap().key_id;
    let blob = kms.encrypt().key_id(&key_id).plaintext(b"secret".to_vec().into()).send().await.unwrap().ciphertext_blob;

    // SIGKILL: no shutdown path runs.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url) = spawn(dir.path());
    let s3 = common::s3(&url);
    let got = s3.get_object().bucket("durable").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"acknowledged");
    let kms = common::kms(&url);
    let meta = kms.describe_key().key_id(&key_id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.description.as_deref(), Some("survivor"));
    let plain = kms.decrypt().ciphertext_blob(blob.unwrap()).send().await.unwrap().plaintext.unwrap();
    assert_eq!(plain.as_ref(), b"secret");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Checkpoints run beside the writes, not inside them: under steady writes the log is still
/// started over (it stays far below what was written), and every acknowledged object survives
/// `kill -9` wherever the checkpointer was.
#[tokio::test]
async fn steady_writes_keep_the_log_bounded_and_survive_kill_dash_9() {
    const OBJECTS: usize = 40;
    const SIZE: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn(dir.path());
    let s3 = common::s3(&url);
    s3.create_bucket().bucket("steady").send().await.unwrap();
    let body = |i: usize| vec![i as u8; SIZE];
    let wal = dir.path().join("emulator.db-wal");
    let mut largest_log = 0;
    for chunk in (0..OBJECTS).collect::<Vec<_>>().chunks(4) {
        let puts =
            chunk.iter().map(|&i| s3.put_object().bucket("steady").key(format!("o{i}")).body(body(i).into()).send());
        for put in futures_util::future::join_all(puts).await {
            put.unwrap();
        }
        largest_log = largest_log.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    // 40 MiB written; the log is started over once past 16 MiB (4,096 pages), where a log never
    // started over would hold all of it (SQLite's own checkpoint on commit steps in at 64 MiB).
    assert!(largest_log < 28 << 20, "the log grew to {largest_log} bytes");

    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, url) = spawn(dir.path());
    let s3 = common::s3(&url);
    for i in 0..OBJECTS {
        let got = s3.get_object().bucket("steady").key(format!("o{i}")).send().await.unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(bytes.len() == SIZE && bytes.iter().all(|&b| b == i as u8), "object o{i} came back changed");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
