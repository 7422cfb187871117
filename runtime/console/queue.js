// The exception queue: GET /v1/exceptions with the carrier, region and reason filters
// and cursor paging the server offers, and per row the operator's levers - retry,
// resolve with corrections, cancel - through POST /v1/exceptions/{shipment_id}/resolve.
import { ApiError, el, formatTime, request, seg, setStatus, withQuery } from './api.js';
import { ResolveDialog } from './resolve.js';

const FOLLOW_POLLS = 30; // a retried booking is followed this many times...
const FOLLOW_EVERY_MS = 500; // ...this far apart, until it settles
const CONFIRM_MS = 5000; // how long "Confirm cancel" stays armed

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class QueueView {
  constructor(onTrace) {
    this.onTrace = onTrace;
    this.form = document.getElementById('queue-filters');
    this.carrierSelect = document.getElementById('filter-carrier');
    this.region = document.getElementById('filter-region');
    this.reason = document.getElementById('filter-reason');
    this.pageSize = document.getElementById('page-size');
    this.rows = document.getElementById('queue-rows');
    this.status = document.getElementById('queue-status');
    this.pageInfo = document.getElementById('page-info');
    this.first = document.getElementById('page-first');
    this.next = document.getElementById('page-next');
    this.cursors = ['']; // `after` of each page visited; the last one is shown
    this.nextAfter = null;
    this.seen = { regions: new Set(), reasons: new Set() };
    this.loads = 0; // finished loads, on the table as data-loads (tests wait on it)
    this.dialog = new ResolveDialog((entry, body, row) => this.act(row, entry, body, 'Resolve'));

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.load(true);
    });
    document.getElementById('filter-clear').addEventListener('click', () => {
      this.carrierSelect.value = '';
      this.region.value = '';
      this.reason.value = '';
      this.load(true);
    });
    this.pageSize.addEventListener('change', () => this.load(true));
    this.first.addEventListener('click', () => this.load(true));
    this.next.addEventListener('click', () => {
      if (this.nextAfter === null) return;
      this.cursors.push(this.nextAfter);
      this.load(false);
    });
  }

  /// Carriers from GET /v1/carriers: the carrier filter and the resolve dialog offer them.
  setCarriers(carriers) {
    const chosen = this.carrierSelect.value;
    this.carrierSelect.replaceChildren(el('option', { value: '', text: 'any' }),
      ...carriers.map((c) => el('option', { value: c.name, text: c.name })));
    this.carrierSelect.value = carriers.some((c) => c.name === chosen) ? chosen : '';
    this.dialog.setCarriers(carriers);
  }

  /// Forgets what the previous key was shown (another key may not see it).
  clear() {
    this.rows.replaceChildren();
    this.cursors = [''];
    this.nextAfter = null;
    this.seen = { regions: new Set(), reasons: new Set() };
    fillDatalist('known-regions', []);
    fillDatalist('known-reasons', []);
    this.updatePager(0);
    setStatus(this.status, '');
    if (this.dialog.dialog.open) this.dialog.dialog.close();
  }

  filters() {
    return {
      carrier: this.carrierSelect.value,
      region: this.region.value.trim().toUpperCase(),
      reason: this.reason.value.trim(),
    };
  }

  /// Loads the first page (`restart`) or the page at the last cursor.
  async load(restart) {
    await this.fetchPage(restart);
    this.loads += 1;
    document.getElementById('queue-table').dataset.loads = String(this.loads);
  }

  async fetchPage(restart) {
    if (restart) this.cursors = [''];
    const after = this.cursors[this.cursors.length - 1];
    const query = { ...this.filters(), limit: this.pageSize.value, after };
    setStatus(this.status, 'Loading…', 'busy');
    let page;
    try {
      page = await request('GET', withQuery('v1/exceptions', query));
    } catch (e) {
      this.rows.replaceChildren();
      this.nextAfter = null;
      this.updatePager(0);
      setStatus(this.status, e instanceof ApiError ? e.describe() : String(e), 'error');
      return;
    }
    this.nextAfter = page.next_after ?? null;
    this.rows.replaceChildren(...page.exceptions.map((x) => this.row(x)));
    for (const x of page.exceptions) {
      if (x.region) this.seen.regions.add(x.region);
      if (x.reason) this.seen.reasons.add(x.reason);
    }
    fillDatalist('known-regions', this.seen.regions);
    fillDatalist('known-reasons', this.seen.reasons);
    this.updatePager(page.exceptions.length);
    const f = this.filters();
    const narrowed = [f.carrier && `carrier ${f.carrier}`, f.region && `region ${f.region}`, f.reason && `reason ${f.reason}`]
      .filter(Boolean).join(', ');
    setStatus(this.status, page.count === 0
      ? `No shipment waits for an operator${narrowed ? ` with ${narrowed}` : ''}.`
      : `${page.count} shipment(s) on this page${narrowed ? `, ${narrowed}` : ''}.`);
  }

  updatePager(shown) {
    const page = this.cursors.length;
    this.first.disabled = page === 1;
    this.next.disabled = this.nextAfter === null;
    this.pageInfo.textContent = shown ? `page ${page}` : '';
  }

  row(x) {
    const result = el('div', { class: 'result', role: 'status' });
    const tr = el('tr', { dataset: { shipment: x.shipment_id, order: x.order_id } },
      el('td', { class: 'c-shipment' }, el('code', { text: x.shipment_id })),
      el('td', { class: 'c-order' },
        el('button', { type: 'button', class: 'link', title: 'Show the trace of this order', text: x.order_id,
          onclick: () => this.onTrace(x.order_id) })),
      el('td', { class: 'c-carrier', text: x.carrier ? `${x.carrier}${x.service ? ` ${x.service}` : ''}` : '-' }),
      el('td', { class: 'c-region', text: x.region || '-' }),
      el('td', { class: 'c-reason' }, el('span', { class: 'tag', text: x.reason }),
        x.carrier_code ? el('small', { class: 'muted', text: ` code ${x.carrier_code}` }) : null),
      el('td', { class: 'c-message', text: x.message }),
      el('td', { class: 'c-since', text: formatTime(x.since) }),
      el('td', { class: 'c-actions' }));
    const buttons = {
      retry: el('button', { type: 'button', class: 'act-retry', text: 'Retry',
        title: 'Book again as it is (after fixing the cause elsewhere)',
        onclick: () => this.act(tr, x, { action: 'retry' }, 'Retry') }),
      resolve: el('button', { type: 'button', class: 'act-resolve', text: 'Resolve…',
        title: 'Book again with another carrier or service, or a corrected address',
        onclick: () => this.dialog.open(x, tr) }),
      cancel: el('button', { type: 'button', class: 'act-cancel danger', text: 'Cancel',
        title: 'Cancel the shipment: it leaves the queue and is not booked' }),
    };
    buttons.cancel.addEventListener('click', () => this.confirmCancel(tr, x, buttons.cancel));
    tr.querySelector('.c-actions').append(buttons.retry, buttons.resolve, buttons.cancel, result);
    return tr;
  }

  // Cancelling cannot be undone: the first click arms the button, the second acts.
  confirmCancel(tr, x, button) {
    if (button.dataset.armed) {
      delete button.dataset.armed;
      button.textContent = 'Cancel';
      this.act(tr, x, { action: 'cancel' }, 'Cancel');
      return;
    }
    button.dataset.armed = 'yes';
    button.textContent = 'Confirm cancel';
    setTimeout(() => {
      if (!button.dataset.armed) return;
      delete button.dataset.armed;
      button.textContent = 'Cancel';
    }, CONFIRM_MS);
  }

  /// Sends one resolution; answers { ok } once the server took it (or { ok: false,
  /// error }), and goes on showing how a retried booking ends.
  async act(tr, x, body, label) {
    const result = tr.querySelector('.result');
    const buttons = tr.querySelectorAll('.c-actions button');
    buttons.forEach((b) => { b.disabled = true; });
    result.className = 'result busy';
    result.textContent = `${label}: sending…`;
    let shipment;
    try {
      shipment = await request('POST', `v1/exceptions/${seg(x.shipment_id)}/resolve`, body);
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      result.className = 'result error';
      result.textContent = e instanceof ApiError ? e.describe() : String(e);
      return { ok: false, error: result.textContent };
    }
    tr.dataset.outcome = body.action;
    if (body.action === 'cancel') {
      tr.classList.add('done');
      tr.dataset.state = shipment.status;
      result.className = 'result ok';
      result.textContent = `Cancelled: shipment ${shipment.status}, out of the queue.`;
      return { ok: true };
    }
    result.className = 'result busy';
    result.textContent = `${label}: accepted, booking again…`;
    this.follow(tr, x, buttons);
    return { ok: true };
  }

  // A retried booking settles within moments: show where it ends - booked with its
  // tracking numbers, or back in the queue with the carrier's new answer.
  async follow(tr, x, buttons) {
    const result = tr.querySelector('.result');
    for (let i = 0; i < FOLLOW_POLLS; i++) {
      await sleep(FOLLOW_EVERY_MS);
      let s;
      try {
        s = await request('GET', `v1/shipments/${seg(x.shipment_id)}`);
      } catch (e) {
        result.className = 'result error';
        result.textContent = e instanceof ApiError ? e.describe() : String(e);
        return;
      }
      const state = s.booking ? s.booking.state : '';
      if (state === 'booked') {
        tr.classList.add('done');
        tr.dataset.state = 'booked';
        result.className = 'result ok';
        result.textContent = `Booked with ${s.carrier} ${s.service || ''}: ${s.tracking_numbers.join(', ')}`;
        return;
      }
      if (state === 'rejected') {
        tr.dataset.state = 'rejected';
        const ex = s.exception || {};
        tr.querySelector('.c-carrier').textContent = s.carrier ? `${s.carrier} ${s.service || ''}`.trim() : '-';
        tr.querySelector('.c-reason .tag').textContent = ex.reason || '';
        tr.querySelector('.c-message').textContent = ex.message || '';
        tr.querySelector('.c-since').textContent = formatTime(s.updated_at);
        result.className = 'result warn';
        result.textContent = `Back in the queue: ${ex.reason || 'rejected'}${ex.message ? ` - ${ex.message}` : ''}`;
        buttons.forEach((b) => { b.disabled = false; });
        return;
      }
    }
    result.className = 'result warn';
    result.textContent = 'Still booking: refresh the queue later.';
  }
}

function fillDatalist(id, values) {
  document.getElementById(id).replaceChildren(...[...values].sort().map((v) => el('option', { value: v })));
}
