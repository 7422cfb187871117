// The console's only way to the server: the JSON API, with the operator's key.
//
// The key lives in sessionStorage (this tab, until it closes) and travels as
// "Authorization: Bearer <key>". Answers that are not 2xx become ApiError values
// carrying the problem document (RFC 9457) the server sent, so every view can say
// what went wrong in the server's own words.

const KEY_STORAGE = 'waybill.console.key';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /// One line for an operator: status, what the server said, and what to do about it.
  describe() {
    const p = this.problem;
    const where = p.field ? `${p.field}: ` : '';
    if (this.status === 401)
      return `Not signed in (401): ${p.detail || 'the key was refused'}. Enter a valid API key.`;
    if (this.status === 403)
      return `Not allowed (403): ${p.detail || 'this key lacks a scope'}` +
        (p.required_scope ? ` - a key with '${p.required_scope}' can do this.` : '.');
    if (this.status === 0) return `No answer from the server: ${p.detail}`;
    return `${p.title || 'Refused'} (${this.status}): ${where}${p.detail || ''}`;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// Listeners told about every 401, so the page can ask for a key again wherever the
// refusal happened.
const unauthorizedListeners = [];
export function onUnauthorized(fn) {
  unauthorizedListeners.push(fn);
}

async function problemOf(res) {
  const text = await res.text();
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === 'object') return doc;
  } catch (_) {
    // not JSON: fall through
  }
  return { title: res.statusText || 'Error', status: res.status, detail: text.slice(0, 200) };
}

/// Calls the API at `path` ("v1/...", relative to the server root: the console lives
/// one level below it, so this also works behind a path prefix); resolves to the
/// parsed JSON body, rejects with an ApiError.
export async function request(method, path, body, key = storedKey()) {
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`../${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, { title: 'Network error', detail: String(e.message || e) });
  }
  if (!res.ok) {
    const err = new ApiError(res.status, await problemOf(res));
    if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(err));
    throw err;
  }
  return res.status === 204 ? null : res.json();
}

/// A path with its query: parameters with empty values are left out.
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/// Percent-encodes one path segment (ids may hold '/', '?', spaces).
export function seg(id) {
  return encodeURIComponent(id);
}

/// A DOM element with attributes and children; text is always set as text, never parsed
/// as HTML, so nothing the server returns can become markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/// "2026-11-28T10:00:00.123456Z" -> "2026-11-28 10:00:00.123 UTC" (operators compare
/// times with logs, which are in UTC; milliseconds tell apart what one request did).
export function formatTime(iso) {
  if (!iso) return '';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(iso);
  return m ? `${m[1]} ${m[2]}${m[3] || ''} UTC` : iso;
}

export function setStatus(node, text, kind = '') {
  node.textContent = text;
  node.className = `status ${kind}`.trim();
}
