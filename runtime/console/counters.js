// Live counters: a few series of GET /metrics, re-read every few seconds.
//
// /metrics is waybilld's own figures (no key needed, as for Prometheus); the console
// only reads them, so the numbers are the ones dashboards and alerts see.
import { el } from './api.js';
import { parseMetricsText, sumSamples } from './metrics_text.js';

export const REFRESH_MS = 3000;

// What each tile shows: a metric name and the labels its samples must carry (summed).
const TILES = [
  { id: 'orders', label: 'Orders accepted', metric: 'waybill_orders_created_total' },
  { id: 'booked', label: 'Labels booked', metric: 'waybill_bookings_total', match: { outcome: 'booked' } },
  { id: 'exceptions', label: 'Exceptions raised', metric: 'waybill_bookings_total', match: { outcome: 'exception' } },
  { id: 'operator', label: 'Operator actions', metric: 'waybill_operator_actions_total' },
  { id: 'milestones', label: 'Milestones applied', metric: 'waybill_milestones_total', match: { outcome: 'applied' } },
  { id: 'backlog', label: 'Bookings under way', metric: 'waybill_booking_backlog' },
  { id: 'events', label: 'Events emitted', metric: 'waybill_events_emitted_total' },
];

function formatNumber(v) {
  if (v === null) return '-';
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2);
}

export class Counters {
  constructor(container, updatedNode) {
    this.updatedNode = updatedNode;
    this.values = new Map();
    this.timer = null;
    this.nodes = new Map();
    container.replaceChildren(
      ...TILES.map((t) => {
        const value = el('span', { class: 'value', text: '-' });
        const delta = el('span', { class: 'delta' });
        this.nodes.set(t.id, { value, delta });
        return el('div', { class: 'tile', id: `counter-${t.id}`, dataset: { counter: t.id } },
          el('span', { class: 'label', text: t.label }), value, delta);
      }));
  }

  start() {
    this.stop();
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    let samples;
    try {
      const res = await fetch('../metrics', { cache: 'no-store', credentials: 'omit' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      samples = parseMetricsText(await res.text());
    } catch (e) {
      this.updatedNode.textContent = `counters unavailable: ${e.message}`;
      this.updatedNode.classList.add('error');
      return;
    }
    for (const t of TILES) {
      const v = sumSamples(samples, t.metric, t.match);
      const { value, delta } = this.nodes.get(t.id);
      const before = this.values.get(t.id);
      value.textContent = formatNumber(v);
      value.dataset.value = v === null ? '' : String(v);
      if (before !== undefined && v !== null && before !== null && v !== before) {
        const d = v - before;
        delta.textContent = `${d > 0 ? '+' : ''}${formatNumber(d)}`;
        delta.classList.toggle('up', d > 0);
        delta.classList.toggle('down', d < 0);
      } else {
        delta.textContent = '';
      }
      this.values.set(t.id, v);
    }
    this.updatedNode.classList.remove('error');
    this.updatedNode.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC, every ${REFRESH_MS / 1000} s`;
  }
}
