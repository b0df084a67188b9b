//! The web client (`backend/web/`) in real browsers: headless Chromium driven over WebDriver,
//! against `emulator up` with this template and the backend's real binaries. Two people sign
//! up with the mailed code, log in with SRP, chat live over the WebSocket, watch unread counts,
//! reload, page back through history, send a file; the console then lists them and their mail.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`). Without them the
//! tests print `SKIPPED: …` and pass, unless `BROWSER_TESTS_REQUIRED=1`. On a failure both
//! browsers' screenshots and HTML go to `target/browser-artifacts/`.

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::up::Up;
use fantoccini::{Client, Locator};
use futures_util::FutureExt as _;
use serde_json::{Value, json};

const PASSWORD: &str = "Correct-Horse-9";
/// How long any wait for the page may take.
const WAIT: Duration = Duration::from_secs(10);

// ---- browsers ---------------------------------------------------------------------------------

/// Where a program is: `$ENV_VAR`, else the first `name` on `PATH`.
fn program(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Prints why a test does not run and lets it pass, unless browser tests are required.
fn skip(reason: &str) {
    if std::env::var("BROWSER_TESTS_REQUIRED").is_ok_and(|v| v == "1") {
        panic!("browser tests are required but {reason}");
    }
    println!("SKIPPED: {reason}");
}

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver, or says why it cannot (then the test is skipped).
    async fn start() -> Option<Driver> {
        let Some(chromium) = program("CHROMIUM", "chromium").or_else(|| program("CHROMIUM", "chromium-browser")) else {
            skip("no chromium on PATH (install the `chromium` package, or set CHROMIUM)");
            return None;
        };
        let Some(chromedriver) = program("CHROMEDRIVER", "chromedriver") else {
            skip("no chromedriver on PATH (install the `chromium-driver` package, or set CHROMEDRIVER)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).ok()?;
        let child = match Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skip(&format!("{} does not start: {e}", chromedriver.display()));
                return None;
            }
        };
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), chromium };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(r) = status
                && r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                return Some(driver);
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new browser (each session is a Chromium process of its own, with its own profile), on
    /// a desktop's window or a phone's screen.
    async fn session(&self, name: &'static str, screen: Screen, downloads: &Path) -> Page {
        let mut options = json!({
            "binary": self.chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            "prefs": { "download.default_directory": downloads, "download.prompt_for_download": false },
        });
        let args = options["args"].as_array_mut().unwrap();
        match screen {
            Screen::Desktop(width, height) => args.push(format!("--window-size={width},{height}").into()),
            Screen::Phone(width, height) => {
                // Windows have a minimum width; the phone's viewport comes from device emulation.
                args.push("--window-size=600,900".into());
                options["mobileEmulation"] =
                    json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2, "touch": true } });
            }
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session for {name}: {e}"));
        Page { name, client }
    }
}

#[derive(Clone, Copy)]
enum Screen {
    Desktop(u32, u32),
    Phone(u32, u32),
}

/// One browser, with waits that poll the page (up to [`WAIT`]) instead of sleeping.
#[derive(Clone)]
struct Page {
    name: &'static str,
    client: Client,
}

fn by_testid(testid: &str) -> String {
    format!("[data-testid=\"{testid}\"]")
}

impl Page {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("{}: goto {url}: {e}", self.name));
    }

    /// Runs a script in the page; its `return` value.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name))
    }

    /// Polls `script` until it returns something other than null/false/undefined.
    async fn until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut last = Value::Null;
        loop {
            match self.client.execute(script, args.clone()).await {
                Ok(Value::Null | Value::Bool(false)) => {}
                Ok(v) => return v,
                Err(e) => last = Value::String(e.to_string()),
            }
            assert!(Instant::now() < deadline, "{}: timed out waiting for {what} (last error: {last})", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a visible element whose text contains `text`, and clicks it. Retries while the
    /// page re-renders underneath (stale or covered elements).
    async fn click_where(&self, css: &str, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            for el in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                let matches = el.text().await.is_ok_and(|t| t.contains(text));
                if matches && el.is_displayed().await.unwrap_or(false) && el.click().await.is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{}: nothing visible to click at {css} with {text:?}", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, testid: &str) {
        self.click_where(&by_testid(testid), "").await;
    }

    /// Waits for a visible input, clears it and types `text`.
    async fn fill(&self, testid: &str, text: &str) {
        let css = by_testid(testid);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(&css)).await
                && el.is_displayed().await.unwrap_or(false)
                && el.clear().await.is_ok()
                && el.send_keys(text).await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "{}: no input {testid} to type into", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element's text equals `text`.
    async fn see_text(&self, testid: &str, text: &str) {
        let script =
            "const e = document.querySelector(arguments[0]); return e && e.textContent.trim() === arguments[1];";
        self.until(&format!("{testid} to read {text:?}"), script, vec![by_testid(testid).into(), text.into()]).await;
    }

    /// Waits until a visible element is present.
    async fn see(&self, testid: &str) {
        let script = "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;";
        self.until(&format!("{testid} to show"), script, vec![by_testid(testid).into()]).await;
    }

    /// The texts of the open conversation's messages, oldest first.
    async fn messages(&self) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll('[data-testid=message] [data-testid=message-text], [data-testid=message] [data-testid=attachment]')].map(e => e.textContent);",
                vec![],
            )
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Waits until the open conversation shows `text`.
    async fn see_message(&self, text: &str) {
        let script = "return [...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].some(e => e.textContent.includes(arguments[0]));";
        self.until(&format!("the message {text:?}"), script, vec![text.into()]).await;
    }

    /// The unread badge of the conversation titled `title` (0 without a badge), once it equals `n`.
    async fn see_unread(&self, title: &str, n: u32) {
        let script = r#"
            const item = [...document.querySelectorAll('[data-testid=conversation-item]')]
                .find(e => e.querySelector('.title').textContent.includes(arguments[0]));
            if (!item) return false;
            const badge = item.querySelector('[data-testid=unread-badge]');
            return (badge ? Number(badge.textContent) : 0) === arguments[1];"#;
        self.until(&format!("{title}'s unread badge to be {n}"), script, vec![title.into(), n.into()]).await;
    }

    async fn title(&self) -> String {
        self.client.title().await.unwrap_or_default()
    }

    async fn see_title(&self, title: &str) {
        self.until(&format!("the title {title:?}"), "return document.title === arguments[0];", vec![title.into()])
            .await;
    }

    /// The session's tokens, as the page keeps them.
    async fn tokens(&self) -> Value {
        self.js("return JSON.parse(sessionStorage.getItem('chat.tokens'));", vec![]).await
    }

    /// Saves a screenshot and the page's HTML as `{dir}/{test}-{name}.png|html`.
    async fn save_artifacts(&self, dir: &Path, test: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{test}-{}.png", self.name)), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(dir.join(format!("{test}-{}.html", self.name)), html);
        }
    }
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}

/// Runs `scenario`; if it panics or hangs, saves every page's screenshot and HTML first, then
/// fails with the original panic.
async fn with_artifacts(test: &str, pages: &[&Page], scenario: impl Future<Output = ()>) {
    let outcome = tokio::time::timeout(Duration::from_secs(150), AssertUnwindSafe(scenario).catch_unwind()).await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(panic)) => Some(panic),
        Err(_) => Some(Box::new("the scenario took longer than 150 s".to_string()) as Box<dyn std::any::Any + Send>),
    };
    if let Some(panic) = failure {
        let dir = artifacts_dir();
        for page in pages {
            page.save_artifacts(&dir, test).await;
            // Ends the browser too (chromedriver going away would leave it running).
            let _ = page.client.clone().close().await;
        }
        eprintln!("screenshots and HTML of the failure are in {}", dir.display());
        std::panic::resume_unwind(panic);
    }
}

// ---- the stack --------------------------------------------------------------------------------

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn serve_web_client(emu: &emulator::state::Emu, config: Value) {
    *emu.web_app.write().unwrap() = Some(Arc::new(emulator::webapp::WebApp { dir: web_dir(), config }));
}

async fn stack() -> Up {
    let mut options = common::options();
    // Served at /_app/ with a config.json of the stack's outputs as they answer here.
    options.web = Some(web_dir());
    common::up(emulator::Emulator::builder().in_memory(), &options).await
}

/// The confirmation code in the newest mail to `address`.
async fn mailed_code(url: &str, address: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let mail = testkit::mailbox(url, address).await;
        let body = mail.first().and_then(|m| m["body"].as_str()).unwrap_or("").to_string();
        if let Some(code) = body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6) {
            return code.to_string();
        }
        assert!(Instant::now() < deadline, "no code mailed to {address}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- the scenario -----------------------------------------------------------------------------

/// Signs up through the page, confirms with the mailed code, logs in with SRP.
async fn join(page: &Page, url: &str, name: &str) {
    let email = format!("{name}@example.com");
    page.goto(&format!("{url}/_app/")).await;
    page.click("goto-signup").await;
    page.fill("signup-username", name).await;
    page.fill("signup-email", &email).await;
    page.fill("signup-password", PASSWORD).await;
    page.click("signup-submit").await;
    page.see("confirm-code").await;
    page.see_text("confirm-email", &email).await;
    let mailbox = page.js("return document.querySelector('[data-testid=mailbox-link]').href;", vec![]).await;
    assert_eq!(mailbox, format!("{url}/_emulator/ui#/mailbox"), "the confirm screen links the local mailbox");
    let code = mailed_code(url, &email).await;
    page.fill("confirm-code", &code).await;
    page.click("confirm-submit").await;
    page.see("login-notice").await;
    let prefilled = page.js("return document.querySelector('[data-testid=login-username]').value;", vec![]).await;
    assert_eq!(prefilled, name);
    page.fill("login-password", PASSWORD).await;
    page.click("login-submit").await;
    page.see_text("me", name).await;
    page.until(
        "the WebSocket to connect",
        "return document.querySelector('[data-testid=connection-state]').dataset.state === 'connected';",
        vec![],
    )
    .await;
}

async fn send(page: &Page, text: &str) {
    page.fill("message-input", text).await;
    page.click("send-button").await;
    page.see_message(text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_people_chat_in_their_browsers() {
    let started = Instant::now();
    let Some(driver) = Driver::start().await else { return };
    let up = stack().await;
    let url = up.handle.url().to_string();
    let downloads = std::env::temp_dir().join(format!("chat-browser-{}", std::process::id()));
    std::fs::create_dir_all(&downloads).unwrap();
    // Alice on a desktop-sized window, Bob on a phone-sized one.
    let (alice, bob) = tokio::join!(
        driver.session("alice", Screen::Desktop(1280, 900), &downloads),
        driver.session("bob", Screen::Phone(375, 812), &downloads)
    );
    with_artifacts("chat", &[&alice, &bob], scenario(&up, &alice, &bob, &downloads)).await;
    with_artifacts("console", &[&alice], console(&url, &alice)).await;
    for page in [alice, bob] {
        let _ = page.client.close().await;
    }
    let _ = std::fs::remove_dir_all(&downloads);
    up.handle.shutdown().await;
    eprintln!("browser scenario: {:?}", started.elapsed());
}

/// Prints how long the scenario has run at each step (the log of a failure shows where).
fn step(started: Instant, what: &str) {
    eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
}

async fn scenario(up: &Up, alice: &Page, bob: &Page, downloads: &Path) {
    let url = up.handle.url();
    let t = Instant::now();
    tokio::join!(join(alice, url, "alice"), join(bob, url, "bob"));
    step(t, "both signed up, confirmed and logged in");
    assert_eq!(bob.js("return window.innerWidth;", vec![]).await, 375, "Bob's viewport is a phone's");
    // Everything Bob sees from here on arrives without the page being loaded again.
    bob.js("window.sameDocument = true;", vec![]).await;

    // Alice finds Bob in the directory and writes first: Bob's list shows the new conversation
    // with one unread message, live, and his window title counts it.
    alice.click("tab-people").await;
    alice.click_where(&by_testid("user-item"), "bob").await;
    alice.see_text("conversation-title", "bob").await;
    send(alice, "hello bob").await;
    bob.see_unread("alice", 1).await;
    bob.see_title("(1) Chat").await;

    // Bob opens it (on a phone the list gives way to the conversation): read, badge gone.
    bob.click_where(&by_testid("conversation-item"), "alice").await;
    bob.see_message("hello bob").await;
    bob.see("message-input").await;
    let list_shown = "return document.querySelector('[data-testid=conversation-list]').offsetParent !== null;";
    assert_eq!(bob.js(list_shown, vec![]).await, false, "on a phone the open conversation hides the list");
    bob.see_unread("alice", 0).await;
    bob.see_title("Chat").await;
    step(t, "first message delivered and read");

    // Alice opens the conversation from her list; typing shows on the other side.
    alice.click("tab-chats").await;
    alice.click_where(&by_testid("conversation-item"), "bob").await;
    bob.fill("message-input", "hi ali").await;
    alice.see_text("typing-indicator", "bob is typing…").await;
    // Both directions, live, without reloading.
    bob.fill("message-input", "hi alice").await;
    bob.click("send-button").await;
    alice.see_message("hi alice").await;
    alice.see_text("typing-indicator", "").await;
    send(alice, "are you there?").await;
    bob.see_message("are you there?").await;
    assert_eq!(bob.js("return window.sameDocument === true;", vec![]).await, true, "Bob's page was not reloaded");

    step(t, "typing and both directions");

    // The server drops Bob's socket (as an idle timeout or a network change would): the page
    // shows it and connects again by itself.
    let since = bob.js("return document.querySelector('[data-testid=connection-state]').dataset.since;", vec![]).await;
    drop_connections(up, claims(&bob.tokens().await)["sub"].as_str().unwrap()).await;
    bob.until(
        "the socket to connect again",
        "const e = document.querySelector('[data-testid=connection-state]'); return e.dataset.state === 'connected' && e.dataset.since !== arguments[0];",
        vec![since],
    )
    .await;
    step(t, "reconnected");
    // Bob goes back to his list and on to another view: a new message counts as unread there,
    // opening the conversation clears it.
    bob.click("back").await;
    bob.click("tab-people").await;
    bob.see("user-list").await;
    send(alice, "ping").await;
    bob.see_text("unread-total", "1").await;
    bob.see_title("(1) Chat").await;
    bob.click("tab-chats").await;
    bob.see_unread("alice", 1).await;
    bob.click_where(&by_testid("conversation-item"), "alice").await;
    bob.see_message("ping").await;
    bob.see_unread("alice", 0).await;
    bob.see_title("Chat").await;
    alice.see_unread("bob", 0).await;

    step(t, "unread on another view");
    // Twenty more through the HTTP API with Alice's token (quicker than typing), then Alice
    // reloads: still logged in, the conversation reopens with the newest page, and scrolling up
    // loads the older ones, all in order.
    let tokens = alice.tokens().await;
    let id_token = tokens["idToken"].as_str().expect("Alice's ID token in sessionStorage").to_string();
    let http_api =
        alice.js("return fetch('config.json').then(r => r.json()).then(c => c.outputs.HttpApiUrl);", vec![]).await;
    let conversation = alice
        .js("return new URLSearchParams(location.hash.slice(1)).get('c');", vec![])
        .await
        .as_str()
        .expect("the open conversation in the URL")
        .to_string();
    let http = reqwest::Client::new();
    let mut expected: Vec<String> = ["hello bob", "hi alice", "are you there?", "ping"].map(String::from).to_vec();
    for i in 1..=20 {
        let text = format!("bulk {i:02}");
        let r = http
            .post(format!("{}/conversations/{conversation}/messages", http_api.as_str().unwrap()))
            .bearer_auth(&id_token)
            .json(&json!({ "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        expected.push(text);
    }
    step(t, "twenty sent");
    bob.see_message("bulk 20").await;
    alice.see_message("bulk 20").await;
    step(t, "twenty delivered");
    // Her access token is also about to expire, so the page refreshes it first
    // (REFRESH_TOKEN_AUTH), keeping the refresh token.
    alice
        .js(
            "const t = JSON.parse(sessionStorage.getItem('chat.tokens')); t.expiresAt = Date.now() + 30000; \
             sessionStorage.setItem('chat.tokens', JSON.stringify(t));",
            vec![],
        )
        .await;
    alice.client.refresh().await.unwrap();
    alice.see_text("me", "alice").await;
    let refreshed = alice.tokens().await;
    assert_ne!(refreshed["accessToken"], tokens["accessToken"], "a new access token");
    assert_eq!(refreshed["refreshToken"], tokens["refreshToken"]);
    assert!(refreshed["expiresAt"].as_f64().unwrap() > tokens["expiresAt"].as_f64().unwrap());
    alice.see_message("bulk 20").await;
    let first_page = alice.messages().await;
    assert!(
        first_page.len() < expected.len() && first_page.len() >= 20,
        "one page of history first, not all {}: {first_page:?}",
        expected.len()
    );
    assert_eq!(first_page[..], expected[expected.len() - first_page.len()..], "the newest page, oldest first");
    let at_bottom = alice
        .js("const l = document.querySelector('[data-testid=message-list]'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5;", vec![])
        .await;
    assert_eq!(at_bottom, true, "the newest message is in view");
    alice.js("document.querySelector('[data-testid=message-list]').scrollTop = 0;", vec![]).await;
    alice
        .until(
            "older messages to load",
            "return document.querySelectorAll('[data-testid=message-list] [data-testid=message]').length === arguments[0];",
            vec![expected.len().into()],
        )
        .await;
    assert_eq!(alice.messages().await, expected, "the whole history, in order");

    step(t, "reload and history");
    // A file: Alice attaches it, Bob sees it live and downloads it decrypted.
    let file = downloads.join("upload").join("notes.txt");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let content = "sealed for each reader ✓\n".repeat(100);
    std::fs::write(&file, &content).unwrap();
    let input = alice.client.find(Locator::Css(&by_testid("attach-input"))).await.unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    alice.see_message("notes.txt").await;
    bob.see_message("notes.txt").await;
    bob.click_where(&by_testid("attachment"), "notes.txt").await;
    let downloaded = downloads.join("notes.txt");
    let deadline = Instant::now() + WAIT;
    while std::fs::read_to_string(&downloaded).ok().as_deref() != Some(content.as_str()) {
        assert!(Instant::now() < deadline, "the attachment was not downloaded intact to {}", downloaded.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    step(t, "attachment");

    // Rooms: Alice creates one, Bob finds it, joins and writes; Alice reads it live, with
    // Bob's name. Bob leaves and the room is offered to join again.
    alice.click("tab-rooms").await;
    alice.fill("room-name", "general").await;
    alice.click("room-create").await;
    alice.see_text("conversation-title", "# general").await;
    bob.click("back").await;
    bob.click("tab-rooms").await;
    bob.click_where(&by_testid("room-join"), "Join").await;
    bob.see_text("conversation-title", "# general").await;
    send(bob, "hello room").await;
    alice.see_message("hello room").await;
    let sender = alice
        .js("return [...document.querySelectorAll('[data-testid=message]')].find(e => e.textContent.includes('hello room')).querySelector('.sender').textContent;", vec![])
        .await;
    assert_eq!(sender, "bob");
    let first = "return document.querySelector('[data-testid=conversation-item] .title').textContent;";
    assert_eq!(alice.js(first, vec![]).await, "# general", "the most recently active conversation first");
    bob.click("room-leave").await;
    bob.click("tab-rooms").await;
    bob.until(
        "the room to be offered again",
        "return !!document.querySelector('[data-testid=room-item] [data-testid=room-join]');",
        vec![],
    )
    .await;
    step(t, "rooms");
    // Logging out ends the session: the login form, no tokens kept, the socket closed, and the
    // refresh token no longer works.
    let refresh = bob.tokens().await["refreshToken"].as_str().unwrap().to_string();
    bob.click("logout").await;
    bob.see("login-username").await;
    assert_eq!(bob.tokens().await, Value::Null);
    bob.until(
        "the socket to close",
        "return document.querySelector('[data-testid=connection-state]').dataset.state === 'offline';",
        vec![],
    )
    .await;
    let client_id = claims(&tokens)["client_id"].as_str().unwrap().to_string();
    let r = http
        .post(url)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .body(
            json!({ "ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": { "REFRESH_TOKEN": refresh } })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a signed-out refresh token is refused");
    assert_eq!(alice.title().await, "Chat");
    step(t, "logged out");

    // Logging in again: a wrong password gets Cognito's answer; the right one brings the
    // conversations and their history back.
    bob.fill("login-username", "bob").await;
    bob.fill("login-password", "Wrong-Horse-9").await;
    bob.click("login-submit").await;
    bob.see_text("error", "Incorrect username or password.").await;
    bob.fill("login-password", PASSWORD).await;
    bob.click("login-submit").await;
    bob.see_text("me", "bob").await;
    bob.click_where(&by_testid("conversation-item"), "alice").await;
    bob.see_message("notes.txt").await;
    step(t, "logged in again");
}

/// The claims of the access token in a page's tokens.
fn claims(tokens: &Value) -> Value {
    use base64::Engine as _;
    let payload = tokens["accessToken"].as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Closes every WebSocket connection of a user through API Gateway's `@connections` API.
async fn drop_connections(up: &Up, sub: &str) {
    let config = testkit::sdk_config(up.handle.url());
    let rows = common::connection_items(up, sub).await;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.get("connectionId")?.as_s().ok().cloned()).collect();
    assert!(!ids.is_empty(), "the user has a live connection");
    let management = aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(&config).endpoint_url(up.handle.url()).build(),
    );
    for id in ids {
        management.delete_connection().connection_id(id).send().await.unwrap();
    }
}

/// The emulator's console lists both people and the mail they were sent.
async fn console(url: &str, page: &Page) {
    let rows = "const v = document.querySelector(arguments[0]); if (!v) return false; \
                const rows = [...v.querySelectorAll('[data-testid=row]')].map(r => r.textContent); \
                return arguments[1].every(t => rows.some(r => r.includes(t))) && rows;";
    page.goto(&format!("{url}/_emulator/ui#/users")).await;
    page.until("the console's users", rows, vec![by_testid("view-users").into(), json!(["alice", "bob"])]).await;
    page.goto(&format!("{url}/_emulator/ui#/mailbox")).await;
    page.until(
        "the console's mailbox",
        rows,
        vec![by_testid("view-mailbox").into(), json!(["alice@example.com", "bob@example.com"])],
    )
    .await;
}

// ---- SRP in the page against the Rust client ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_srp_signs_as_the_rust_client_does() {
    use base64::Engine as _;
    let Some(driver) = Driver::start().await else { return };
    let emulator = emulator::Emulator::builder().in_memory().port(0).start().await.unwrap();
    serve_web_client(
        emulator.state(),
        json!({ "region": "us-east-1", "cognitoEndpoint": emulator.url(), "outputs": {
            "HttpApiUrl": "http://127.0.0.1:9", "WebSocketUrl": "ws://127.0.0.1:9",
            "UserPoolId": "us-east-1_Test", "UserPoolClientId": "test" } }),
    );
    let page = driver.session("srp", Screen::Desktop(800, 600), &std::env::temp_dir()).await;
    let check = async {
        page.goto(&format!("{}/_app/", emulator.url())).await;
        let sign = r#"
            const [aHex, params, done] = arguments;
            import('./srp.js')
                .then(m => m.signatureFromSecretHex(aHex, params))
                .then(done, e => done('error: ' + e));"#;
        let cases = [
            // secret, salt (leading zero nibble), B, pool, user, password, timestamp
            (
                [7u8; 32],
                "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "8b1d3a",
                "AbCdEf",
                "alice",
                PASSWORD,
                "Tue Dec 2 09:05:07 UTC 2026",
            ),
            (
                [0xa5; 32],
                "ab12",
                "5f3e1c7b9d8a6f4e2d1c0b9a8f7e6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a3928",
                "Zz9",
                "3b1e-uuid-like",
                "pässwörd ✓",
                "Sun Jan 11 23:59:59 UTC 2026",
            ),
        ];
        for (secret, salt, b, pool, user, password, ts) in cases {
            let block = [3u8, 1, 4, 1, 5, 9, 2, 6];
            let rust = testkit::srp::Client::new(&secret).signature(pool, user, password, (salt, b, &block), ts);
            let params = json!({
                "poolName": pool, "userId": user, "password": password, "saltHex": salt, "bHex": b,
                "secretBlock": base64::engine::general_purpose::STANDARD.encode(block), "timestamp": ts,
            });
            let a_hex: String = secret.iter().map(|x| format!("{x:02x}")).collect();
            let js = page.client.execute_async(sign, vec![a_hex.into(), params]).await.unwrap();
            assert_eq!(js, base64::engine::general_purpose::STANDARD.encode(rust), "pool {pool}, user {user}");
        }
        let ts = page
            .js_async(
                "const done = arguments[0]; import('./srp.js').then(m => done(m.cognitoTimestamp(new Date(Date.UTC(2026, 11, 2, 9, 5, 7)))));",
            )
            .await;
        assert_eq!(ts, "Wed Dec 2 09:05:07 UTC 2026", "Cognito's TIMESTAMP: day of month not padded");
    };
    with_artifacts("srp", &[&page], check).await;
    let _ = page.client.close().await;
    emulator.shutdown().await;
}

impl Page {
    async fn js_async(&self, script: &str) -> Value {
        self.client.execute_async(script, vec![]).await.unwrap_or_else(|e| panic!("{}: script failed: {e}", self.name))
    }
}
