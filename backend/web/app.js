// The chat's page: reads config.json (the stack's outputs), then drives sign-up, login and the
// chat views with the Cognito, HTTP and WebSocket clients. All user text reaches the page
// through textContent only. Server state is the truth: unread counts and ordering always come
// from the API; live notices only tell the page what to fetch again.

import { Api } from "./api.js";
import { Cognito } from "./cognito.js";
import { Socket } from "./socket.js";

const PAGE = 20;
const TYPING_SHOWN_MS = 4000;
const TYPING_SENT_EVERY_MS = 2000;

// ---- small DOM helpers ------------------------------------------------------------------------

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** An element with attributes (`testid` → data-testid, `on*` → listeners) and children
 * (strings become text nodes, never markup). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "testid") el.dataset.testid = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A short message at the bottom of the screen for a few seconds. */
function say(text) {
  const el = document.getElementById("error");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (el.hidden = true), 6000);
}

function showError(e) {
  say(e?.message || String(e));
}

function showView(id) {
  for (const v of ["loading", "signup", "confirm", "login", "chat"]) document.getElementById(v).hidden = v !== id;
}

function time(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString();
}

/** Runs a form's handler with its values, the button disabled meanwhile, errors shown. */
function onSubmit(form, handler) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await handler(Object.fromEntries(new FormData(form)));
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });
}

function onClick(testid, handler) {
  $(testid).addEventListener("click", async (e) => {
    e.preventDefault();
    try {
      await handler(e);
    } catch (err) {
      showError(err);
    }
  });
}

// ---- state ------------------------------------------------------------------------------------

let config, cognito, api, socket;
const state = {
  me: null,
  /** userId → username, from the directory. */
  names: new Map(),
  conversations: [],
  /** The open conversation: { id (null for a draft to a user), kind, title, to, messages
   * (oldest first), cursor, complete, loading }. */
  open: null,
  tab: "chats",
  directoryCursor: null,
  roomsCursor: null,
  /** userId → { name, timer } of people typing in the open conversation. */
  typing: new Map(),
  lastTypingSent: 0,
};

// ---- start ------------------------------------------------------------------------------------

async function main() {
  config = await (await fetch("config.json", { cache: "no-store" })).json();
  cognito = new Cognito(config);
  api = new Api(config.outputs.HttpApiUrl, cognito);
  socket = new Socket(config.outputs.WebSocketUrl, async () => (await cognito.fresh()).accessToken);
  socket.onState = renderConnection;
  socket.onNotice = (n) => onNotice(n).catch(showError);
  socket.onOpen = () => catchUp().catch(showError);
  cognito.onSignedOut = signedOut;
  wireAuthForms();
  wireChat();
  if (cognito.signedIn) {
    await enterChat().catch((e) => {
      showError(e);
      showView("login");
    });
  } else {
    showView("login");
  }
}

// ---- sign-up, confirmation, login -------------------------------------------------------------

let pendingUser = null;

function wireAuthForms() {
  onClick("goto-login", () => showView("login"));
  onClick("goto-signup", () => showView("signup"));
  onClick("confirm-login", () => showView("login"));
  onSubmit($("signup-form"), async ({ username, email, password }) => {
    const r = await cognito.signUp(username.trim(), email.trim(), password);
    pendingUser = username.trim();
    if (r.UserConfirmed) return toLogin(pendingUser, "Account created. Log in.");
    showConfirm(email.trim());
  });
  onSubmit($("confirm-form"), async ({ code }) => {
    await cognito.confirmSignUp(pendingUser, code.trim());
    toLogin(pendingUser, "E-mail confirmed. Log in.");
  });
  onClick("confirm-resend", async () => {
    await cognito.resendCode(pendingUser);
    say("A new code is on its way.");
  });
  onSubmit($("login-form"), async ({ username, password }) => {
    try {
      await cognito.login(username.trim(), password);
    } catch (e) {
      if (e.code === "UserNotConfirmedException") {
        pendingUser = username.trim();
        showConfirm("your e-mail address");
        return;
      }
      throw e;
    }
    $("login-form").reset();
    await enterChat();
  });
}

function showConfirm(email) {
  $("confirm-email").textContent = email;
  // Locally no mail leaves the machine: point at the emulator console's mailbox.
  const consoleUrl = config.consoleUrl || (config.cognitoEndpoint && new URL("/_emulator/ui", config.cognitoEndpoint).href);
  if (consoleUrl) {
    $("mailbox-link").href = `${consoleUrl}#/mailbox`;
    $("mailbox-hint").hidden = false;
  }
  $("confirm-form").reset();
  showView("confirm");
}

function toLogin(username, notice) {
  $("login-username").value = username;
  $("login-notice").textContent = notice;
  $("login-notice").hidden = false;
  showView("login");
}

function signedOut() {
  socket.stop();
  clearTimeout(refreshTimer);
  state.conversations = [];
  state.names.clear();
  // Nothing of the session stays in the page.
  closeConversation();
  for (const list of ["user-list", "room-list"]) $(list).replaceChildren();
  document.title = "Chat";
  showView("login");
}

// ---- the chat ---------------------------------------------------------------------------------

async function enterChat() {
  state.me = await api.me();
  state.names.set(state.me.userId, state.me.username);
  $("me").textContent = state.me.username;
  // A reload keeps the open conversation (its id is in the URL's fragment).
  const id = new URLSearchParams(location.hash.slice(1)).get("c");
  showView("chat");
  closeConversation();
  socket.start();
  await selectTab("chats");
  loadNames().catch(() => {});
  const known = state.conversations.find((c) => c.conversationId === id);
  if (known) await openConversation(known);
}

/** Sender names for rooms: the first pages of the directory. */
async function loadNames() {
  let cursor;
  for (let i = 0; i < 5; i++) {
    const page = await api.users(cursor, 100);
    for (const u of page.users) state.names.set(u.userId, u.username);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  if (state.open) renderMessages("keep");
}

function wireChat() {
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  }
  onClick("logout", () => cognito.signOut());
  onClick("back", () => closeConversation());
  onClick("user-more", () => loadUsers(state.directoryCursor));
  onClick("room-more", () => loadRooms(state.roomsCursor));
  onSubmit($("room-create-form"), async ({ name }) => {
    const room = await api.createRoom(name.trim());
    $("room-create-form").reset();
    await refreshConversations();
    await loadRooms();
    await openConversation({ conversationId: room.conversationId, kind: "room", title: room.name });
  });
  onClick("room-leave", async () => {
    await api.leaveRoom(state.open.id);
    closeConversation();
    await refreshConversations();
    if (state.tab === "rooms") await loadRooms();
  });
  onSubmit($("composer"), async ({ text }) => {
    if (!text.trim()) return;
    $("message-input").value = "";
    await send(text);
  });
  $("message-input").addEventListener("input", sendTyping);
  $("attach-input").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      await sendFile(file);
    } catch (err) {
      showError(err);
    }
  });
  $("message-list").addEventListener("scroll", () => {
    if ($("message-list").scrollTop < 80) loadOlder().catch(showError);
  });
  document.addEventListener("visibilitychange", () => markRead().catch(() => {}));
}

function selectTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll("[data-tab]")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const p of document.querySelectorAll("[data-pane]")) p.hidden = p.dataset.pane !== tab;
  const load = { people: loadUsers, rooms: loadRooms, chats: refreshConversations }[tab];
  return load().catch(showError);
}

function renderConnection(s, detail) {
  const el = $("connection-state");
  el.dataset.state = s;
  if (s === "connected") {
    el.dataset.since = Date.now();
    el.title = `Connected since ${new Date().toLocaleTimeString()}`;
  }
  el.textContent = { connected: "Connected", connecting: "Connecting…", offline: "Offline" }[s] + (detail ? ` (${detail})` : "");
}

// ---- conversations ----------------------------------------------------------------------------

/** Runs `fn` now, or once more after the run in progress if one is: a burst of calls costs at
 * most two runs, and every caller's promise settles after a run that started after its call. */
function coalesced(fn) {
  let running = null;
  let again = false;
  const loop = async () => {
    do {
      again = false;
      await fn();
    } while (again);
  };
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = loop().finally(() => (running = null));
    return running;
  };
}

/** The most recently active conversations, with their unread counts, from the server. */
const refreshConversations = coalesced(async () => {
  state.conversations = (await api.conversations(undefined, 100)).conversations;
  renderConversations();
});

let refreshTimer = null;

/** The server's list again once a burst of notices is over. */
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refreshConversations().catch(showError), 500);
}

/** A new message moves its conversation to the top and, unless it is the caller's, counts as
 * unread until read; a conversation not in the list yet means fetching the list. */
function touch(n) {
  const c = state.conversations.find((c) => c.conversationId === n.conversationId);
  if (!c) return refreshConversations();
  c.lastActivity = n.sentAt;
  c.lastMessageId = n.messageId;
  c.lastSender = n.sender;
  if (n.sender !== state.me.userId) c.unread = (c.unread || 0) + 1;
  state.conversations.sort((a, b) => b.lastActivity - a.lastActivity);
  renderConversations();
}

/** The unread count shown: none for the conversation being read. */
function unreadOf(c) {
  if (state.open?.id === c.conversationId && !document.hidden) return 0;
  return c.unread || 0;
}

function renderConversations() {
  const list = $("conversation-list");
  list.replaceChildren(
    ...state.conversations.map((c) => {
      const n = unreadOf(c);
      return h(
        "li",
        {
          testid: "conversation-item",
          "data-id": c.conversationId,
          "data-kind": c.kind,
          class: state.open?.id === c.conversationId ? "selected" : "",
          onclick: () => openConversation(c).catch(showError),
        },
        h("span", { class: "title" }, c.kind === "room" ? `# ${c.title}` : c.title),
        h("span", { class: "time" }, c.lastActivity ? time(c.lastActivity) : ""),
        n > 0 ? h("span", { class: "badge", testid: "unread-badge" }, n) : null,
      );
    }),
  );
  $("conversations-empty").hidden = state.conversations.length > 0;
  const all = state.conversations.reduce((sum, c) => sum + unreadOf(c), 0);
  $("unread-total").textContent = all;
  $("unread-total").hidden = all === 0;
  document.title = all > 0 ? `(${all}) Chat` : "Chat";
}

async function loadUsers(cursor) {
  const page = await api.users(cursor, PAGE);
  const list = $("user-list");
  if (!cursor) list.replaceChildren();
  for (const u of page.users) {
    state.names.set(u.userId, u.username);
    const me = u.userId === state.me.userId;
    list.append(
      h(
        "li",
        {
          testid: "user-item",
          "data-id": u.userId,
          class: me ? "me" : "",
          onclick: me ? null : () => openDirect(u).catch(showError),
        },
        h("span", { class: "title" }, u.username),
        me ? h("span", { class: "time" }, "you") : null,
      ),
    );
  }
  state.directoryCursor = page.nextCursor;
  $("user-more").hidden = !page.nextCursor;
}

async function loadRooms(cursor) {
  const page = await api.rooms(cursor, PAGE);
  const list = $("room-list");
  if (!cursor) list.replaceChildren();
  for (const r of page.rooms) {
    const member = state.conversations.find((c) => c.conversationId === r.conversationId);
    const open = async () => {
      if (!member) await api.joinRoom(r.conversationId);
      await refreshConversations();
      await openConversation({ conversationId: r.conversationId, kind: "room", title: r.name });
    };
    list.append(
      h(
        "li",
        { testid: "room-item", "data-id": r.conversationId },
        h("span", { class: "title" }, `# ${r.name}`),
        h(
          "button",
          { testid: member ? "room-open" : "room-join", onclick: () => open().catch(showError) },
          member ? "Open" : "Join",
        ),
      ),
    );
  }
  state.roomsCursor = page.nextCursor;
  $("room-more").hidden = !page.nextCursor;
}

/** A person from the directory: their direct conversation if it exists, else a draft that the
 * first message creates. */
async function openDirect(user) {
  await refreshConversations();
  const existing = state.conversations.find((c) => c.kind === "direct" && c.title === user.username);
  if (existing) return openConversation(existing);
  setOpen({ id: null, kind: "direct", title: user.username, to: user.userId });
  renderMessages("bottom");
}

// ---- the open conversation --------------------------------------------------------------------

function setOpen(open) {
  state.open = { messages: [], cursor: null, complete: false, loading: false, ...open };
  clearTyping();
  document.getElementById("chat").classList.add("has-open");
  $("conversation-title").textContent = open.kind === "room" ? `# ${open.title}` : open.title;
  $("room-leave").hidden = open.kind !== "room";
  $("message-input").value = "";
  history.replaceState(null, "", open.id ? `#c=${encodeURIComponent(open.id)}` : location.pathname);
  renderConversations();
}

function closeConversation() {
  state.open = null;
  clearTyping();
  document.getElementById("chat").classList.remove("has-open");
  $("message-list").replaceChildren();
  history.replaceState(null, "", location.pathname);
  renderConversations();
}

async function openConversation(c) {
  setOpen({ id: c.conversationId, kind: c.kind, title: c.title });
  const open = state.open;
  await loadOlder();
  // Nothing to mark when nothing was unread; later arrivals are marked as they come.
  const listed = state.conversations.find((x) => x.conversationId === c.conversationId);
  if (!(listed?.unread > 0) && open.messages.length) open.readUpTo = open.messages.at(-1).messageId;
  await markRead();
  // On a phone, focusing would pop the keyboard over the history.
  if (matchMedia("(min-width: 701px)").matches) $("message-input").focus();
}

/** Adds messages (any order, duplicates ignored), keeping them oldest first by id (ids sort by time). */
function merge(messages) {
  const known = new Set(state.open.messages.map((m) => m.messageId));
  const fresh = messages.filter((m) => !known.has(m.messageId));
  state.open.messages.push(...fresh);
  state.open.messages.sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
  return fresh.length;
}

/** The next older page (the first page when nothing is loaded yet). */
async function loadOlder() {
  const open = state.open;
  if (!open?.id || open.loading || open.complete) return;
  open.loading = true;
  if (open.messages.length === 0) renderMessages("bottom");
  try {
    const page = await api.history(open.id, open.cursor || undefined, PAGE);
    if (state.open !== open) return;
    const first = open.messages.length === 0;
    merge(page.messages);
    open.cursor = page.nextCursor;
    open.complete = !page.nextCursor;
    renderMessages(first ? "bottom" : "anchor");
  } finally {
    open.loading = false;
  }
  // Keep loading until the list can scroll, so scrolling up can ask for more.
  const list = $("message-list");
  if (state.open === open && !open.complete && list.scrollHeight <= list.clientHeight) await loadOlder();
}

function senderName(id) {
  if (id === state.me.userId) return "You";
  if (state.names.has(id)) return state.names.get(id);
  return state.open?.kind === "direct" ? state.open.title : id.slice(0, 8);
}

/** Redraws the list. scroll: "bottom" (to the newest), "anchor" (older were added above: keep
 * what was visible in place) or "keep" (stay at the bottom if it was there). */
function renderMessages(scroll) {
  const list = $("message-list");
  const fromBottom = list.scrollHeight - list.scrollTop;
  const atBottom = fromBottom - list.clientHeight < 40;
  const open = state.open;
  list.dataset.kind = open?.kind || "";
  list.replaceChildren(
    ...(open?.messages || []).map((m) => {
      const mine = m.sender === state.me.userId;
      let body;
      if (m.kind === "attachment" && m.attachment) {
        body = h(
          "button",
          { class: "file", testid: "attachment", onclick: () => download(m).catch(showError) },
          `${m.attachment.fileName} (${Math.ceil((m.attachment.size || 0) / 1024)} KB)`,
        );
      } else if (m.text !== undefined) {
        body = h("span", { class: "text", testid: "message-text" }, m.text);
      } else {
        body = h("em", { class: "text" }, "sent before you joined");
      }
      return h(
        "li",
        { testid: "message", "data-id": m.messageId, class: mine ? "mine" : "theirs" },
        h("span", { class: "sender" }, senderName(m.sender)),
        body,
        h("time", { datetime: new Date(m.sentAt).toISOString() }, time(m.sentAt)),
      );
    }),
  );
  if (open?.loading && open.messages.length === 0) list.append(h("li", { class: "empty" }, "Loading…"));
  if (open && open.messages.length === 0 && open.complete) {
    list.append(h("li", { class: "empty" }, open.id ? "No messages yet." : `Say hello to ${open.title}.`));
  }
  if (!open?.id && open) list.append(h("li", { class: "empty" }, `Say hello to ${open.title}.`));
  if (scroll === "bottom" || (scroll === "keep" && atBottom)) list.scrollTop = list.scrollHeight;
  else if (scroll === "anchor") list.scrollTop = list.scrollHeight - fromBottom;
}

/** Marks the open conversation read up to its newest message, if someone is looking. */
const markRead = coalesced(async () => {
  const open = state.open;
  if (!open?.id || document.hidden || open.messages.length === 0) return;
  const c = state.conversations.find((c) => c.conversationId === open.id);
  const newest = open.messages[open.messages.length - 1].messageId;
  // Only others' messages count as unread: nothing to mark when none arrived since the last mark.
  const unseen = open.messages.some((m) => m.sender !== state.me.userId && m.messageId > (open.readUpTo || ""));
  if (!unseen && !(c?.unread > 0)) return;
  open.readUpTo = newest;
  const r = await api.markRead(open.id, newest);
  const now = state.conversations.find((c) => c.conversationId === open.id);
  if (now) now.unread = r.unread;
  renderConversations();
});

async function send(text) {
  const open = state.open;
  const sent = open.id ? await api.send(open.id, text) : await api.sendToUser(open.to, text);
  if (!open.id) {
    open.id = sent.conversationId;
    open.complete = true;
    history.replaceState(null, "", `#c=${encodeURIComponent(open.id)}`);
  }
  shown(open, { ...sent, sender: state.me.userId, kind: "text", text });
}

async function sendFile(file) {
  const open = state.open;
  if (!open?.id) throw new Error("send a first message before a file");
  const sent = await api.sendAttachment(open.id, file);
  const attachment = { fileName: file.name, contentType: file.type, size: file.size };
  shown(open, { ...sent, sender: state.me.userId, kind: "attachment", attachment });
}

/** One's own message, just sent: in the conversation at once, and its conversation on top. */
function shown(open, message) {
  if (state.open === open) {
    merge([message]);
    renderMessages("bottom");
  }
  touch(message);
}

async function download(m) {
  const blob = await api.attachment(m.conversationId, m.messageId);
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: m.attachment.fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---- typing -----------------------------------------------------------------------------------

function sendTyping() {
  const id = state.open?.id;
  if (!id || Date.now() - state.lastTypingSent < TYPING_SENT_EVERY_MS) return;
  if (socket.send({ action: "typing", conversationId: id })) state.lastTypingSent = Date.now();
}

function showTyping(userId, name) {
  const prev = state.typing.get(userId);
  if (prev) clearTimeout(prev.timer);
  const timer = setTimeout(() => {
    state.typing.delete(userId);
    renderTyping();
  }, TYPING_SHOWN_MS);
  state.typing.set(userId, { name, timer });
  renderTyping();
}

function clearTyping(userId) {
  for (const [id, t] of state.typing) {
    if (userId === undefined || id === userId) {
      clearTimeout(t.timer);
      state.typing.delete(id);
    }
  }
  renderTyping();
}

function renderTyping() {
  const names = [...state.typing.values()].map((t) => t.name);
  $("typing-indicator").textContent =
    names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

// ---- live notices -----------------------------------------------------------------------------

async function onNotice(n) {
  if (n.type === "typing") {
    if (n.conversationId === state.open?.id && n.userId !== state.me.userId) showTyping(n.userId, n.username);
  } else if (n.type === "message") {
    await touch(n);
    const open = state.open;
    if (n.conversationId === open?.id) {
      clearTyping(n.sender);
      if (!open.messages.some((m) => m.messageId === n.messageId)) {
        const m = await api.message(n.conversationId, n.messageId);
        if (state.open === open) {
          merge([m]);
          renderMessages(n.sender === state.me.userId ? "bottom" : "keep");
        }
      }
      await markRead();
    }
    refreshSoon();
  } else if (n.type === "error") {
    showError(n.message);
  }
}

/** After a (re)connection: whatever arrived while the socket was down. */
async function catchUp() {
  await refreshConversations();
  const open = state.open;
  if (!open?.id || open.messages.length === 0) return;
  const page = await api.history(open.id, undefined, PAGE);
  if (state.open === open && merge(page.messages) > 0) {
    renderMessages("keep");
    await markRead();
  }
}

window.addEventListener("unhandledrejection", (e) => showError(e.reason));

main().catch((e) => {
  showView("login");
  showError(e);
});
