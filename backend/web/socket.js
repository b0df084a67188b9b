// The live connection: the stack's WebSocketUrl with `?token=<access token>` (the $connect
// function verifies it). Reconnects on its own with exponential backoff and jitter, and reports
// its state so the page can show it; after a reconnect the page reloads what it may have missed.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export class Socket {
  /** getToken: async () => access token. */
  constructor(url, getToken) {
    this.url = url;
    this.getToken = getToken;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.state = "offline";
    /** (state, detail) with state one of "connecting", "connected", "offline". */
    this.onState = () => {};
    /** (notice) for every JSON document the server pushes. */
    this.onNotice = () => {};
    /** () after every successful (re)connection. */
    this.onOpen = () => {};
    window.addEventListener("online", () => this.stopped || this.connectNow());
  }

  start() {
    this.stopped = false;
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
    this.setState("offline");
  }

  setState(state, detail = "") {
    this.state = state;
    this.onState(state, detail);
  }

  connectNow() {
    clearTimeout(this.timer);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.connect();
  }

  async connect() {
    this.setState("connecting");
    let token;
    try {
      token = await this.getToken();
    } catch {
      return this.retry();
    }
    if (this.stopped) return;
    const ws = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("connected");
      this.onOpen();
    };
    ws.onmessage = (e) => {
      try {
        this.onNotice(JSON.parse(e.data));
      } catch {
        // Not JSON: nothing the page understands.
      }
    };
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) this.retry();
    };
  }

  retry() {
    const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    this.setState("offline", `retrying in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Sends an action if connected; false otherwise. */
  send(doc) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(doc));
    return true;
  }
}
