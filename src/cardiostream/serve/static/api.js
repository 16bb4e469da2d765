// The server's own API, with the tab's token. Errors carry the HTTP status and the server's
// words, so the page can say what went wrong.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  constructor(token, onUnauthorized) {
    this.token = token || "";
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  async request(method, path, body, accept = "application/json") {
    let response;
    const init = { method, headers: this.headers({ Accept: accept }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "the server cannot be reached");
    }
    if (response.status === 401) {
      this.onUnauthorized();
      throw new ApiError(401, "the access token was refused");
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const doc = await response.json();
        detail = typeof doc.detail === "string" ? doc.detail : JSON.stringify(doc.detail);
      } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail || `HTTP ${response.status}`);
    }
    if (response.status === 204) return null;
    if (accept === "application/json") return response.json();
    return response.blob();
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  del(path) { return this.request("DELETE", path); }
  blob(path) { return this.request("GET", path, undefined, "*/*"); }

  /** A WebSocket URL on this server; browsers cannot set headers, so the token rides along. */
  wsUrl(path) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const sep = path.includes("?") ? "&" : "?";
    const token = this.token ? `${sep}token=${encodeURIComponent(this.token)}` : "";
    return `${proto}//${location.host}${path}${token}`;
  }
}
