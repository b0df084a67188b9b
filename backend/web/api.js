// The chat's HTTP API (the stack's HttpApiUrl), authorised with the ID token as the API's JWT
// authorizer expects. One method per route, each answering the route's JSON; errors carry the
// status and the server's message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

const q = encodeURIComponent;

function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${q(k)}=${q(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

export class Api {
  constructor(baseUrl, cognito) {
    this.base = baseUrl.replace(/\/$/, "");
    this.cognito = cognito;
  }

  async request(method, path, body) {
    const { idToken } = await this.cognito.fresh();
    const headers = { Authorization: `Bearer ${idToken}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new ApiError(response.status, data.message);
    }
    return response;
  }

  async json(method, path, body) {
    return (await this.request(method, path, body)).json();
  }

  me() {
    return this.json("GET", "/me");
  }
  /** { users: [{userId, username}], nextCursor } */
  users(cursor, limit = 20) {
    return this.json("GET", `/users${query({ limit, cursor })}`);
  }
  /** { conversations: [{conversationId, kind, title, lastActivity, lastMessageId, lastSender, unread}], nextCursor } */
  conversations(cursor, limit = 50) {
    return this.json("GET", `/conversations${query({ limit, cursor })}`);
  }
  /** { messages: [...] newest first, nextCursor } */
  history(conversationId, cursor, limit = 20) {
    return this.json("GET", `/conversations/${q(conversationId)}/messages${query({ limit, cursor })}`);
  }
  message(conversationId, messageId) {
    return this.json("GET", `/conversations/${q(conversationId)}/messages/${q(messageId)}`);
  }
  /** { conversationId, messageId, sentAt } */
  sendToUser(userId, text) {
    return this.json("POST", `/users/${q(userId)}/messages`, { text });
  }
  send(conversationId, text) {
    return this.json("POST", `/conversations/${q(conversationId)}/messages`, { text });
  }
  /** { conversationId, unread } */
  markRead(conversationId, messageId) {
    return this.json("POST", `/conversations/${q(conversationId)}/read`, { messageId });
  }
  /** { total, conversations: {id: count} } */
  unread() {
    return this.json("GET", "/unread");
  }
  rooms(cursor, limit = 50) {
    return this.json("GET", `/rooms${query({ limit, cursor })}`);
  }
  createRoom(name) {
    return this.json("POST", "/rooms", { name });
  }
  joinRoom(id) {
    return this.json("POST", `/rooms/${q(id)}/join`);
  }
  leaveRoom(id) {
    return this.json("POST", `/rooms/${q(id)}/leave`);
  }

  /** Uploads a file to a presigned PUT, then seals and sends it as a message. */
  async sendAttachment(conversationId, file) {
    const slot = await this.json("POST", `/conversations/${q(conversationId)}/attachments`);
    if (file.size > slot.maxBytes) throw new ApiError(400, `attachments have at most ${slot.maxBytes} bytes`);
    const put = await fetch(slot.uploadUrl, { method: slot.method || "PUT", body: file });
    if (!put.ok) throw new ApiError(put.status, "the upload failed");
    return this.json("POST", `/conversations/${q(conversationId)}/attachments/${q(slot.attachmentId)}`, {
      fileName: file.name,
      contentType: file.type || "application/octet-stream",
    });
  }

  /** An attachment's decrypted bytes as a Blob. */
  async attachment(conversationId, messageId) {
    const r = await this.request("GET", `/conversations/${q(conversationId)}/messages/${q(messageId)}/attachment`);
    return r.blob();
  }
}
