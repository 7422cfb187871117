// The trace of an order: GET /v1/trace/{order_id} drawn as its lineage - order ->
// shipments -> packages -> tracking numbers -> the invoice lines that billed them - and
// the audit trail (the order's and its shipments' events) in event-time order.
import { ApiError, el, formatTime, request, seg, setStatus } from './api.js';

function money(minor, currency) {
  if (typeof minor !== 'number') return '';
  return `${(minor / 100).toFixed(2)} ${currency || ''}`.trim();
}

function kv(label, value) {
  if (value === undefined || value === null || value === '') return null;
  return el('span', { class: 'kv' }, el('span', { class: 'k', text: label }), ' ', el('span', { class: 'v', text: value }));
}

function shipTo(party) {
  if (!party) return '';
  return [party.name, party.city, party.postal_code, party.country].filter(Boolean).join(', ');
}

function invoiceLine(entry) {
  const f = entry.freight || {};
  const line = f.invoice_line || {};
  return el('li', { class: 'node invoice-line', dataset: { kind: 'invoice-line' } },
    el('span', { class: 'kind', text: 'invoice line' }), ' ',
    el('code', { text: `${f.invoice_id || ''}:${line.line ?? ''}` }), ' ',
    el('span', { class: `tag outcome-${line.outcome || ''}`, text: line.outcome || '' }), ' ',
    kv('billed', money(line.billed_minor, f.currency)), ' ',
    kv('expected', money(line.expected_minor, f.currency)),
    line.dispute ? [' ', kv('dispute', line.dispute.state)] : null);
}

// Invoice lines hang under the tracking number they billed, else under their shipment,
// else under the order (a line matched by order reference).
function placeInvoiceLines(lines) {
  const byTracking = new Map();
  const byShipment = new Map();
  const rest = [];
  for (const entry of lines) {
    const l = (entry.freight && entry.freight.invoice_line) || {};
    if (l.tracking_number) byTracking.set(l.tracking_number, [...(byTracking.get(l.tracking_number) || []), entry]);
    else if (l.shipment_id) byShipment.set(l.shipment_id, [...(byShipment.get(l.shipment_id) || []), entry]);
    else rest.push(entry);
  }
  return { byTracking, byShipment, rest };
}

function packageNode(p, i, tracking, placed) {
  const billed = tracking ? placed.byTracking.get(tracking) || [] : [];
  if (tracking) placed.byTracking.delete(tracking);
  const size = [p.length_cm, p.width_cm, p.height_cm].every((d) => d) ? `${p.length_cm}×${p.width_cm}×${p.height_cm} cm` : '';
  return el('li', { class: 'node package', dataset: { kind: 'package' } },
    el('span', { class: 'kind', text: `package ${i + 1}` }), ' ',
    kv('weight', p.weight_kg ? `${p.weight_kg} kg` : ''), ' ', kv('size', size), p.hazmat ? ' hazmat' : '',
    el('ul', {},
      el('li', { class: 'node tracking', dataset: { kind: 'tracking' } },
        el('span', { class: 'kind', text: 'tracking number' }), ' ',
        tracking ? el('code', { class: 'tracking-number', text: tracking }) : el('span', { class: 'muted', text: 'none yet' }),
        billed.length ? el('ul', {}, billed.map(invoiceLine)) : null)));
}

function shipmentNode(s, placed) {
  const booking = s.booking || {};
  // Packages and tracking numbers are paired by position, as the carrier returned them.
  const packages = s.packages && s.packages.length ? s.packages : s.tracking_numbers.map(() => ({}));
  const extraTracking = s.tracking_numbers.slice(packages.length);
  const billed = [...(placed.byShipment.get(s.shipment_id) || [])];
  placed.byShipment.delete(s.shipment_id);
  const children = [
    ...packages.map((p, i) => packageNode(p, i, p.tracking_number || s.tracking_numbers[i], placed)),
    ...extraTracking.map((t, i) => packageNode({}, packages.length + i, t, placed)),
  ];
  return el('li', { class: 'node shipment', dataset: { kind: 'shipment', id: s.shipment_id } },
    el('span', { class: 'kind', text: 'shipment' }), ' ', el('code', { text: s.shipment_id }), ' ',
    el('span', { class: `tag status-${s.status}`, text: s.status }), ' ',
    kv('carrier', [s.carrier, s.service].filter(Boolean).join(' ')), ' ',
    kv('booking', booking.state), ' ',
    // The shipment's own ship-to: an operator's correction lives here, not on the order.
    kv('ship to', shipTo(s.ship_to)), ' ',
    kv('exception', s.exception ? `${s.exception.reason}${s.exception.message ? `: ${s.exception.message}` : ''}` : ''),
    el('ul', {}, children, billed.map(invoiceLine)));
}

function lineage(trace) {
  const o = trace.order || {};
  const to = o.ship_to || {};
  const placed = placeInvoiceLines(trace.invoice_lines || []);
  const shipments = (trace.shipments || []).map((s) => shipmentNode(s, placed));
  // Whatever found no tracking number or shipment of this trace stays with the order.
  const leftover = [...placed.rest, ...[...placed.byTracking.values()].flat(), ...[...placed.byShipment.values()].flat()];
  return el('li', { class: 'node order', dataset: { kind: 'order', id: o.order_id } },
    el('span', { class: 'kind', text: 'order' }), ' ', el('code', { text: o.order_id }), ' ',
    el('span', { class: `tag status-${o.status}`, text: o.status }), ' ',
    kv('service level', o.service_level), ' ',
    kv('ship to', shipTo(to)),
    el('ul', {}, shipments.length ? shipments : el('li', { class: 'muted', text: 'no shipment yet' }),
      leftover.map(invoiceLine)));
}

// Event time first; the commit position keeps events of the same instant in the
// order they were decided.
function byTime(a, b) {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return a.position - b.position;
}

function auditRow(e) {
  const d = e.data || {};
  const reason = d.reason || (d.milestone ? `${d.milestone.status} (${d.milestone.raw_code || ''})` : '') || d.status || '';
  return el('tr', { dataset: { type: e.type, position: e.position } },
    el('td', { class: 'c-time', text: formatTime(e.time) }),
    el('td', { class: 'c-type' }, el('code', { text: e.type })),
    el('td', { class: 'c-subject', text: e.subject }),
    el('td', { class: 'c-reason', text: reason }));
}

export class TraceView {
  constructor() {
    this.form = document.getElementById('trace-form');
    this.input = document.getElementById('trace-order');
    this.status = document.getElementById('trace-status');
    this.body = document.getElementById('trace-body');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.show(this.input.value.trim());
    });
  }

  /// Forgets what the previous key was shown (another key may lack `pii`).
  clear() {
    this.body.hidden = true;
    delete this.body.dataset.order;
    document.getElementById('lineage').replaceChildren();
    document.getElementById('audit-rows').replaceChildren();
    setStatus(this.status, '');
  }

  async show(orderId) {
    if (!orderId) return;
    this.input.value = orderId;
    this.body.hidden = true;
    delete this.body.dataset.order;
    setStatus(this.status, `Loading the trace of ${orderId}…`, 'busy');
    let trace;
    try {
      trace = await request('GET', `v1/trace/${seg(orderId)}`);
    } catch (e) {
      setStatus(this.status, e instanceof ApiError ? e.describe() : String(e), 'error');
      return;
    }
    document.getElementById('lineage').replaceChildren(lineage(trace));
    const audit = [...(trace.audit || [])].sort(byTime);
    document.getElementById('audit-rows').replaceChildren(...audit.map(auditRow));
    this.body.hidden = false;
    this.body.dataset.order = orderId; // what the lineage shows (tests wait on it)
    setStatus(this.status, `${orderId}: ${(trace.shipments || []).length} shipment(s), ${audit.length} audit entries` +
      (trace.audit_truncated ? ' (the oldest ones; the trail is longer)' : '') + '.');
    this.body.scrollIntoView({ block: 'start' });
  }
}
