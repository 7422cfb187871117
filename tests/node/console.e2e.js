// The operations console end to end, in headless Chromium (playwright-core), against a
// real waybilld that tests/integration/console_test.cpp started with carrier-sim and
// filled with exceptions of several carriers, regions and reasons.
//
//   node console.e2e.js --url http://127.0.0.1:PORT --key ADMIN_KEY --read-key READ_KEY \
//        --fixture fixture.json --screenshots DIR [--chromium /usr/bin/chromium]
//
// The fixture names the shipments in the queue by group and the ones to act on. Every
// step checks what the page shows and, after each action, what the API says. Exits 0
// when every check passed, 1 with the failed check otherwise; screenshots of each step
// go to DIR.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const args = { chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    args[name] = argv[i + 1];
  }
  for (const required of ['url', 'key', 'readKey', 'fixture', 'screenshots'])
    if (!args[required]) throw new Error(`--${required.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required`);
  return args;
}

const args = parseArgs(process.argv.slice(2));
const fixture = JSON.parse(fs.readFileSync(args.fixture, 'utf8'));
const consoleUrl = `${args.url}/console/`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function sameSet(actual, expected, what) {
  const a = [...actual].sort();
  const e = [...expected].sort();
  check(JSON.stringify(a) === JSON.stringify(e), `${what}: expected ${JSON.stringify(e)}, the page shows ${JSON.stringify(a)}`);
}

// ---- the API, to check the server's state behind what the page shows -------------

async function api(method, target, body) {
  const res = await fetch(`${args.url}${target}`, {
    method,
    headers: { Authorization: `Bearer ${args.key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function queuedIds() {
  const r = await api('GET', '/v1/exceptions?limit=1000');
  check(r.status === 200, `GET /v1/exceptions answered ${r.status}`);
  return new Set(r.json.exceptions.map((x) => x.shipment_id));
}

// ---- the page ----------------------------------------------------------------------

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = path.join(args.screenshots, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

const loads = (page) => page.$eval('#queue-table', (t) => Number(t.dataset.loads || 0));

// Runs `action` (which makes the queue load) and waits until that load finished.
async function reloadingQueue(page, action) {
  const before = await loads(page);
  await action();
  await page.waitForFunction((n) => Number(document.getElementById('queue-table').dataset.loads || 0) > n, before);
}

async function rows(page) {
  return page.$$eval('#queue-rows tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.shipment,
    order: tr.dataset.order,
    carrier: tr.querySelector('.c-carrier').textContent,
    region: tr.querySelector('.c-region').textContent,
    reason: tr.querySelector('.c-reason .tag').textContent,
  })));
}

async function filter(page, { carrier = '', region = '', reason = '' }) {
  await page.selectOption('#filter-carrier', carrier);
  await page.fill('#filter-region', region);
  await page.fill('#filter-reason', reason);
  await reloadingQueue(page, () => page.click('#filter-apply'));
  return rows(page);
}

async function signIn(page, key) {
  await page.fill('#key-input', key);
  await page.click('#key-use');
}

const row = (id) => `#queue-rows tr[data-shipment="${id}"]`;

async function waitForResult(page, id, pattern) {
  const handle = await page.waitForFunction(([sel, source]) => {
    const r = document.querySelector(`${sel} .result`);
    return r && new RegExp(source).test(r.textContent) ? r.textContent : false;
  }, [row(id), pattern.source], { timeout: 20000 });
  return handle.jsonValue();
}

async function counterValue(page, id) {
  const v = await page.$eval(`#counter-${id} .value`, (n) => n.dataset.value || '');
  return v === '' ? null : Number(v);
}

async function run(page) {
  const all = [...fixture.parcelco_us, ...fixture.freightly_ca, ...fixture.no_lane_de];

  await step('pages load without a key; a wrong key gets the 401 explained', async () => {
    const res = await page.goto(consoleUrl);
    check(res.status() === 200, `GET /console/ answered ${res.status()}`);
    check(/default-src 'none'/.test(res.headers()['content-security-policy'] || ''), 'no strict Content-Security-Policy');
    check(await page.isHidden('#main'), 'the console shows data before a key was given');
    await signIn(page, 'not-a-key');
    await page.waitForFunction(() => /401/.test(document.getElementById('key-status').textContent));
    const text = await page.textContent('#key-status');
    check(/unknown API key/.test(text), `the 401 message does not say why: "${text}"`);
    check(await page.isHidden('#main'), 'the console opened with a refused key');
    await screenshot(page, 'key-refused');
  });

  await step('the queue lists every exception, paged', async () => {
    await signIn(page, args.key);
    await page.waitForFunction(() => Number(document.getElementById('queue-table').dataset.loads || 0) > 0);
    check(/accepted/.test(await page.textContent('#key-status')), 'the key was not accepted');
    sameSet((await rows(page)).map((r) => r.id), all, 'the whole queue');
    await screenshot(page, 'queue');
    await reloadingQueue(page, () => page.selectOption('#page-size', '10'));
    const first = (await rows(page)).map((r) => r.id);
    check(first.length === 10, `page 1 of 10 shows ${first.length} rows`);
    check(await page.isEnabled('#page-next'), 'no next page although more exceptions wait');
    await reloadingQueue(page, () => page.click('#page-next'));
    const second = (await rows(page)).map((r) => r.id);
    check(second.length === all.length - 10, `page 2 shows ${second.length} rows, not ${all.length - 10}`);
    check(await page.isDisabled('#page-next'), 'a next page after the last one');
    sameSet([...first, ...second], all, 'pages 1 and 2 together');
    await screenshot(page, 'queue-page-2');
    await reloadingQueue(page, () => page.selectOption('#page-size', '50'));
  });

  await step('filters by carrier, region and reason change the rows', async () => {
    let shown = await filter(page, { carrier: 'freightly' });
    sameSet(shown.map((r) => r.id), fixture.freightly_ca, 'carrier freightly');
    check(shown.every((r) => r.carrier.startsWith('freightly')), 'a row of another carrier under carrier=freightly');
    await screenshot(page, 'filter-carrier');
    shown = await filter(page, { region: 'de' }); // typed in lower case: the page sends "DE"
    sameSet(shown.map((r) => r.id), fixture.no_lane_de, 'region DE');
    check(shown.every((r) => r.region === 'DE'), 'a row of another region under region=DE');
    await screenshot(page, 'filter-region');
    shown = await filter(page, { reason: 'no_carrier_for_lane' });
    sameSet(shown.map((r) => r.id), fixture.no_lane_de, 'reason no_carrier_for_lane');
    shown = await filter(page, { carrier: 'parcelco', region: 'US', reason: 'bad_postal_code' });
    sameSet(shown.map((r) => r.id), fixture.parcelco_us, 'parcelco, US, bad_postal_code');
    check(shown.every((r) => r.reason === 'bad_postal_code'), 'a row of another reason');
    await screenshot(page, 'filter-all-three');
    shown = await filter(page, { region: 'USA' });
    const status = await page.textContent('#queue-status');
    check(/\(400\)/.test(status) && /region/.test(status), `a bad region is not explained: "${status}"`);
    check(shown.length === 0, 'rows shown for a refused filter');
    await screenshot(page, 'filter-refused');
    await reloadingQueue(page, () => page.click('#filter-clear'));
    sameSet((await rows(page)).map((r) => r.id), all, 'the queue after Clear');
  });

  await step('resolve: retry with a corrected address books the shipment', async () => {
    const id = fixture.resolve;
    await page.click(`${row(id)} .act-resolve`);
    await page.waitForSelector('#resolve-dialog[open]');
    await page.check('#resolve-address-on');
    // The admin key sees consignee data: the form starts from the shipment's address.
    await page.waitForFunction(() => document.getElementById('addr-name').value !== '');
    check(await page.inputValue('#addr-name') === fixture.recipient_name, 'the address form did not start from the shipment');
    await page.fill('#addr-postal', fixture.good_postal_code);
    await screenshot(page, 'resolve-dialog');
    await page.click('#resolve-submit');
    await page.waitForSelector('#resolve-dialog', { state: 'hidden' });
    const text = await waitForResult(page, id, /Booked with|Back in the queue|Still booking|\(\d{3}\)/);
    check(/^Booked with parcelco/.test(text), `resolve did not end booked: "${text}"`);
    const s = await api('GET', `/v1/shipments/${id}`);
    check(s.json.booking.state === 'booked', `the API says booking ${s.json.booking.state}`);
    check(s.json.ship_to.postal_code === fixture.good_postal_code, 'the corrected postal code was not stored');
    check(s.json.tracking_numbers.length > 0 && text.includes(s.json.tracking_numbers[0]), 'the row does not show the tracking number');
    check(!(await queuedIds()).has(id), `${id} is still in the exception queue`);
  });

  await step('cancel (confirmed) takes a shipment out of the queue', async () => {
    const id = fixture.cancel;
    await page.click(`${row(id)} .act-cancel`);
    check((await page.textContent(`${row(id)} .act-cancel`)) === 'Confirm cancel', 'cancel acted without confirmation');
    await page.click(`${row(id)} .act-cancel`);
    const text = await waitForResult(page, id, /Cancelled|\(\d{3}\)/);
    check(/^Cancelled/.test(text), `cancel failed: "${text}"`);
    const s = await api('GET', `/v1/shipments/${id}`);
    check(s.json.status === 'cancelled', `the API says status ${s.json.status}`);
    check(!(await queuedIds()).has(id), `${id} is still in the exception queue`);
  });

  await step('retry as it is: the carrier refuses again and the row says so', async () => {
    const id = fixture.retry;
    await page.click(`${row(id)} .act-retry`);
    const text = await waitForResult(page, id, /Booked with|Back in the queue|Still booking|\(\d{3}\)/);
    check(/^Back in the queue: bad_postal_code/.test(text), `retry did not come back refused: "${text}"`);
    check(await page.isEnabled(`${row(id)} .act-retry`), 'the actions stay disabled on a row back in the queue');
    const t = await api('GET', `/v1/trace/${fixture.retry_order}`);
    const types = t.json.audit.filter((e) => e.subject === `shipments/${id}`).map((e) => e.type);
    check(types.includes('shipment.exception_resolved'), `no shipment.exception_resolved in ${JSON.stringify(types)}`);
    check(types.lastIndexOf('shipment.exception') > types.indexOf('shipment.exception_resolved'), 'no exception after the retry');
    check((await queuedIds()).has(id), `${id} is not back in the exception queue`);
    await screenshot(page, 'actions');
  });

  await step('the trace shows the lineage down to the tracking number and the audit trail', async () => {
    const id = fixture.resolve;
    const order = await page.getAttribute(row(id), 'data-order');
    await page.click(`${row(id)} .c-order button`);
    await page.waitForFunction((o) => document.getElementById('trace-body').dataset.order === o, order);
    const s = await api('GET', `/v1/shipments/${id}`);
    const shown = await page.$$eval('#lineage .tracking-number', (n) => n.map((x) => x.textContent));
    sameSet(shown, s.json.tracking_numbers, 'tracking numbers in the lineage');
    check(await page.isVisible(`#lineage [data-kind="shipment"][data-id="${id}"]`), 'the shipment is not in the lineage');
    const audit = await page.$$eval('#audit-rows tr', (trs) => trs.map((tr) => ({
      type: tr.dataset.type, time: tr.querySelector('.c-time').textContent, reason: tr.querySelector('.c-reason').textContent,
    })));
    const types = audit.map((a) => a.type);
    for (const t of ['order.received', 'shipment.exception', 'shipment.exception_resolved', 'shipment.booked', 'shipment.label_created'])
      check(types.includes(t), `no ${t} in the audit trail: ${JSON.stringify(types)}`);
    for (let i = 1; i < audit.length; i++)
      check(audit[i - 1].time <= audit[i].time, `audit not in time order at ${i}: ${audit[i - 1].time} > ${audit[i].time}`);
    const t = await api('GET', `/v1/trace/${order}`);
    check(audit.length === t.json.audit.length, `${audit.length} audit rows for ${t.json.audit.length} entries`);
    check(audit.find((a) => a.type === 'shipment.exception').reason.startsWith('bad_postal_code'), 'the exception row lacks its reason');
    await screenshot(page, 'trace');
  });

  await step('live counters move with new activity', async () => {
    await page.waitForFunction(() => document.querySelector('#counter-orders .value').dataset.value);
    const before = await counterValue(page, 'orders');
    const r = await api('POST', '/v1/orders', fixture.new_order);
    check(r.status === 201, `creating an order answered ${r.status}`);
    await page.waitForFunction((n) => Number(document.querySelector('#counter-orders .value').dataset.value) > n, before,
      { timeout: 15000 });
    check(await counterValue(page, 'orders') === before + 1, 'orders accepted did not grow by exactly one');
    const touched = await counterValue(page, 'operator');
    check(touched >= 3, `operator actions counter shows ${touched} after three actions`);
    await screenshot(page, 'counters');
  });

  await step('a read-only key may look but not act: the 403 is explained', async () => {
    await page.click('#key-forget');
    check(await page.isHidden('#main'), 'the console stays open after forgetting the key');
    await signIn(page, args.readKey);
    await page.waitForSelector(row(fixture.retry));
    // Nothing the admin key was shown survives the change of key...
    check(await page.isHidden('#trace-body'), 'the previous key\'s trace is still shown');
    // ...and this key, without `pii`, sees the consignee masked by the server.
    const order = await page.getAttribute(row(fixture.retry), 'data-order');
    await page.click(`${row(fixture.retry)} .c-order button`);
    await page.waitForFunction((o) => document.getElementById('trace-body').dataset.order === o, order);
    const lineage = await page.textContent('#lineage');
    check(!lineage.includes(fixture.recipient_name), `the consignee is shown unmasked to a key without pii: ${lineage}`);
    check(lineage.includes(`${fixture.recipient_name[0]}***`), `no masked consignee name in the lineage: ${lineage}`);
    await page.click(`${row(fixture.retry)} .act-retry`);
    const text = await waitForResult(page, fixture.retry, /\(\d{3}\)/);
    check(/\(403\)/.test(text) && /'ops'/.test(text), `the 403 does not name the scope: "${text}"`);
    check((await queuedIds()).has(fixture.retry), 'the refused retry changed the queue');
    await screenshot(page, 'forbidden');
  });
}

(async () => {
  fs.mkdirSync(args.screenshots, { recursive: true });
  const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  let failed = null;
  try {
    await run(page);
    check(pageErrors.length === 0, `script errors in the page: ${pageErrors.join('; ')}`);
  } catch (e) {
    failed = e;
    await screenshot(page, 'failure').catch(() => {});
  } finally {
    await browser.close();
  }
  if (failed) {
    console.error(`FAILED: ${failed.stack || failed.message}`);
    process.exit(1);
  }
  console.log(`console e2e passed; screenshots in ${args.screenshots}`);
})().catch((e) => {
  console.error(`FAILED: ${e.stack || e.message}`);
  process.exit(1);
});
