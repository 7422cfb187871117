// The operations console's entry point: the API key, then the three views - live
// counters, the exception queue with its actions, and the trace of an order.
import { ApiError, onUnauthorized, request, storedKey, storeKey } from './api.js';
import { Counters } from './counters.js';
import { QueueView } from './queue.js';
import { TraceView } from './trace.js';

const keyForm = document.getElementById('key-form');
const keyInput = document.getElementById('key-input');
const keyStatus = document.getElementById('key-status');
const forget = document.getElementById('key-forget');
const main = document.getElementById('main');

const trace = new TraceView();
const queue = new QueueView((orderId) => trace.show(orderId));
const counters = new Counters(document.getElementById('counter-tiles'), document.getElementById('counters-updated'));

// Whatever the last key was shown goes with it: the next key may lack `pii` or `read`.
function signedOut(message, kind = 'error') {
  counters.stop();
  queue.clear();
  trace.clear();
  main.hidden = true;
  forget.hidden = true;
  keyStatus.textContent = message;
  keyStatus.className = `key-status ${kind}`;
  keyInput.focus();
}

// A key is taken once the server accepts it for a read (GET /v1/carriers, which the
// queue needs anyway for its carrier filter); a refusal is shown as the server put it.
async function signIn(key) {
  queue.clear();
  trace.clear();
  keyStatus.textContent = 'Checking the key…';
  keyStatus.className = 'key-status busy';
  let carriers;
  try {
    carriers = await request('GET', 'v1/carriers', undefined, key);
  } catch (e) {
    storeKey('');
    signedOut(e instanceof ApiError ? e.describe() : String(e));
    return;
  }
  storeKey(key);
  keyInput.value = '';
  forget.hidden = false;
  main.hidden = false;
  keyStatus.textContent = `Key accepted. ${carriers.carriers.length} carrier(s) configured.`;
  keyStatus.className = 'key-status ok';
  queue.setCarriers(carriers.carriers);
  counters.start();
  await queue.load(true);
}

keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (key) signIn(key);
});

forget.addEventListener('click', () => {
  storeKey('');
  signedOut('Key forgotten. Enter an API key to continue.', '');
});

// A key that stops working mid-session (revoked, server restarted with other keys).
onUnauthorized((err) => {
  storeKey('');
  signedOut(err.describe());
});

if (storedKey()) signIn(storedKey());
else keyInput.focus();
