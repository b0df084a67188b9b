//! Chat end to end (emulator only): the backend's real functions under `emulator up`, many
//! WebSocket clients, send → deliver latency, room fan-out, memory per connection.
//!
//! Everything goes the way a deployed client goes, so the numbers include every hop a message
//! takes: users sign up (Cognito SignUp, the mailed code, ConfirmSignUp, whose PostConfirmation
//! trigger runs the `onboard` function that creates the profile and the user's KMS key) and log
//! in with `USER_PASSWORD_AUTH`; each connects to the WebSocket API with its access token
//! (`$connect` runs `ws_connect`); a message is a `POST` to the HTTP API (JWT authorizer, the
//! `api` function sealing one copy per reader), and reaches the recipient when the table's stream
//! has run `stream_processor`, which pushes the notice through `@connections`.
//!
//! - The stack is started with the same [`Launcher`] as every other target (free port, fresh
//!   state directory, own process group, health probe, `killpg` at the end), running `emulator
//!   up` instead of `serve`. The banner's last line says provisioning is over, and its outputs
//!   section carries the template's outputs (API URLs as they answer here, pool and client ids):
//!   the same values a deployment hands its client.
//! - Sending is open loop: a message leaves every `1 / rate` seconds whatever the earlier ones
//!   are doing, so a slow path shows up as latency and loss rather than as a lower rate. The
//!   notice may reach the recipient before the `POST` returns, so sockets record every notice by
//!   message id as it arrives and the sends are matched to them afterwards.
//! - Memory per connection is the emulator process's own RSS growth (read from `/proc` as its
//!   tree minus the trees of its children), not that of the function processes it starts: those
//!   are what Lambda would run elsewhere, and their number follows the invocations' concurrency,
//!   not the connections. Their total is reported beside it.
//! - Every phase has a deadline and every request a timeout; the emulator and its functions are
//!   stopped whatever happened.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail, ensure};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::Engine as _;
use futures_util::{StreamExt, stream};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::load::histogram;
use crate::report::Row;
use crate::targets::{Launcher, Server};

/// What the chat benchmark runs against and how hard.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The emulator binary (`emulator up` is run from it).
    pub emulator_bin: PathBuf,
    /// Where the backend's release binaries are (`api`, `ws_connect`, …): `--functions-dir`.
    pub functions_dir: PathBuf,
    /// `backend/template.yaml`.
    pub template: PathBuf,
    /// WebSocket clients connected at once.
    pub clients: usize,
    /// Members of the room a message is fanned out to.
    pub room_members: usize,
    /// One-to-one messages sent per second while all clients are connected.
    pub rate_per_s: f64,
    /// For how long messages are sent.
    pub seconds: f64,
}

/// The chat benchmark's results.
#[derive(Debug, Clone)]
pub struct ChatReport {
    /// The report's markdown section.
    pub markdown: String,
    /// CSV rows (section `chat`).
    pub rows: Vec<Row>,
}

/// The password every benchmark user signs up with (the template's policy wants upper, lower
/// and digits).
const PASSWORD: &str = "Bench-Passw0rd";
/// Users signed up at once: each costs two argon2 hashes and an `onboard` run in the emulator.
const SIGN_UP_CONCURRENCY: usize = 16;
/// WebSocket handshakes at once (each runs `ws_connect`).
const CONNECT_CONCURRENCY: usize = 32;
/// Room joins at once.
const JOIN_CONCURRENCY: usize = 16;
/// A message not on the recipient's socket this long after its `POST` began is lost.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the room's members are waited for.
const FAN_OUT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the backlog of the one-to-one phase may take to clear before the room's turn.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Any one HTTP request, SDK call or handshake.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before reading memory, for the last connections' work to finish.
const SETTLE: Duration = Duration::from_millis(500);
/// Unmeasured sending before the measured window, at the same rate.
const WARM_UP_SECONDS: f64 = 1.0;
/// Spawn → health, then health → the banner's last line.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const PROVISION_TIMEOUT: Duration = Duration::from_secs(180);

pub async fn run(options: &ChatOptions) -> anyhow::Result<ChatReport> {
    ensure!(options.clients >= 2, "the chat benchmark needs at least 2 clients");
    ensure!(options.rate_per_s > 0.0 && options.seconds > 0.0, "--chat-rate and --chat-seconds must be positive");
    raise_open_files(options.clients)?;
    for (what, path) in [("emulator binary", &options.emulator_bin), ("template", &options.template)] {
        ensure!(path.is_file(), "no {what} at {}", path.display());
    }
    ensure!(options.functions_dir.is_dir(), "no functions directory at {}", options.functions_dir.display());
    // The template caps rooms (100 members by default); the stack is deployed with a cap that
    // admits the room this run asks for, as a deployment wanting such rooms would be.
    let parameters = [format!("MaxRoomMembers={}", options.room_members.max(2))];
    let launcher =
        Launcher::emulator_up(&options.emulator_bin, &options.template, &options.functions_dir, &parameters)?;
    let server = launcher.start(START_TIMEOUT).await?;
    let mut sockets = JoinSet::new();
    let measured = measure(&server, options, &mut sockets).await;
    server.stop().await;
    sockets.abort_all();
    Ok(measured?.report(options))
}

/// Runs every phase against a started stack.
async fn measure(server: &Server, options: &ChatOptions, sockets: &mut JoinSet<()>) -> anyhow::Result<Measured> {
    let pid = server.pid().context("the emulator has no process id")?;
    let chat = Arc::new(wait_until_up(server, pid).await?);
    eprintln!("   stack up: HTTP API {}, WebSocket API {}", chat.http_api, chat.ws);

    let (users, setup) = sign_up_all(&chat, options.clients).await?;
    eprintln!("   {} users signed up, confirmed and logged in in {:.1} s", users.len(), setup.seconds);

    let inbox = Arc::new(Inbox::default());
    // In two halves: the second half's growth is free of whatever the first connections
    // started once (function instances, caches).
    let half = users.len() / 2;
    let before = Memory::read(pid);
    let mut connect = connect_all(&chat, &users[..half], 0, &inbox, sockets).await?;
    tokio::time::sleep(SETTLE).await;
    let middle = Memory::read(pid);
    connect.add(connect_all(&chat, &users[half..], half, &inbox, sockets).await?);
    tokio::time::sleep(SETTLE).await;
    let after = Memory::read(pid);
    eprintln!("   {} WebSocket connections in {:.1} s", users.len(), connect.seconds);

    // Unmeasured, at the same rate: the functions on the path get their instances started.
    let warm_up = options.seconds.min(WARM_UP_SECONDS);
    send_direct(&chat, &users, &inbox, options.rate_per_s, warm_up).await?;
    let since_request = chat.admin("console/requests?limit=1").await["requests"][0]["seq"].as_u64().unwrap_or(0);
    let direct = send_direct(&chat, &users, &inbox, options.rate_per_s, options.seconds).await?;
    eprintln!(
        "   send → deliver: {} sent, {} delivered, p50 {:.1} ms, p99 {:.1} ms",
        direct.sent,
        direct.latency_us.len(),
        ms(direct.latency_us.value_at_quantile(0.5)),
        ms(direct.latency_us.value_at_quantile(0.99))
    );
    let path = Breakdown::read(&chat, since_request, &direct.timelines).await;

    let backlog = drain(&chat, &users, &inbox).await;
    let room = fan_out(&chat, &users, &inbox, options.room_members).await?;
    eprintln!(
        "   room fan-out: {} of {} members reached, last after {:.1} ms",
        room.latency_us.len(),
        room.readers,
        ms(room.latency_us.max())
    );
    Ok(Measured {
        clients: users.len(),
        setup,
        connect,
        memory: [before, middle, after],
        dropped: inbox.dropped.load(Ordering::Relaxed),
        direct,
        path,
        backlog,
        room,
    })
}

/// Sends one more message and waits for it, so that the room's message does not queue behind
/// what an overloaded one-to-one phase left in the functions' queues and the stream. `None`
/// when it was not delivered within [`DRAIN_TIMEOUT`].
async fn drain(chat: &Chat, users: &[User], inbox: &Inbox) -> Option<Duration> {
    let started = Instant::now();
    let path = format!("/users/{}/messages", users[1].sub);
    let sent = chat.post(&users[0].id, &path, json!({ "text": "last" })).await.ok()?;
    let id = sent["messageId"].as_str()?.to_string();
    inbox.wait_for(&[(id.clone(), 1)], started + DRAIN_TIMEOUT).await;
    inbox.arrival(&id, 1).map(|at| at - started)
}

// ---- the stack -------------------------------------------------------------------------------

/// Waits for the banner's `ready in` line and reads the stack's outputs from it.
async fn wait_until_up(server: &Server, pid: u32) -> anyhow::Result<Chat> {
    let began = Instant::now();
    let log_tail = || format!("emulator log (last lines):\n{}", server.log_tail(15));
    loop {
        let banner = server.stdout();
        if banner.lines().any(|l| l.starts_with("ready in ")) {
            return Chat::from_banner(&banner, &server.url).map_err(|e| anyhow!("{e:#}\nbanner:\n{banner}"));
        }
        if !alive(pid) {
            bail!("`emulator up` exited before the stack was up\n{}", log_tail());
        }
        if began.elapsed() > PROVISION_TIMEOUT {
            bail!("`emulator up` did not finish provisioning within {PROVISION_TIMEOUT:?}\n{}", log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// Where the running chat answers.
struct Chat {
    endpoint: String,
    http_api: String,
    ws: String,
    client_id: String,
    http: reqwest::Client,
    idp: aws_sdk_cognitoidentityprovider::Client,
}

impl Chat {
    /// From the banner's outputs section: `  Name = value` lines.
    fn from_banner(banner: &str, endpoint: &str) -> anyhow::Result<Chat> {
        let outputs: HashMap<&str, &str> = banner
            .lines()
            .skip_while(|l| !l.starts_with("outputs"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.trim().split_once(" = "))
            .collect();
        let output = |name: &str| {
            outputs.get(name).map(|v| v.to_string()).with_context(|| format!("the stack has no output {name}"))
        };
        let http_api = output("HttpApiUrl")?;
        let ws = output("WebSocketUrl")?;
        ensure!(
            http_api.starts_with(endpoint) && ws.starts_with("ws://"),
            "the outputs do not point at this emulator ({endpoint}): {http_api}, {ws}"
        );
        Ok(Chat {
            endpoint: endpoint.to_string(),
            http_api,
            ws,
            client_id: output("UserPoolClientId")?,
            http: reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?,
            idp: aws_sdk_cognitoidentityprovider::Client::new(&testkit::sdk_config(endpoint)),
        })
    }

    /// A `GET` of the emulator's admin API (`/_emulator/…`); `null` when it does not answer.
    async fn admin(&self, path: &str) -> Value {
        let url = format!("{}/_emulator/{path}", self.endpoint);
        match self.http.get(url).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// A `POST` to the HTTP API with the caller's ID token; the JSON answer of a 2xx.
    async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        match self.post_answer(token, path, body).await? {
            (status, answer) if status.is_success() => Ok(answer),
            (status, answer) => bail!("POST {path}: {status} {answer}"),
        }
    }

    /// A `POST` to the HTTP API: status and JSON body, whatever the status.
    async fn post_answer(&self, token: &str, path: &str, body: Value) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let r = self.http.post(format!("{}{path}", self.http_api)).bearer_auth(token).json(&body).send().await?;
        let status = r.status();
        let text = r.text().await?;
        let answer = serde_json::from_str(&text).with_context(|| format!("POST {path}: {status}, not JSON: {text}"))?;
        Ok((status, answer))
    }
}

/// Raises the soft open-file limit (inherited by the emulator) so that every client's socket,
/// on both ends, fits.
fn raise_open_files(clients: usize) -> anyhow::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let want = clients as u64 + 1024;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= want {
        return Ok(());
    }
    ensure!(hard >= want, "{clients} clients need {want} open files; the hard limit is {hard}");
    setrlimit(Resource::RLIMIT_NOFILE, want, hard).context("raising RLIMIT_NOFILE")?;
    Ok(())
}

/// Runs `work` with a deadline; the error names the phase.
async fn within<T>(what: &str, limit: Duration, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(limit, work).await.map_err(|_| anyhow!("{what} did not finish within {limit:?}"))?
}

// ---- users -----------------------------------------------------------------------------------

struct User {
    sub: String,
    access: String,
    id: String,
}

/// How long a phase took, with each item's own time.
struct Phase {
    seconds: f64,
    each_us: Histogram<u64>,
    concurrency: usize,
}

impl Phase {
    fn add(&mut self, other: Phase) {
        self.seconds += other.seconds;
        self.each_us.add(&other.each_us).expect("histograms share bounds");
    }
}

async fn sign_up_all(chat: &Arc<Chat>, n: usize) -> anyhow::Result<(Vec<User>, Phase)> {
    let began = Instant::now();
    let done = AtomicUsize::new(0);
    let limit = Duration::from_secs(60) + Duration::from_millis(300) * n as u32;
    let work = async {
        let mut users: Vec<(usize, User, Duration)> = stream::iter(0..n)
            .map(|i| {
                let (chat, done) = (chat.clone(), &done);
                async move {
                    let t = Instant::now();
                    let user = tokio::time::timeout(REQUEST_TIMEOUT * 2, sign_up(&chat, i))
                        .await
                        .map_err(|_| anyhow!("user {i}: no answer within {:?}", REQUEST_TIMEOUT * 2))??;
                    done.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, anyhow::Error>((i, user, t.elapsed()))
                }
            })
            .buffer_unordered(SIGN_UP_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        users.sort_by_key(|(i, _, _)| *i);
        Ok(users)
    };
    let users = within(&format!("signing up {n} users"), limit, work)
        .await
        .map_err(|e| anyhow!("{e:#} ({} done)", done.load(Ordering::Relaxed)))?;
    let mut each_us = histogram();
    for (_, _, took) in &users {
        each_us.saturating_record(took.as_micros().max(1) as u64);
    }
    let phase = Phase { seconds: began.elapsed().as_secs_f64(), each_us, concurrency: SIGN_UP_CONCURRENCY };
    Ok((users.into_iter().map(|(_, u, _)| u).collect(), phase))
}

/// SignUp, the mailed code, ConfirmSignUp (PostConfirmation onboards), then a password login.
async fn sign_up(chat: &Chat, i: usize) -> anyhow::Result<User> {
    let name = format!("user{i:05}");
    let email = format!("{name}@bench.example.com");
    testkit::sign_up(&chat.endpoint, &chat.client_id, &name, &email, PASSWORD)
        .await
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let auth = chat
        .idp
        .initiate_auth()
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .client_id(&chat.client_id)
        .auth_parameters("USERNAME", &name)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(|e| anyhow!("{name}: InitiateAuth: {e:?}"))?;
    let tokens = auth.authentication_result.with_context(|| format!("{name}: InitiateAuth gave no tokens"))?;
    let id = tokens.id_token.with_context(|| format!("{name}: no ID token"))?;
    let access = tokens.access_token.with_context(|| format!("{name}: no access token"))?;
    Ok(User { sub: claim(&id, "sub").with_context(|| format!("{name}: no sub in the ID token"))?, access, id })
}

/// A string claim of a JWT (unverified: the emulator issued it to us a moment ago).
fn claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims[name].as_str().map(str::to_string)
}

// ---- sockets ---------------------------------------------------------------------------------

/// Every `message` notice any socket received: (message id, reader) → when.
#[derive(Default)]
struct Inbox {
    arrivals: Mutex<HashMap<(String, usize), Instant>>,
    /// Sockets the emulator closed or lost during the run.
    dropped: AtomicUsize,
}

impl Inbox {
    fn record(&self, message_id: &str, reader: usize, at: Instant) {
        self.arrivals.lock().expect("inbox lock").entry((message_id.to_string(), reader)).or_insert(at);
    }

    fn arrival(&self, message_id: &str, reader: usize) -> Option<Instant> {
        self.arrivals.lock().expect("inbox lock").get(&(message_id.to_string(), reader)).copied()
    }

    /// Waits until `reader` has `message_id` for every pair, or `deadline`.
    async fn wait_for(&self, expected: &[(String, usize)], deadline: Instant) {
        loop {
            let missing = {
                let arrivals = self.arrivals.lock().expect("inbox lock");
                expected.iter().any(|(id, r)| !arrivals.contains_key(&(id.clone(), *r)))
            };
            if !missing || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Connects `users`, the first being reader `first`, and listens on each socket.
async fn connect_all(
    chat: &Arc<Chat>,
    users: &[User],
    first: usize,
    inbox: &Arc<Inbox>,
    sockets: &mut JoinSet<()>,
) -> anyhow::Result<Phase> {
    let began = Instant::now();
    let n = users.len();
    let limit = Duration::from_secs(30) + Duration::from_millis(30) * n as u32;
    let work = async {
        stream::iter(users.iter().enumerate())
            .map(|(i, user)| {
                let i = first + i;
                let url = format!("{}?token={}", chat.ws, user.access);
                async move {
                    let t = Instant::now();
                    let (ws, _) = tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::connect_async(url))
                        .await
                        .map_err(|_| anyhow!("client {i}: no handshake within {REQUEST_TIMEOUT:?}"))?
                        .with_context(|| format!("client {i}: WebSocket handshake"))?;
                    Ok::<_, anyhow::Error>((i, ws, t.elapsed()))
                }
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let connected = within(&format!("connecting {n} WebSocket clients"), limit, work).await?;
    let mut each_us = histogram();
    for (reader, ws, took) in connected {
        each_us.saturating_record(took.as_micros().max(1) as u64);
        sockets.spawn(listen(reader, ws, inbox.clone()));
    }
    Ok(Phase { seconds: began.elapsed().as_secs_f64(), each_us, concurrency: CONNECT_CONCURRENCY })
}

/// Records every `{"type": "message"}` notice the socket gets, as it arrives.
async fn listen<S>(reader: usize, mut ws: S, inbox: Arc<Inbox>)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(frame)) = ws.next().await {
        let at = Instant::now();
        let Message::Text(text) = frame else { continue };
        let Ok(notice) = serde_json::from_str::<Value>(text.as_str()) else { continue };
        if notice["type"] == "message"
            && let Some(id) = notice["messageId"].as_str()
        {
            inbox.record(id, reader, at);
        }
    }
    inbox.dropped.fetch_add(1, Ordering::Relaxed);
}

// ---- one-to-one ------------------------------------------------------------------------------

/// One `POST /users/{userId}/messages`.
struct Send {
    to: usize,
    started: Instant,
    answered: Instant,
    /// The message id and the `sentAt` (epoch ms) the `api` function stamped, or why not.
    outcome: anyhow::Result<(String, i64)>,
}

/// An accepted message's way, in epoch ms: the bench and the emulator read the same wall clock.
struct Timeline {
    id: String,
    post: f64,
    sent_at: f64,
    answered: f64,
    notice: Option<f64>,
}

struct Direct {
    sent: usize,
    failed: usize,
    first_error: Option<String>,
    lost: usize,
    latency_us: Histogram<u64>,
    /// POST → 201.
    post_us: Histogram<u64>,
    timelines: Vec<Timeline>,
    seconds: f64,
    rate: f64,
}

/// `rate × seconds` messages between random pairs, one every `1 / rate` s, then waits for them.
async fn send_direct(
    chat: &Arc<Chat>,
    users: &[User],
    inbox: &Arc<Inbox>,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Direct> {
    let n = ((rate * seconds).round() as usize).max(1);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
    let clock = WallClock::now();
    let began = Instant::now();
    let mut posts = JoinSet::new();
    for k in 0..n {
        tokio::time::sleep_until((began + interval * k as u32).into()).await;
        let from = rng.gen_range(0..users.len());
        let to = (from + rng.gen_range(1..users.len())) % users.len();
        let (chat, token, path) = (chat.clone(), users[from].id.clone(), format!("/users/{}/messages", users[to].sub));
        posts.spawn(async move {
            let started = Instant::now();
            let outcome = chat.post(&token, &path, json!({ "text": format!("message {k}") })).await.and_then(|sent| {
                let id = sent["messageId"].as_str().context("no messageId in the answer")?.to_string();
                Ok((id, sent["sentAt"].as_i64().unwrap_or_default()))
            });
            Send { to, started, answered: Instant::now(), outcome }
        });
    }
    let sends: Vec<Send> =
        within("the one-to-one POSTs", REQUEST_TIMEOUT + Duration::from_secs(5), async { Ok(posts.join_all().await) })
            .await?;
    let expected: Vec<(String, usize)> =
        sends.iter().filter_map(|s| s.outcome.as_ref().ok().map(|(id, _)| (id.clone(), s.to))).collect();
    let deadline = sends.iter().map(|s| s.started).max().unwrap_or(began) + DELIVERY_TIMEOUT;
    inbox.wait_for(&expected, deadline).await;

    let mut d = Direct {
        sent: n,
        failed: 0,
        first_error: None,
        lost: 0,
        latency_us: histogram(),
        post_us: histogram(),
        timelines: Vec::new(),
        seconds,
        rate,
    };
    for s in &sends {
        let (id, sent_at) = match &s.outcome {
            Ok(ok) => ok,
            Err(e) => {
                d.failed += 1;
                d.first_error.get_or_insert_with(|| format!("{e:#}"));
                continue;
            }
        };
        d.post_us.saturating_record(micros(s.answered - s.started));
        let arrival = inbox.arrival(id, s.to).filter(|at| at.saturating_duration_since(s.started) <= DELIVERY_TIMEOUT);
        match arrival {
            Some(at) => d.latency_us.saturating_record(micros(at.saturating_duration_since(s.started))),
            None => d.lost += 1,
        }
        d.timelines.push(Timeline {
            id: id.clone(),
            post: clock.epoch_ms(s.started),
            sent_at: *sent_at as f64,
            answered: clock.epoch_ms(s.answered),
            notice: arrival.map(|at| clock.epoch_ms(at)),
        });
    }
    Ok(d)
}

/// Maps `Instant`s to wall-clock epoch milliseconds, to compare with the emulator's timestamps.
struct WallClock {
    instant: Instant,
    epoch_ms: f64,
}

impl WallClock {
    fn now() -> WallClock {
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
        WallClock { instant: Instant::now(), epoch_ms }
    }

    fn epoch_ms(&self, at: Instant) -> f64 {
        let since =
            if at >= self.instant { (at - self.instant).as_secs_f64() } else { -(self.instant - at).as_secs_f64() };
        self.epoch_ms + since * 1000.0
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().max(1) as u64
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn median(v: Vec<f64>) -> Option<f64> {
    quantile(&v, 0.5)
}

fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let last = v.len().checked_sub(1)?;
    v.get((last as f64 * q).round() as usize).copied()
}

/// Where the time of send → deliver goes, from the bench's timestamps, the `sentAt` the `api`
/// function stamps, and what the emulator recorded: the `stream_processor` log (Lambda's START
/// line of each invocation, the function's `delivered message=…` line), the invocations of the
/// functions on the path and the server-side latency of each request.
#[derive(Default)]
struct Breakdown {
    /// (segment, median ms, messages it was measured on).
    segments: Vec<(&'static str, Option<f64>, Option<f64>, usize)>,
    /// Messages per `stream_processor` invocation, median.
    batch: Option<f64>,
    /// Share of the sending window `stream_processor` spent in invocations (it runs one at a time).
    stream_busy: Option<f64>,
    /// (function and trigger, median ms, count) over the functions' last invocations.
    functions: Vec<(String, f64, usize)>,
    /// (service and operation, median server-side ms, count) over the requests of the phase.
    requests: Vec<(String, f64, usize)>,
}

impl Breakdown {
    async fn read(chat: &Chat, since_request: u64, timelines: &[Timeline]) -> Breakdown {
        let mut b = Breakdown::default();
        let functions = chat.admin("console/functions?invocations=100&logs=0").await;
        let functions = functions["functions"].as_array().cloned().unwrap_or_default();
        for f in &functions {
            let name = short_function_name(f["name"].as_str().unwrap_or_default());
            let mut by_trigger: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for i in f["invocations"].as_array().into_iter().flatten() {
                let trigger = i["trigger"].as_str().unwrap_or_default();
                if trigger == "DynamoDB stream" || trigger.starts_with("HTTP API POST /users/") {
                    by_trigger.entry(trigger.to_string()).or_default().extend(i["durationMs"].as_f64());
                }
            }
            for (trigger, durations) in by_trigger {
                let count = durations.len();
                b.functions.extend(median(durations).map(|m| (format!("{name} ({trigger})"), m, count)));
            }
        }

        let requests = chat.admin(&format!("console/requests?since={since_request}&limit=500")).await;
        let mut by_op: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in requests["requests"].as_array().into_iter().flatten() {
            let op = match (r["service"].as_str(), r["operation"].as_str()) {
                (Some(s), Some(o)) => format!("{s} {o}"),
                _ => format!("{} {}", r["method"].as_str().unwrap_or_default(), r["path"].as_str().unwrap_or_default()),
            };
            by_op.entry(op).or_default().extend(r["latencyMs"].as_f64());
        }
        b.requests = by_op
            .into_iter()
            .filter_map(|(op, l)| {
                let n = l.len();
                median(l).map(|m| (op, m, n))
            })
            .collect();
        b.requests.sort_by_key(|r| std::cmp::Reverse(r.2));

        // When each stream_processor invocation started, and when it had pushed each message.
        let mut starts: HashMap<String, f64> = HashMap::new();
        let mut durations: HashMap<String, f64> = HashMap::new();
        let mut delivered: HashMap<String, (String, f64)> = HashMap::new();
        let stream_function =
            functions.iter().filter_map(|f| f["name"].as_str()).find(|n| n.contains("StreamProcessor"));
        if let Some(name) = stream_function {
            let logs = chat.admin(&format!("logs?function={name}&limit=20000")).await;
            for line in logs["lines"].as_array().into_iter().flatten() {
                let (Some(text), Some(at)) = (line["message"].as_str(), line["timestamp"].as_f64()) else { continue };
                let request = line["requestId"].as_str().unwrap_or_default().to_string();
                if text.starts_with("START RequestId:") {
                    starts.insert(request, at);
                } else if let Some(ms) = report_duration(text) {
                    durations.insert(request, ms);
                } else if let Some(id) = delivered_id(text) {
                    delivered.insert(id.to_string(), (request, at));
                }
            }
        }
        let mut per_batch: HashMap<&str, usize> = HashMap::new();
        let mut segments: [Vec<f64>; 5] = Default::default();
        for t in timelines {
            segments[0].push(t.sent_at - t.post);
            segments[1].push(t.answered - t.sent_at);
            let Some((request, pushed)) = delivered.get(&t.id) else { continue };
            *per_batch.entry(request).or_default() += 1;
            if let Some(start) = starts.get(request) {
                segments[2].push(start - t.sent_at);
                segments[3].push(pushed - start);
            }
            segments[4].extend(t.notice.map(|n| n - pushed));
        }
        b.batch = median(per_batch.values().map(|&n| n as f64).collect());
        let first = timelines.iter().map(|t| t.post).reduce(f64::min);
        let last = timelines.iter().filter_map(|t| t.notice).reduce(f64::max);
        if let (Some(first), Some(last)) = (first, last)
            && last > first
        {
            let busy: f64 = starts
                .iter()
                .filter(|(_, at)| (first..=last).contains(*at))
                .filter_map(|(request, _)| durations.get(request))
                .sum();
            b.stream_busy = Some(busy / (last - first));
        }
        let names = [
            "POST start → the `api` function stamps `sentAt` (gateway, JWT authorizer, dispatch to an instance, profile and conversation reads)",
            "`sentAt` → 201 at the client (one sealed copy per reader: KMS GenerateDataKey + S3 PutObject; the message write; the answer's way back)",
            "`sentAt` → the `stream_processor` invocation carrying it starts (sealing and write as above, commit → stream poller → instance)",
            "that invocation's start → it logs `delivered` for the message (earlier messages of the batch, connection lookup, PostToConnection)",
            "`delivered` logged → notice on the recipient's socket (negative: the emulator reads the log line after the push went out)",
        ];
        b.segments = names
            .into_iter()
            .zip(segments)
            .map(|(name, v)| {
                let n = v.len();
                (name, quantile(&v, 0.5), quantile(&v, 0.99), n)
            })
            .collect();
        b
    }
}

/// `backend-StreamProcessorFunction-1A2B` → `StreamProcessorFunction`.
fn short_function_name(name: &str) -> String {
    name.split('-').find(|p| p.ends_with("Function")).unwrap_or(name).to_string()
}

/// The duration of Lambda's `REPORT RequestId: … Duration: 12.34 ms …` line.
fn report_duration(line: &str) -> Option<f64> {
    let rest = line.strip_prefix("REPORT RequestId:")?.split_once("Duration: ")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

/// The message id of `stream_processor`'s `… backend::handlers: delivered ID pushed=N gone=N` line.
fn delivered_id(line: &str) -> Option<&str> {
    line.split_once(": delivered ")?.1.split_whitespace().next()
}

// ---- room fan-out ----------------------------------------------------------------------------

struct Room {
    requested: usize,
    /// Members, the poster included.
    members: usize,
    /// Why joining stopped short of `requested`, if it did.
    refusal: Option<String>,
    /// Members other than the poster.
    readers: usize,
    post_us: u64,
    latency_us: Histogram<u64>,
}

async fn fan_out(chat: &Arc<Chat>, users: &[User], inbox: &Arc<Inbox>, requested: usize) -> anyhow::Result<Room> {
    let wanted = requested.clamp(2, users.len());
    let owner = &users[0];
    let room = chat.post(&owner.id, "/rooms", json!({ "name": "bench room" })).await?;
    let room = room["conversationId"].as_str().context("no conversationId for the new room")?.to_string();
    let full = AtomicBool::new(false);
    let refusal: Mutex<Option<String>> = Mutex::new(None);
    let limit = Duration::from_secs(30) + Duration::from_millis(100) * wanted as u32;
    let joined: Vec<usize> = within(&format!("{wanted} members joining the room"), limit, async {
        let results = stream::iter(1..wanted)
            .map(|i| {
                let (chat, room, full, refusal) = (chat.clone(), &room, &full, &refusal);
                async move {
                    if full.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                    let path = format!("/rooms/{room}/join");
                    match chat.post_answer(&users[i].id, &path, json!({})).await? {
                        (status, _) if status.is_success() => Ok(Some(i)),
                        // The backend caps a room's size: keep those who got in, say why.
                        (reqwest::StatusCode::BAD_REQUEST, answer) => {
                            full.store(true, Ordering::Relaxed);
                            let why =
                                answer["message"].as_str().map(str::to_string).unwrap_or_else(|| answer.to_string());
                            refusal.lock().expect("refusal lock").get_or_insert(why);
                            Ok(None)
                        }
                        (status, answer) => bail!("POST {path}: {status} {answer}"),
                    }
                }
            })
            .buffer_unordered(JOIN_CONCURRENCY)
            .collect::<Vec<anyhow::Result<Option<usize>>>>()
            .await;
        Ok(results.into_iter().collect::<anyhow::Result<Vec<_>>>()?.into_iter().flatten().collect())
    })
    .await?;
    ensure!(!joined.is_empty(), "nobody could join the room: {:?}", refusal.lock().expect("refusal lock"));

    let started = Instant::now();
    let sent =
        chat.post(&owner.id, &format!("/conversations/{room}/messages"), json!({ "text": "to everyone" })).await?;
    let post_us = micros(started.elapsed());
    let id = sent["messageId"].as_str().context("no messageId for the room message")?.to_string();
    let expected: Vec<(String, usize)> = joined.iter().map(|&r| (id.clone(), r)).collect();
    inbox.wait_for(&expected, started + FAN_OUT_TIMEOUT).await;
    let mut latency_us = histogram();
    for &r in &joined {
        if let Some(at) = inbox.arrival(&id, r) {
            latency_us.saturating_record(micros(at.saturating_duration_since(started)));
        }
    }
    let refusal = refusal.into_inner().expect("refusal lock");
    Ok(Room { requested, members: joined.len() + 1, refusal, readers: joined.len(), post_us, latency_us })
}

// ---- memory ----------------------------------------------------------------------------------

/// RSS of the emulator process alone and of its function processes, MiB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    emulator_mib: Option<f64>,
    functions_mib: f64,
    functions: usize,
}

impl Memory {
    fn read(pid: u32) -> Memory {
        let children = children(pid);
        let functions_mib: f64 = children.iter().filter_map(|&c| crate::procs::tree_rss_mib(c)).sum();
        let emulator_mib = crate::procs::tree_rss_mib(pid).map(|tree| tree - functions_mib);
        Memory { emulator_mib, functions_mib, functions: children.len() }
    }
}

/// Direct children of `pid` (every thread's: a child belongs to the thread that forked it).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

// ---- report ----------------------------------------------------------------------------------

struct Measured {
    clients: usize,
    setup: Phase,
    connect: Phase,
    /// Before connecting, after the first half, after all.
    memory: [Memory; 3],
    dropped: usize,
    direct: Direct,
    path: Breakdown,
    /// POST → delivery of one message sent after the one-to-one phase.
    backlog: Option<Duration>,
    room: Room,
}

impl Measured {
    fn report(&self, options: &ChatOptions) -> ChatReport {
        ChatReport { markdown: self.markdown(options), rows: self.rows() }
    }

    /// Emulator RSS growth per connection, KiB: over all of them, and over the second half.
    fn per_connection_kib(&self) -> (Option<f64>, Option<f64>) {
        let [before, middle, after] = self.memory;
        let growth = |from: Memory, connections: usize| {
            Some((after.emulator_mib? - from.emulator_mib?) * 1024.0 / connections.max(1) as f64)
        };
        (growth(before, self.clients), growth(middle, self.clients - self.clients / 2))
    }

    fn markdown(&self, options: &ChatOptions) -> String {
        use std::fmt::Write as _;
        let (d, r, n) = (&self.direct, &self.room, self.clients);
        let [before, _, after] = self.memory;
        let (all, second) = self.per_connection_kib();
        let kib = |k: Option<f64>| k.map(|k| format!("{k:.1}")).unwrap_or_else(|| "?".into());
        let q = |h: &Histogram<u64>| {
            if h.is_empty() {
                "—".to_string()
            } else {
                format!(
                    "{:.1} / {:.1} / {:.1} ms",
                    ms(h.value_at_quantile(0.5)),
                    ms(h.value_at_quantile(0.99)),
                    ms(h.max())
                )
            }
        };
        let mib = |m: Option<f64>| m.map(|m| format!("{m:.1}")).unwrap_or_else(|| "?".into());
        let mut md = String::from("## Chat end to end (emulator only)\n\n");
        let _ = writeln!(
            md,
            "`emulator up` of `{}` with the backend's functions from `{}`, every step through the deployed path: Cognito sign-up with the mailed code, the HTTP API with its JWT authorizer, the WebSocket API, the table's stream and `@connections`.\n",
            options.template.display(),
            options.functions_dir.display()
        );
        let _ = writeln!(md, "| measure | value |\n|---|---|");
        let _ = writeln!(md, "| clients (users, each connected over WebSocket) | {n} |");
        let _ = writeln!(
            md,
            "| set-up: SignUp + mailed code + ConfirmSignUp (PostConfirmation → `onboard`) + password login, {} at a time | {:.1} s ({:.1} users/s; per user p50 {:.0} ms) |",
            self.setup.concurrency,
            self.setup.seconds,
            n as f64 / self.setup.seconds,
            ms(self.setup.each_us.value_at_quantile(0.5))
        );
        let _ = writeln!(
            md,
            "| connect all (`$connect` → `ws_connect`), {} at a time | {:.1} s (per handshake p50 {:.1} ms) |",
            self.connect.concurrency,
            self.connect.seconds,
            ms(self.connect.each_us.value_at_quantile(0.5))
        );
        let _ = writeln!(
            md,
            "| memory per connection: emulator process RSS (after − before) ÷ clients | {} KiB; second half alone {} KiB ({} → {} MiB; function processes, not included: {} → {}, {:.1} → {:.1} MiB) |",
            kib(all),
            kib(second),
            mib(before.emulator_mib),
            mib(after.emulator_mib),
            before.functions,
            after.functions,
            before.functions_mib,
            after.functions_mib
        );
        let _ = writeln!(
            md,
            "| send → deliver at {} msg/s for {} s (POST start → recipient's socket), p50 / p99 / max | {} |",
            d.rate,
            d.seconds,
            q(&d.latency_us)
        );
        let _ = writeln!(
            md,
            "| sent / delivered / lost (not on the socket within {} s) / failed POSTs | {} / {} / {} / {} |",
            DELIVERY_TIMEOUT.as_secs(),
            d.sent,
            d.latency_us.len(),
            d.lost,
            d.failed
        );
        let _ = writeln!(md, "| POST → 201, p50 / p99 / max | {} |", q(&d.post_us));
        let _ = writeln!(
            md,
            "| one more message after the phase, POST → delivered (the backlog the room waits behind) | {} |",
            self.backlog
                .map(|b| format!("{:.1} ms", b.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| format!("not delivered within {} s", DRAIN_TIMEOUT.as_secs()))
        );
        let _ = writeln!(
            md,
            "| room fan-out: one POST → each other member's socket, p50 / p99 / max | {} |",
            q(&r.latency_us)
        );
        let _ = writeln!(
            md,
            "| room fan-out: until the last member | {} (POST → 201: {:.1} ms) |",
            if r.latency_us.len() as usize == r.readers {
                format!("{:.1} ms", ms(r.latency_us.max()))
            } else {
                format!("{} of {} reached within {} s", r.latency_us.len(), r.readers, FAN_OUT_TIMEOUT.as_secs())
            },
            ms(r.post_us)
        );
        let _ = writeln!(
            md,
            "| room members | {}{} |",
            r.members,
            match &r.refusal {
                Some(why) => format!(" of {} asked for; the next join was refused: {}", r.requested, one_line(why)),
                None if r.members < r.requested => format!(" of {} asked for (only {n} clients)", r.requested),
                None => String::new(),
            }
        );
        if self.dropped > 0 {
            let _ = writeln!(md, "| sockets closed by the server during the run | {} |", self.dropped);
        }
        if let Some(e) = &d.first_error {
            let _ = writeln!(md, "\nFirst failed POST: {}", one_line(e));
        }
        let _ = writeln!(md, "\n{}", self.where_the_time_goes());
        md
    }

    /// Send → deliver split at the points both sides can see, with what the emulator recorded.
    fn where_the_time_goes(&self) -> String {
        use std::fmt::Write as _;
        let b = &self.path;
        let mut md = String::from(
            "### Where send → deliver goes\n\nThe measured one-to-one messages, each segment on its own (wall clocks; `sentAt` has 1 ms resolution). The stream's poller wakes on every committed write and runs one `stream_processor` invocation at a time; it pushes a batch's messages one after another.\n\n| segment | p50 ms | p99 ms | messages |\n|---|---|---|---|\n",
        );
        let num = |v: &Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into());
        for (name, p50, p99, n) in &b.segments {
            let _ = writeln!(md, "| {name} | {} | {} | {n} |", num(p50), num(p99));
        }
        if let Some(batch) = b.batch {
            let _ = writeln!(md, "| messages per `stream_processor` invocation (median) | {batch:.0} | | |");
        }
        if let Some(busy) = b.stream_busy {
            let _ = writeln!(
                md,
                "| `stream_processor` busy: its invocations' durations ÷ the sending window | {:.0} % | | |",
                busy * 100.0
            );
        }
        if !b.functions.is_empty() {
            let parts: Vec<String> = b.functions.iter().map(|(f, m, c)| format!("{f} {m:.1} ms (n={c})")).collect();
            let _ = write!(
                md,
                "\nInvocations as the emulator timed them (request → result, queueing included; median of each function's last ≤ 100): {}.",
                parts.join(", ")
            );
        }
        if !b.requests.is_empty() {
            let parts: Vec<String> =
                b.requests.iter().take(12).map(|(op, m, c)| format!("{op} {m:.2} ms ({c})")).collect();
            let _ = write!(
                md,
                "\nServer-side latency during the measured sending (the last ≤ 500 requests; median and count): {}.",
                parts.join(", ")
            );
        }
        md.push('\n');
        md
    }

    fn rows(&self) -> Vec<Row> {
        let (d, r, n) = (&self.direct, &self.room, self.clients);
        let row =
            |operation: String, concurrency: usize, requests: u64, errors: u64, throughput: f64, h: &Histogram<u64>| {
                Row {
                    section: "chat",
                    target: "emulator",
                    operation,
                    concurrency,
                    requests,
                    errors,
                    throughput,
                    p50_ms: ms(h.value_at_quantile(0.5)),
                    p99_ms: ms(h.value_at_quantile(0.99)),
                    max_ms: ms(h.max()),
                }
            };
        let room_seconds = ms(r.latency_us.max()) / 1000.0;
        vec![
            row(
                format!("user set-up ({n} users)"),
                self.setup.concurrency,
                n as u64,
                0,
                n as f64 / self.setup.seconds,
                &self.setup.each_us,
            ),
            row(
                format!("WebSocket connect ({n} clients)"),
                self.connect.concurrency,
                n as u64,
                0,
                n as f64 / self.connect.seconds,
                &self.connect.each_us,
            ),
            row(
                format!("send → deliver ({n} clients, {} msg/s)", d.rate),
                n,
                d.sent as u64,
                (d.lost + d.failed) as u64,
                d.latency_us.len() as f64 / d.seconds,
                &d.latency_us,
            ),
            row(
                format!("room fan-out ({} members)", r.members),
                r.members,
                r.readers as u64,
                (r.readers as u64).saturating_sub(r.latency_us.len()),
                if room_seconds > 0.0 { r.latency_us.len() as f64 / room_seconds } else { 0.0 },
                &r.latency_us,
            ),
        ]
    }
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(200).collect()
}
