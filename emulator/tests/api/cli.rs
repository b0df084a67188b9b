//! The AWS CLI, unmodified, against the emulator: only `--endpoint-url` changes.
//! Skipped (with a printed reason) where no `aws` executable is on PATH; CI installs it.

use tokio::process::Command;

use crate::common;

/// Runs `aws --endpoint-url URL args…`; returns stdout, failing the test on a non-zero exit.
async fn aws(url: &str, args: &[&str]) -> String {
    let out = Command::new("aws")
        .arg("--endpoint-url")
        .arg(url)
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .expect("aws runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "aws {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn cli_available() -> bool {
    let found = std::process::Command::new("aws").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: no `aws` CLI on PATH (pip install awscli)");
    }
    found
}

#[tokio::test]
async fn aws_cli_drives_s3_kms_and_sns() {
    if !cli_available() {
        return;
    }
    let emu = common::start().await;
    let url = emu.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, "hello from the cli\n").unwrap();
    let big = dir.path().join("big.bin");
    // Above the CLI's 8 MiB multipart threshold.
    std::fs::write(&big, (0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();

    aws(url, &["s3", "mb", "s3://cli-bucket"]).await;
    aws(url, &["s3", "cp", file.to_str().unwrap(), "s3://cli-bucket/docs/hello.txt"]).await;
    aws(url, &["s3", "cp", big.to_str().unwrap(), "s3://cli-bucket/big.bin"]).await;
    let listing = aws(url, &["s3", "ls", "s3://cli-bucket/docs/"]).await;
    assert!(listing.contains("hello.txt"), "{listing}");
    let back = dir.path().join("back.txt");
    aws(url, &["s3", "cp", "s3://cli-bucket/docs/hello.txt", back.to_str().unwrap()]).await;
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "hello from the cli\n");
    let big_back = dir.path().join("big-back.bin");
    aws(url, &["s3", "cp", "s3://cli-bucket/big.bin", big_back.to_str().unwrap()]).await;
    assert_eq!(std::fs::read(&big_back).unwrap(), std::fs::read(&big).unwrap());
    aws(url, &["s3", "rm", "s3://cli-bucket/docs/hello.txt"]).await;

    let key: serde_json::Value =
        serde_json::from_str(&aws(url, &["kms", "create-key", "--description", "cli key"]).await).unwrap();
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    aws(url, &["kms", "create-alias", "--alias-name", "alias/cli", "--target-key-id", &key_id]).await;
    // fileb:// passes raw bytes the same way in CLI v1 and v2.
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, b"hello").unwrap();
    let plain_arg = format!("fileb://{}", plain.display());
    let encrypt =
        ["kms", "encrypt", "--key-id", "alias/cli", "--plaintext", &plain_arg, "--encryption-context", "user=alice"];
    let enc: serde_json::Value = serde_json::from_str(&aws(url, &encrypt).await).unwrap();
    let blob_file = dir.path().join("blob.bin");
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD.decode(enc["CiphertextBlob"].as_str().unwrap()).unwrap();
    std::fs::write(&blob_file, blob).unwrap();
    let blob_arg = format!("fileb://{}", blob_file.display());
    let dec: serde_json::Value = serde_json::from_str(
        &aws(url, &["kms", "decrypt", "--ciphertext-blob", &blob_arg, "--encryption-context", "user=alice"]).await,
    )
    .unwrap();
    assert_eq!(dec["Plaintext"], "aGVsbG8=");

    let topic: serde_json::Value =
        serde_json::from_str(&aws(url, &["sns", "create-topic", "--name", "cli-topic"]).await).unwrap();
    let arn = topic["TopicArn"].as_str().unwrap();
    aws(
        url,
        &["sns", "subscribe", "--topic-arn", arn, "--protocol", "email", "--notification-endpoint", "cli@example.com"],
    )
    .await;
    let published: serde_json::Value =
        serde_json::from_str(&aws(url, &["sns", "publish", "--topic-arn", arn, "--message", "hi"]).await).unwrap();
    assert!(published["MessageId"].as_str().is_some_and(|id| !id.is_empty()));
    let mail = common::mailbox(url, "cli@example.com").await;
    assert!(!mail.is_empty(), "the subscription confirmation is in the mailbox");
}

#[tokio::test]
async fn aws_cli_drives_dynamodb_and_its_stream() {
    if !cli_available() {
        return;
    }
    let emu = common::start().await;
    let url = emu.url();
    let json = |s: String| serde_json::from_str::<serde_json::Value>(&s).unwrap();
    let created = json(
        aws(
            url,
            &[
                "dynamodb",
                "create-table",
                "--table-name",
                "cli-chat",
                "--attribute-definitions",
                "AttributeName=pk,AttributeType=S",
                "AttributeName=sk,AttributeType=N",
                "--key-schema",
                "AttributeName=pk,KeyType=HASH",
                "AttributeName=sk,KeyType=RANGE",
                "--billing-mode",
                "PAY_PER_REQUEST",
                "--stream-specification",
                "StreamEnabled=true,StreamViewType=NEW_IMAGE",
            ],
        )
        .await,
    );
    let stream = created["TableDescription"]["LatestStreamArn"].as_str().unwrap().to_string();
    aws(url, &["dynamodb", "wait", "table-exists", "--table-name", "cli-chat"]).await;
    for sk in ["10", "9", "100"] {
        let item = format!(r#"{{"pk":{{"S":"room"}},"sk":{{"N":"{sk}"}}}}"#);
        aws(url, &["dynamodb", "put-item", "--table-name", "cli-chat", "--item", &item]).await;
    }
    let q = json(
        aws(
            url,
            &[
                "dynamodb",
                "query",
                "--table-name",
                "cli-chat",
                "--key-condition-expression",
                "pk = :p",
                "--expression-attribute-values",
                r#"{":p":{"S":"room"}}"#,
                "--page-size",
                "2",
            ],
        )
        .await,
    );
    let order: Vec<&str> = q["Items"].as_array().unwrap().iter().map(|i| i["sk"]["N"].as_str().unwrap()).collect();
    assert_eq!(order, ["9", "10", "100"], "the CLI pages through numeric sort order");

    let d = json(aws(url, &["dynamodbstreams", "describe-stream", "--stream-arn", &stream]).await);
    let shard = d["StreamDescription"]["Shards"][0]["ShardId"].as_str().unwrap().to_string();
    let it = json(
        aws(
            url,
            &[
                "dynamodbstreams",
                "get-shard-iterator",
                "--stream-arn",
                &stream,
                "--shard-id",
                &shard,
                "--shard-iterator-type",
                "TRIM_HORIZON",
            ],
        )
        .await,
    );
    let records = json(
        aws(url, &["dynamodbstreams", "get-records", "--shard-iterator", it["ShardIterator"].as_str().unwrap()]).await,
    );
    let inserted: Vec<&str> = records["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["NewImage"]["sk"]["N"].as_str().unwrap())
        .collect();
    assert_eq!(inserted, ["10", "9", "100"], "records in write order");
}

/// The processes whose parent is `pid`.
#[cfg(target_os = "linux")]
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// A process that is gone or a zombie no longer runs.
#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// Starts `emulator up` on the test template with saved state; returns the process and its
/// banner once it says it is ready.
async fn spawn_up(state: &std::path::Path, functions: &std::path::Path) -> (tokio::process::Child, Vec<String>) {
    use tokio::io::AsyncBufReadExt as _;
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/templates/stack.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["up", "--template", template, "--stack-name", "shop", "--port", "0", "--skip-build", "--functions-dir"])
        .arg(functions)
        .arg("--state")
        .arg(state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push(line.clone());
            if line.starts_with("ready in ") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the banner ends with the ready line");
    // Keep reading so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, banner)
}

/// The value after `prefix` on the banner line that starts with it.
fn banner_value(banner: &[String], prefix: &str) -> String {
    let line = banner.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {banner:#?}"));
    line[prefix.len()..].trim().to_string()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn ctrl_c_stops_functions_and_sockets_and_the_state_survives() {
    let state = tempfile::tempdir().unwrap();
    let functions = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(crate::lambda::test_function(), functions.path().join("AppFunction")).unwrap();

    let (mut up, banner) = spawn_up(state.path(), functions.path()).await;
    let url = banner_value(&banner, "emulator listening on ");
    let pid = up.id().unwrap();
    let lambda = aws_sdk_lambda::Client::new(&common::sdk_config(&url));
    let names: Vec<String> = lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    let function = names.iter().find(|n| n.contains("AppFunction")).expect("the stack's function");
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(aws_smithy_types::Blob::new(r#"{"action":"echo"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), None);
    let instances = children(pid);
    assert!(!instances.is_empty(), "a warm instance runs as a child process");
    let table = aws_sdk_dynamodb::Client::new(&common::sdk_config(&url));
    let table_name = table.list_tables().send().await.unwrap().table_names()[0].clone();
    // An open WebSocket must not hold the shutdown up.
    let ws_url = banner_value(&banner, "WebSocket API WebSocketApi:");
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.expect("a WebSocket connects");

    // Ctrl-C: the process exits cleanly, its function processes with it, the port closes.
    assert!(std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), up.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for p in &instances {
        assert!(!running(*p), "function process {p} outlived the emulator");
    }
    assert!(tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.is_err(), "the port is closed");
    use futures_util::StreamExt as _;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        loop {
            match socket.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the client's WebSocket was closed");

    // Started again on the same state: the stack is there, nothing created twice.
    let (mut again, banner) = spawn_up(state.path(), functions.path()).await;
    let url = banner_value(&banner, "emulator listening on ");
    let table = aws_sdk_dynamodb::Client::new(&common::sdk_config(&url));
    assert_eq!(table.list_tables().send().await.unwrap().table_names(), [table_name]);
    again.start_kill().unwrap();
    let _ = again.wait().await;
}
