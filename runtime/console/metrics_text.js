// Reading the few series the console shows out of GET /metrics.
//
// This reads the Prometheus text exposition format, version 0.0.4 - the format waybilld
// answers with - and only the part of it the counters need: comment lines ("# HELP",
// "# TYPE", any "#") and blank lines are skipped; a sample line is
//   metric_name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value [ timestamp ]
// with label values escaped as \\ \" \n, and values as Go floats plus NaN, +Inf and -Inf.
// Label values may hold any character, "}" and "," included (route labels such as
// "/v1/orders/{order_id}" do), so labels are scanned, not split. A line that does not
// follow this grammar is skipped rather than guessed at. Timestamps are ignored.

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*/y;

function skipBlanks(line, i) {
  while (line[i] === ' ' || line[i] === '\t') i++;
  return i;
}

function parseValue(token) {
  if (token === '+Inf') return Infinity;
  if (token === '-Inf') return -Infinity;
  if (token === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) return undefined;
  return Number(token);
}

// Reads a quoted label value starting at the opening quote; returns [value, index after
// the closing quote] or null.
function readQuoted(line, i) {
  if (line[i] !== '"') return null;
  let out = '';
  for (i++; i < line.length; i++) {
    const c = line[i];
    if (c === '"') return [out, i + 1];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = line[++i];
    if (next === 'n') out += '\n';
    else if (next === '\\' || next === '"') out += next;
    else return null;
  }
  return null;
}

function readLabels(line, i, labels) {
  i++; // '{'
  for (;;) {
    i = skipBlanks(line, i);
    if (line[i] === '}') return i + 1;
    LABEL.lastIndex = i;
    const m = LABEL.exec(line);
    if (!m) return -1;
    i = skipBlanks(line, i + m[0].length);
    if (line[i] !== '=') return -1;
    const quoted = readQuoted(line, skipBlanks(line, i + 1));
    if (!quoted) return -1;
    labels[m[0]] = quoted[0];
    i = skipBlanks(line, quoted[1]);
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return -1;
  }
}

/// One sample line -> { name, labels, value }, or null when it is not one.
export function parseSampleLine(line) {
  let i = skipBlanks(line, 0);
  NAME.lastIndex = i;
  const m = NAME.exec(line);
  if (!m) return null;
  i += m[0].length;
  const labels = {};
  i = skipBlanks(line, i);
  if (line[i] === '{') {
    i = readLabels(line, i, labels);
    if (i < 0) return null;
  }
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2) return null;
  const value = parseValue(rest[0]);
  if (value === undefined) return null;
  return { name: m[0], labels, value };
}

/// Every sample of an exposition text.
export function parseMetricsText(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const s = parseSampleLine(trimmed);
    if (s) samples.push(s);
  }
  return samples;
}

/// Sum of the samples named `name` whose labels include every pair of `match`; null
/// when there is no such sample (the series is not exported, which differs from 0).
export function sumSamples(samples, name, match = {}) {
  let found = false;
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    found = true;
    total += s.value;
  }
  return found ? total : null;
}
