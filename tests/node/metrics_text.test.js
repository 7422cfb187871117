// Unit test of the console's reader of the Prometheus text format
// (runtime/console/metrics_text.js, an ES module the browser loads as it is).
//   node tests/node/metrics_text.test.js      # exit 0 when every check passes
'use strict';

const assert = require('assert');
const path = require('path');
const { pathToFileURL } = require('url');

// Shaped like waybilld's own /metrics: HELP and TYPE lines, label values holding braces,
// commas and escapes, histogram series, special values, a timestamp, and lines that
// break the grammar (which are skipped, not guessed at).
const TEXT = [
  '# HELP waybill_orders_created_total Orders accepted.',
  '# TYPE waybill_orders_created_total counter',
  'waybill_orders_created_total 12',
  '# TYPE waybill_bookings_total counter',
  'waybill_bookings_total{outcome="booked"} 7',
  'waybill_bookings_total{outcome="exception"} 3',
  'waybill_bookings_total{outcome="in_doubt"} 0',
  'waybill_http_requests_total{method="GET",route="/v1/orders/{order_id}",status="200"} 5',
  'waybill_http_requests_total{method="POST",route="/v1/disputes/{dispute_id}/{action}",status="409"} 2',
  'waybill_exceptions_total{carrier="parcelco",region="US",reason="bad_postal_code"} 4',
  'waybill_exceptions_total{carrier="",region="DE",reason="no_carrier_for_lane",} 1',
  'odd_labels{a="x\\"y",b="back\\\\slash",c="line\\nbreak", d = "spaced" } 1.5e3',
  'waybill_order_to_label_seconds_bucket{le="+Inf"} 9',
  'waybill_ratio NaN',
  'waybill_low -Inf',
  'with_timestamp 42 1700000000000',
  '  indented_sample 8',
  '',
  'broken{unterminated="x 1',
  'broken_value abc',
  'broken{bad-name="x"} 1',
  'broken{a="bad \\q escape"} 1',
  'broken too many fields 1 2',
].join('\n');

(async () => {
  const file = path.join(__dirname, '..', '..', 'runtime', 'console', 'metrics_text.js');
  const { parseMetricsText, parseSampleLine, sumSamples } = await import(pathToFileURL(file).href);
  const samples = parseMetricsText(TEXT);

  assert.strictEqual(sumSamples(samples, 'waybill_orders_created_total'), 12);
  assert.strictEqual(sumSamples(samples, 'waybill_bookings_total', { outcome: 'booked' }), 7);
  assert.strictEqual(sumSamples(samples, 'waybill_bookings_total'), 10);
  assert.strictEqual(sumSamples(samples, 'waybill_http_requests_total'), 7);
  assert.strictEqual(sumSamples(samples, 'waybill_http_requests_total', { route: '/v1/orders/{order_id}' }), 5);
  assert.strictEqual(sumSamples(samples, 'waybill_exceptions_total'), 5, 'a trailing comma before } is allowed');
  assert.strictEqual(sumSamples(samples, 'waybill_exceptions_total', { region: 'DE' }), 1);
  // Absent differs from zero: the tile shows "-" for a series waybilld does not export.
  assert.strictEqual(sumSamples(samples, 'waybill_not_exported_total'), null);
  assert.strictEqual(sumSamples(samples, 'waybill_bookings_total', { outcome: 'in_doubt' }), 0);

  const odd = samples.find((s) => s.name === 'odd_labels');
  assert.deepStrictEqual(odd.labels, { a: 'x"y', b: 'back\\slash', c: 'line\nbreak', d: 'spaced' });
  assert.strictEqual(odd.value, 1500);
  assert.strictEqual(sumSamples(samples, 'waybill_order_to_label_seconds_bucket', { le: '+Inf' }), 9);
  assert.ok(Number.isNaN(sumSamples(samples, 'waybill_ratio')));
  assert.strictEqual(sumSamples(samples, 'waybill_low'), -Infinity);
  assert.strictEqual(sumSamples(samples, 'with_timestamp'), 42, 'the timestamp is not the value');
  assert.strictEqual(sumSamples(samples, 'indented_sample'), 8);

  const broken = samples.filter((s) => s.name === 'broken');
  assert.deepStrictEqual(broken, [], 'malformed lines were read');
  assert.strictEqual(samples.length, 14);
  assert.strictEqual(parseSampleLine('# TYPE x counter'), null);
  assert.strictEqual(parseSampleLine('x{a="1"}'), null, 'a sample needs a value');
  assert.strictEqual(parseSampleLine('x +Inf').value, Infinity);

  console.log(`metrics_text: ${samples.length} samples read, every check passed`);
})().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
