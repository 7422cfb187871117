#!/usr/bin/env bash
# Regenerates the reference tables of docs/operations.md from their sources, so the
# docs cannot drift from the code:
#   - configuration: every key of configs/waybilld.yaml with its default and comment
#   - metrics: every waybill_* family of runtime/src/metrics.cpp with type, labels, help
# Each table sits between "<!-- BEGIN generated:NAME -->" and "<!-- END generated:NAME -->".
#
#   scripts/gen-docs.sh           # rewrite docs/operations.md
#   scripts/gen-docs.sh --check   # exit 1 with a diff when it is out of date (CTest: docs_up_to_date)
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/operations.md
config=configs/waybilld.yaml
metrics=runtime/src/metrics.cpp

# Markdown table of the config: one row per key (dotted path), section rows in bold.
# A value's comment is its meaning; comment-only lines inside a section extend the
# section's meaning, except commented-out examples ("# - ...", "# key: ...").
config_table() {
  awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function cell(s) { gsub(/\|/, "\\|", s); return s }
    # Splits "value  # comment" at the first # outside quotes.
    function split_comment(s,   i, c, q) {
      q = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (q == "" && (c == "\"" || c == sq)) q = c
        else if (q != "" && c == q) q = ""
        else if (q == "" && c == "#" && (i == 1 || substr(s, i - 1, 1) == " ")) {
          VALUE = trim(substr(s, 1, i - 1)); COMMENT = trim(substr(s, i + 1)); return
        }
      }
      VALUE = trim(s); COMMENT = ""
    }
    function flush_row() {
      if (row_key == "") return
      if (row_section) printf "| **`%s`** | | %s |\n", row_key, cell(row_meaning)
      else printf "| `%s` | %s | %s |\n", row_key, (row_value == "" ? "" : "`" cell(row_value) "`"), cell(row_meaning)
      row_key = ""
    }
    BEGIN { print "| Key | Default | Meaning |"; print "|---|---|---|"; started = 0 }
    /^[ ]*$/ { next }
    {
      match($0, /^ */); indent = RLENGTH / 2; line = substr($0, RLENGTH + 1)
    }
    line ~ /^#/ {
      if (!started) next                       # the file header
      text = trim(substr(line, 2))
      if (text ~ /^- / || text ~ /^[a-z_]+: /) next   # commented-out example
      # Indented deeper than the last key: the rest of the comment of that key. Otherwise it
      # belongs to the section that encloses its indentation.
      if (nrows > 0 && indent > last_indent) extra[nrows] = extra[nrows] " " text
      else if (indent > 0 && section_row[indent - 1] != "") extra[section_row[indent - 1]] = extra[section_row[indent - 1]] " " text
      next
    }
    line ~ /^- / {                             # list item: part of the value of the key above
      split_comment(substr(line, 3))
      list_value = (list_value == "" ? "" : list_value "; ") VALUE
      pending_list = 1
      next
    }
    /^ *[a-z_]+:/ {
      started = 1
      if (pending_list) { rows[nrows, "value"] = list_value; list_value = ""; pending_list = 0 }
      name = line; sub(/:.*/, "", name)
      rest = line; sub(/^[a-z_]+:/, "", rest)
      split_comment(rest)
      path[indent] = name
      key = name
      for (i = indent - 1; i >= 0; i--) key = path[i] "." key
      nrows++
      rows[nrows, "key"] = key
      rows[nrows, "value"] = VALUE
      rows[nrows, "meaning"] = COMMENT
      rows[nrows, "section"] = (VALUE == "")
      last_indent = indent
      section_row[indent] = (VALUE == "" ? nrows : "")
      for (i = indent + 1; i < 10; i++) section_row[i] = ""
    }
    END {
      if (pending_list) rows[nrows, "value"] = list_value
      for (r = 1; r <= nrows; r++) {
        row_key = rows[r, "key"]; row_value = rows[r, "value"]
        row_meaning = rows[r, "meaning"] (r in extra ? extra[r] : "")
        # A key whose value is a list is not a section, though its line holds no value.
        row_section = rows[r, "section"] && row_value == "" && rows[r + 1, "key"] ~ ("^" row_key "\\.")
        flush_row()
      }
    }
  ' sq="'" "$config"
}

# Markdown table of the metric families: name, type, labels (literal values listed),
# help. Two registration styles exist in metrics.cpp: family("name", "help", type) for
# sampled values, and prometheus::Build*().Name().Help() for counters and histograms.
metrics_table() {
  # One statement per line: calls that span lines are joined up to their ";".
  awk '{ line = line (line == "" ? "" : " ") $0 } /;[ ]*$|^[ ]*$|\{[ ]*$|\}[ ]*$/ { print line; line = "" } END { if (line != "") print line }' "$metrics" |
  awk '
    function cell(s) { gsub(/\|/, "\\|", s); return s }
    function strings(s, out,   n) {           # string literals of s, in order
      n = 0
      while (match(s, /"[^"]*"/)) { out[++n] = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) }
      return n
    }
    function add_label(metric, key, value) {
      if (!((metric, key) in seen_key)) { seen_key[metric, key] = 1; keys[metric] = keys[metric] (keys[metric] == "" ? "" : ", ") key; order[metric, ++nkeys[metric]] = key }
      if (value != "" && !((metric, key, value) in seen_val)) {
        seen_val[metric, key, value] = 1
        vals[metric, key] = vals[metric, key] (vals[metric, key] == "" ? "" : "|") value
      }
    }
    # Labels in {{"k", v}, {"k2", "lit"}}: a quoted value is a literal, listed.
    function labels(metric, s,   rest, k, v) {
      rest = s
      while (match(rest, /\{"[a-z_]+", [^}]*\}/)) {
        pair = substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH)
        match(pair, /"[a-z_]+"/); k = substr(pair, RSTART + 1, RLENGTH - 2)
        v = substr(pair, RSTART + RLENGTH); sub(/^, */, "", v)
        if (v ~ /^"[^"]*"$/) v = substr(v, 2, length(v) - 2); else v = ""
        add_label(metric, k, v)
      }
    }
    function define(metric, type, help) {
      if (!(metric in type_of)) { names[++n] = metric }
      type_of[metric] = type; help_of[metric] = help
    }
    # family("waybill_x", "help", MetricType::Counter) bound to a local variable
    /auto [a-z_]+ = family\("waybill_/ {
      var = $0; sub(/^ *auto /, "", var); sub(/ =.*/, "", var)
      k = strings($0, s)
      type = $0; sub(/.*MetricType::/, "", type); sub(/\).*/, "", type)
      define(s[1], tolower(type), s[2]); var_metric[var] = s[1]
      next
    }
    # add_sample(var, value, {{"carrier", name}, {"outcome", "sent"}})
    /add_sample\([a-z_]+,/ {
      var = $0; sub(/.*add_sample\(/, "", var); sub(/,.*/, "", var)
      if (var in var_metric) labels(var_metric[var], $0)
      next
    }
    # impl_->member = &prometheus::BuildCounter().Name("waybill_x").Help("help")...;
    /impl_->[a-z_]+ = &prometheus::Build/ {
      member = $0; sub(/^ *impl_->/, "", member); sub(/ =.*/, "", member)
      type = $0; sub(/.*prometheus::Build/, "", type); sub(/\(.*/, "", type)
      name = $0; sub(/.*\.Name\("/, "", name); sub(/".*/, "", name)
      help = $0; sub(/.*\.Help\("/, "", help); sub(/"\).*/, "", help)
      define(name, tolower(type), help); member_metric[member] = name
      next
    }
    # member->Add({{"method", method}, ...}) with labels
    /[a-z_]+->Add\(\{\{/ {
      m = $0; sub(/->Add.*/, "", m); sub(/.*[^a-z_]/, "", m)
      if (m in member_metric) labels(member_metric[m], $0)
      next
    }
    END {
      print "| Metric | Type | Labels | Meaning |"
      print "|---|---|---|---|"
      for (i = 1; i <= n; i++) {
        m = names[i]; l = ""
        for (j = 1; j <= nkeys[m]; j++) {
          k = order[m, j]
          l = l (l == "" ? "" : ", ") "`" k ((m, k) in vals ? "=" cell(vals[m, k]) : "") "`"
        }
        printf "| `%s` | %s | %s | %s |\n", m, type_of[m], l, cell(help_of[m])
      }
    }
  '
}

# Replaces the block NAME of the document on stdin with the file $2.
splice() {
  awk -v name="$1" -v file="$2" '
    $0 == "<!-- BEGIN generated:" name " -->" { print; while ((getline l < file) > 0) print l; skip = 1; found = 1; next }
    $0 == "<!-- END generated:" name " -->" { skip = 0 }
    !skip { print }
    END { if (!found) { print "gen-docs: no block " name > "/dev/stderr"; exit 1 } }
  '
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
config_table >"$tmp/config.md"
metrics_table >"$tmp/metrics.md"
# A registration style the table does not know would drop a metric silently: refuse.
missing=$(comm -23 <(grep -o '"waybill_[a-z0-9_]*"' "$metrics" | tr -d '"' | sort -u) \
                   <(grep -o '^| `waybill_[a-z0-9_]*' "$tmp/metrics.md" | cut -c4- | sort -u))
if [ -n "$missing" ]; then
  echo "gen-docs: metrics of $metrics not understood, teach metrics_table(): ${missing//$'\n'/ }" >&2
  exit 1
fi
splice config "$tmp/config.md" <"$doc" | splice metrics "$tmp/metrics.md" >"$tmp/doc.md"

if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$doc" "$tmp/doc.md"; then
    echo "gen-docs: $doc is out of date; run scripts/gen-docs.sh" >&2
    exit 1
  fi
  exit 0
fi
cp "$tmp/doc.md" "$doc"
