// The emulator console: polls the JSON views under /_emulator/console/ and renders them.
// Every string from the server goes into the page through textContent (see `h`), never as
// markup. Refreshes replace a view's content only when the data changed, and keep the
// scroll position, open <details> and paging state.

const API = "/_emulator/console";
const REFRESH_MS = 2000;
const VIEWS = ["users", "tables", "objects", "keys", "topics", "mailbox", "connections", "functions", "requests"];

// ---- DOM helpers -----------------------------------------------------------------------

/** An element with attributes/properties and children; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "open") el.open = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A table whose body rows carry data-testid="row". */
function table(headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", { "data-testid": "row" }, cells.map(cell)))),
  );
}

function cell(c) {
  if (c instanceof Node) return c.tagName === "TD" ? c : h("td", {}, c);
  return h("td", {}, c === undefined || c === null ? "" : String(c));
}

const num = (v) => h("td", { class: "num" }, v === undefined || v === null ? "" : String(v));
const mono = (v) => h("span", { class: "mono" }, v ?? "");
const muted = (v) => h("span", { class: "muted" }, v);
const badge = (text, kind = "") => h("span", { class: `badge ${kind}` }, text);
const pretty = (v) => JSON.stringify(v, null, 2);

/** A collapsible JSON block whose open state survives refreshes (keyed by `id`). */
function jsonDetails(id, summary, value) {
  return h("details", { "data-key": id }, h("summary", {}, summary), h("pre", {}, pretty(value)));
}

function time(t) {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** Time of day with milliseconds, for the request log. */
function clock(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t ?? "");
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function kv(entries) {
  return h("dl", { class: "kv" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// ---- data --------------------------------------------------------------------------------

async function getJson(path) {
  const resp = await fetch(API + path, { headers: { accept: "application/json" } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.message || `${resp.status} ${resp.statusText}`);
  return body;
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

// Paging state per paged list: a stack of cursors (the first page has none).
const pages = new Map();
function pager(key) {
  if (!pages.has(key)) pages.set(key, [null]);
  return pages.get(key);
}

function pagerControls(key, nextCursor, shown) {
  const stack = pager(key);
  const page = stack.length;
  return h(
    "div",
    { class: "pager" },
    h("button", { disabled: page <= 1, onclick: () => { stack.pop(); refresh(true); } }, "← Previous"),
    h("span", { class: "muted" }, `page ${page} · ${shown} shown`),
    h("button", { disabled: !nextCursor, onclick: () => { stack.push(nextCursor); refresh(true); } }, "Next →"),
  );
}

// ---- views -------------------------------------------------------------------------------

const render = {
  async users() {
    const { pools } = await getJson("/pools");
    if (!pools.length) return h("p", { class: "empty" }, "No user pools.");
    return pools.map((p) =>
      h(
        "section",
        { class: "card" },
        h("h2", {}, `${p.name} `, muted(`${p.id} · ${plural(p.users.length, "user")}${p.truncated ? " shown (more exist)" : ""}`)),
        table(
          ["Username", "E-mail", "Status", "Enabled", "sub", "Attributes", "Created"],
          p.users.map((u) => {
            const { sub, email, ...rest } = u.attributes || {};
            return [
              h("td", {}, h("strong", {}, u.username)),
              email ?? "",
              badge(u.status, u.status === "CONFIRMED" ? "ok" : "warn"),
              u.enabled ? badge("enabled", "ok") : badge("disabled", "err"),
              mono(u.sub ?? ""),
              Object.keys(rest).length ? kv(Object.entries(rest)) : muted("—"),
              time(u.created),
            ];
          }),
          "No users in this pool.",
        ),
      ),
    );
  },

  async tables(arg) {
    if (arg) return tableItems(arg);
    const { tables } = await getJson("/tables");
    return table(
      ["Table", "Items", "Partition key", "Sort key", "Indexes", "Stream", "TTL"],
      tables.map((t) => [
        h("td", {}, h("a", { href: `#/tables/${encodeURIComponent(t.name)}` }, t.name)),
        num(t.itemCount),
        mono(t.partitionKey),
        mono(t.sortKey ?? ""),
        [...t.globalSecondaryIndexes, ...t.localSecondaryIndexes]
          .map((i) => `${i.name} (${i.partitionKey}${i.sortKey ? ", " + i.sortKey : ""})`)
          .join("; ") || "—",
        t.stream.enabled ? badge(t.stream.viewType, "ok") : muted("off"),
        t.ttl.status === "ENABLED" ? mono(t.ttl.attribute) : muted("off"),
      ]),
      "No tables.",
    );
  },

  async objects(arg) {
    if (arg) return bucketObjects(arg);
    const { buckets } = await getJson("/buckets");
    if (!buckets.length) return h("p", { class: "empty" }, "No buckets.");
    return buckets.map((b) =>
      h(
        "section",
        { class: "card" },
        h(
          "h2",
          {},
          h("a", { href: `#/objects/${encodeURIComponent(b.name)}` }, b.name),
          " ",
          muted(`${plural(b.objectCount, "object")} · ${b.region} · created ${time(b.created)}`),
        ),
        objectTable(b.objects),
        b.cursor ? h("p", {}, h("a", { href: `#/objects/${encodeURIComponent(b.name)}` }, "All objects →")) : null,
      ),
    );
  },

  async keys() {
    const { keys } = await getJson("/keys");
    return table(
      ["Key", "Aliases", "State", "Spec / usage", "Description", "Created", "Key policy"],
      keys.map((k) => [
        h("td", {}, mono(k.keyId), h("div", { class: "muted wrap" }, k.arn)),
        k.aliases.join(", ") || "—",
        badge(k.state, k.state === "Enabled" ? "ok" : "warn"),
        `${k.keySpec} / ${k.keyUsage}`,
        k.description || "—",
        time(k.created),
        jsonDetails(`policy:${k.keyId}`, "policy", k.policy),
      ]),
      "No KMS keys.",
    );
  },

  async topics() {
    const { topics } = await getJson("/topics");
    const subs = topics.flatMap((t) => t.subscriptions.map((s) => ({ ...s, topic: t.name })));
    return [
      h("h2", {}, "Topics"),
      table(
        ["Topic", "ARN", "Subscriptions", "Attributes"],
        topics.map((t) => [
          h("td", {}, h("strong", {}, t.name)),
          mono(t.arn),
          num(t.subscriptions.length),
          jsonDetails(`topic:${t.arn}`, "attributes", { ...t.attributes, Policy: t.policy, Tags: t.tags }),
        ]),
        "No topics.",
      ),
      h("h2", {}, "Subscriptions"),
      table(
        ["Topic", "Protocol", "Endpoint", "Status", "Filter policy", "ARN"],
        subs.map((s) => [
          s.topic,
          s.protocol,
          h("td", { class: "wrap" }, s.endpoint),
          s.confirmed ? badge("confirmed", "ok") : badge("pending confirmation", "warn"),
          s.filterPolicy ? h("pre", {}, pretty(s.filterPolicy)) : muted("—"),
          h("td", { class: "wrap muted" }, s.arn),
        ]),
        "No subscriptions.",
      ),
    ];
  },

  async mailbox() {
    const { messages } = await getJson("/mailbox");
    return table(
      ["Sent", "Channel", "To", "From", "Subject", "Body"],
      messages.map((m) => [
        time(m.sentAt),
        m.channel,
        h("td", {}, h("strong", {}, m.destination)),
        m.source,
        m.subject ?? "",
        h("pre", {}, m.body),
      ]),
      "The mailbox is empty.",
    );
  },

  async connections() {
    const { connections } = await getJson("/connections");
    return table(
      ["Connection", "API / stage", "Connected", "Last active", "Source IP", "User agent", "Authorizer"],
      connections.map((c) => [
        mono(c.connectionId),
        `${c.apiId} / ${c.stage}`,
        time(c.connectedAt),
        time(c.lastActiveAt),
        c.sourceIp,
        h("td", { class: "wrap" }, c.userAgent),
        c.authorizer ? jsonDetails(`auth:${c.connectionId}`, "context", c.authorizer) : muted("—"),
      ]),
      "No live WebSocket connections.",
    );
  },

  async functions() {
    const { functions } = await getJson("/functions?invocations=20&logs=60");
    if (!functions.length) return h("p", { class: "empty" }, "No functions.");
    return functions.map((f) =>
      h(
        "section",
        { class: "card" },
        h("h2", {}, f.name, " ", muted(`${f.runtime} · ${f.handler} · ${f.memoryMb} MB · ${f.timeoutSecs} s`)),
        table(
          ["Instances", "Busy", "Idle", "Queued", "Role", "Last modified"],
          [[num(f.instances.instances), num(f.instances.busy), num(f.instances.idle), num(f.instances.queued),
            h("td", { class: "wrap muted" }, f.role), f.lastModified]],
        ),
        h("h3", {}, "Recent invocations"),
        table(
          ["Request id", "Started", "Duration", "Outcome", "Trigger"],
          f.invocations.map((i) => [
            mono(i.requestId),
            time(i.startedAt),
            num(`${i.durationMs.toFixed(1)} ms`),
            i.outcome === "ok"
              ? h("td", {}, badge("ok", "ok"))
              : h("td", {}, badge(i.errorType || "error", "err"), " ", h("span", { class: "muted" }, i.errorMessage || "")),
            i.trigger,
          ]),
          "Not invoked yet.",
        ),
        h("h3", {}, "Recent logs"),
        f.logs.length
          ? h("pre", { class: "logs" }, f.logs.map((l) => `${new Date(l.timestamp).toISOString().slice(11, 23)} ${l.message}\n`).join(""))
          : h("p", { class: "empty" }, "No output yet."),
      ),
    );
  },

  async requests() {
    const since = requestLog.length ? requestLog[0].seq : 0;
    const { requests } = await getJson(`/requests${qs({ since })}`);
    requestLog = [...requests, ...requestLog].slice(0, 500);
    const filter = requestFilter.toLowerCase();
    const shown = requestLog.filter(
      (r) =>
        (!errorsOnly || r.status >= 400) &&
        (!filter || `${r.method} ${r.path} ${r.service ?? ""} ${r.operation ?? ""} ${r.status}`.toLowerCase().includes(filter)),
    );
    return [
      h(
        "div",
        { class: "toolbar" },
        h("input", {
          type: "search",
          placeholder: "Filter (path, service, operation, status)",
          value: requestFilter,
          oninput: (e) => { requestFilter = e.target.value; refresh(true, true); },
        }),
        h("label", {}, h("input", { type: "checkbox", checked: errorsOnly, onchange: (e) => { errorsOnly = e.target.checked; refresh(true); } }), " errors only"),
        muted(`${shown.length} of ${requestLog.length} (the emulator keeps the last 500)`),
      ),
      table(
        ["Time", "Method", "Path", "Service", "Operation", "Status", "Latency", "Request id"],
        shown.map((r) => [
          h("td", { title: r.time }, clock(r.time)),
          r.method,
          h("td", { class: "wrap mono" }, r.path),
          r.service ?? "",
          r.operation ?? "",
          h("td", {}, badge(String(r.status), r.status >= 500 ? "err" : r.status >= 400 ? "warn" : "ok"), r.error ? h("div", { class: "muted" }, r.error) : null),
          num(`${r.latencyMs.toFixed(1)} ms`),
          mono(r.requestId ?? ""),
        ]),
        "No requests yet.",
      ),
    ];
  },
};

let requestLog = [];
let requestFilter = "";
let errorsOnly = false;

async function tableItems(name) {
  const key = `table:${name}`;
  const stack = pager(key);
  const cursor = stack[stack.length - 1];
  const data = await getJson(`/tables/${encodeURIComponent(name)}/items${qs({ limit: 25, cursor })}`);
  const t = data.table;
  const keys = [t.partitionKey, t.sortKey].filter(Boolean);
  const others = [...new Set(data.items.flatMap((i) => Object.keys(i)))].filter((k) => !keys.includes(k)).sort();
  const columns = [...keys, ...others];
  const show = (v) => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));
  return [
    h("p", {}, h("a", { href: "#/tables" }, "← Tables")),
    h("h2", {}, t.name, " ", muted(`${t.itemCount} items · key ${keys.join(", ")}`)),
    pagerControls(key, data.cursor, data.items.length),
    table(columns, data.items.map((item) => columns.map((c) => h("td", { class: "mono" }, show(item[c])))), "No items."),
    pagerControls(key, data.cursor, data.items.length),
  ];
}

function objectTable(objects) {
  return table(
    ["Key", "Size", "Content type", "ETag", "Last modified", "Encryption", "Metadata", "Stored body"],
    objects.map((o) => [
      h("td", { class: "wrap" }, h("strong", {}, o.key)),
      num(o.size),
      o.contentType ?? "",
      mono(o.etag),
      time(o.lastModified),
      h("td", {}, badge(o.sse), o.kmsKeyId ? h("div", { class: "muted wrap" }, o.kmsKeyId) : null),
      Object.keys(o.metadata || {}).length ? kv(Object.entries(o.metadata)) : muted("—"),
      o.stored
        ? h("td", {}, `${o.stored.kind}/binary, ${o.stored.bytes} bytes`, h("div", { class: "mono muted wrap" }, o.stored.hexPrefix + (o.stored.truncated ? "…" : "")))
        : "",
    ]),
    "No objects.",
  );
}

async function bucketObjects(bucket) {
  const key = `bucket:${bucket}`;
  const stack = pager(key);
  const cursor = stack[stack.length - 1];
  const data = await getJson(`/buckets/${encodeURIComponent(bucket)}/objects${qs({ limit: 50, cursor })}`);
  return [
    h("p", {}, h("a", { href: "#/objects" }, "← Buckets")),
    h("h2", {}, bucket),
    pagerControls(key, data.cursor, data.objects.length),
    objectTable(data.objects),
  ];
}

// ---- routing and refresh -------------------------------------------------------------------

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const name = VIEWS.includes(view) ? view : "users";
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  return { name, arg };
}

let container = null;
let current = "";
let lastSignature = "";
let busy = false;
let again = null;

function mount() {
  const { name, arg } = route();
  const id = `${name}/${arg ?? ""}`;
  if (id === current && container) return;
  current = id;
  lastSignature = "";
  const main = document.getElementById("main");
  container = h("section", { "data-testid": `view-${name}`, class: "view" }, h("p", { class: "empty" }, "Loading…"));
  main.replaceChildren(container);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name);
  document.title = `Emulator console · ${name}`;
}

/** Re-renders the current view; `force` re-renders even if the data did not change. */
async function refresh(force = false, keepFocus = false) {
  if (busy) {
    // A refresh asked for by the user (paging, filtering) runs once the current one is done.
    if (force) again = { force, keepFocus };
    return;
  }
  busy = true;
  const status = document.getElementById("status");
  const { name, arg } = route();
  const view = current;
  try {
    const content = await render[name](arg);
    if (view !== current) return;
    const nodes = [content].flat(Infinity);
    const signature = nodes.map((n) => (n instanceof Node ? n.textContent : String(n))).join("\u0000");
    if (force || signature !== lastSignature) {
      lastSignature = signature;
      const open = new Set([...container.querySelectorAll("details[open]")].map((d) => d.dataset.key));
      const focused = keepFocus && document.activeElement?.type === "search";
      const y = window.scrollY;
      container.replaceChildren(...nodes);
      for (const d of container.querySelectorAll("details[data-key]")) if (open.has(d.dataset.key)) d.open = true;
      window.scrollTo(0, y);
      if (focused) {
        const input = container.querySelector("input[type=search]");
        input?.focus();
        input?.setSelectionRange(input.value.length, input.value.length);
      }
    }
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove("error");
  } catch (e) {
    status.textContent = `error: ${e.message}`;
    status.classList.add("error");
    if (view === current && !lastSignature) container.replaceChildren(h("p", { class: "error" }, e.message));
  } finally {
    busy = false;
    if (again) {
      const next = again;
      again = null;
      refresh(next.force, next.keepFocus);
    }
  }
}

function start() {
  mount();
  refresh(true);
  window.addEventListener("hashchange", () => { mount(); refresh(true); });
  setInterval(() => {
    if (document.getElementById("auto-refresh").checked && !document.hidden) refresh();
  }, REFRESH_MS);
}

start();
