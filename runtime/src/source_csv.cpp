// CSV files through a source profile: records -> rows grouped by order id -> drafts ->
// canonical commands. A row's mistake rejects its own order only.
#include <algorithm>
#include <unordered_map>

#include <simdjson.h>

#include "source_draft.hpp"

namespace waybill::runtime {

namespace {

using detail::Draft;
using detail::Scope;
using detail::Slot;
using detail::SourceFailure;

struct Group {
  std::string id;
  std::vector<const CsvRecord*> rows;
  std::optional<RowReject> bad;  // a row of this order could not be read
};

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

void reject_file(CsvMapping* out, size_t line, std::string field, std::string reason) {
  out->orders.clear();
  out->rejects = {RowReject{line, "", std::move(field), std::move(reason) + "; nothing in this file was imported"}};
}

// First line of `text` that is not valid UTF-8 (1-based), 0 when all are.
size_t first_invalid_utf8_line(std::string_view text) {
  if (simdjson::validate_utf8(text.data(), text.size())) return 0;
  size_t line = 1;
  for (size_t pos = 0; pos <= text.size(); ++line) {
    size_t end = std::min(text.find('\n', pos), text.size());
    if (!simdjson::validate_utf8(text.data() + pos, end - pos)) return line;
    pos = end + 1;
  }
  return 1;
}

class GroupMapper {
 public:
  GroupMapper(const SourceProfile& p, const std::unordered_map<std::string, size_t>& index, const IntakeLimits& limits)
      : p_(p), index_(index), limits_(limits) {}

  // The order of one group, or the failure that rejects it.
  Result<actors::CreateOrder> map(const Group& g, size_t* failed_line) {
    Draft d;
    d.order.line = g.rows.front()->line;
    for (auto& spec : p_.fields) {
      Scope scope = detail::scope_of(p_, spec.target, false);
      if (scope == Scope::order) {
        if (auto f = order_value(spec, g, &d.order)) return fail(*f, failed_line);
        continue;
      }
    }
    for (auto* row : g.rows) {
      for (Scope scope : {Scope::line, Scope::package}) {
        if (!carries(*row, scope)) continue;
        Slot slot;
        slot.line = row->line;
        for (auto& spec : p_.fields) {
          if (detail::scope_of(p_, spec.target, false) != scope) continue;
          std::optional<std::string> raw;
          if (!spec.column.empty()) raw = row->fields[index_.at(spec.column)];
          std::optional<detail::Value> v;
          if (auto f = detail::resolve(spec, raw, detail::label_of(spec, slot, false), row->line, &v))
            return fail(*f, failed_line);
          if (v) slot.values[spec.target] = std::move(*v);
        }
        (scope == Scope::line ? d.lines : d.packages).push_back(std::move(slot));
      }
    }
    return detail::finish(p_, d, limits_, failed_line);
  }

 private:
  static Status fail(const SourceFailure& f, size_t* line) {
    *line = f.line;
    return f.status;
  }

  // A row adds a line (or package) when any of its line (package) columns has a value.
  bool carries(const CsvRecord& row, Scope scope) const {
    for (auto& spec : p_.fields)
      if (!spec.column.empty() && detail::scope_of(p_, spec.target, false) == scope &&
          !trimmed(row.fields[index_.at(spec.column)]).empty())
        return true;
    return false;
  }

  // Order-level values repeat on every row of the order; they must agree.
  std::optional<SourceFailure> order_value(const FieldSpec& spec, const Group& g, Slot* slot) {
    std::optional<std::string> chosen;
    size_t chosen_line = g.rows.front()->line;
    if (!spec.column.empty()) {
      for (auto* row : g.rows) {
        auto v = trimmed(row->fields[index_.at(spec.column)]);
        if (v.empty()) continue;
        if (!chosen) {
          chosen = v;
          chosen_line = row->line;
        } else if (*chosen != v) {
          return SourceFailure{{Code::invalid_argument,
                                "is '" + v + "' here but '" + *chosen + "' on line " + std::to_string(chosen_line) +
                                    " of the same order",
                                spec.column},
                               row->line};
        }
      }
    }
    std::optional<detail::Value> v;
    if (auto f = detail::resolve(spec, chosen, detail::label_of(spec, *slot, false), chosen_line, &v)) return f;
    if (v) slot->values[spec.target] = std::move(*v);
    return std::nullopt;
  }

  const SourceProfile& p_;
  const std::unordered_map<std::string, size_t>& index_;
  const IntakeLimits& limits_;
};

void reject_group(const Group& g, size_t line, const Status& st, CsvMapping* out) {
  for (auto* row : g.rows) {
    if (row->line == line) out->rejects.push_back({line, g.id, st.field(), st.message()});
    else out->rejects.push_back({row->line, g.id, "order_id", "order rejected because of line " + std::to_string(line)});
  }
}

}  // namespace

CsvMapping map_csv_file(const SourceProfile& p, std::string_view text, const IntakeLimits& limits, size_t max_rows) {
  CsvMapping out;
  if (size_t bad_line = first_invalid_utf8_line(text)) {
    reject_file(&out, bad_line, "file", "is not valid UTF-8");
    return out;
  }
  std::vector<CsvRecord> records;
  size_t skipped = 0;
  const size_t most = max_rows + (p.csv.header ? 1 : 0);
  bool too_many = false;
  auto st = read_csv(text, p.csv.csv, [&](CsvRecord& r) {
    if (skipped < p.csv.skip_records) {
      ++skipped;
      return true;
    }
    if (records.size() == most) {
      too_many = true;
      return false;
    }
    records.push_back(std::move(r));
    return true;
  });
  if (!st.ok()) {
    size_t line = std::strtoul(st.field().c_str() + std::min<size_t>(5, st.field().size()), nullptr, 10);
    reject_file(&out, line, "file", st.message());
    return out;
  }
  if (too_many) {
    reject_file(&out, 0, "file", "has more than " + std::to_string(max_rows) + " rows (intake.max_rows); split it");
    return out;
  }
  if (p.csv.header && records.empty()) {
    reject_file(&out, 0, "file", "has no header record");
    return out;
  }
  std::vector<std::string> columns = p.csv.header ? records.front().fields : p.csv.columns;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < columns.size(); ++i) index.emplace(trimmed(columns[i]), i);
  for (auto& spec : p.fields)
    if (!spec.column.empty() && !index.count(spec.column)) {
      reject_file(&out, p.csv.header ? records.front().line : 0, spec.column,
                  "column is missing from the header (profile '" + p.source + "')");
      return out;
    }
  const size_t id_col = index.at(p.field("order_id")->column);

  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> by_id;
  for (size_t i = p.csv.header ? 1 : 0; i < records.size(); ++i) {
    const CsvRecord& r = records[i];
    ++out.rows;
    std::string id = id_col < r.fields.size() ? trimmed(r.fields[id_col]) : "";
    std::optional<RowReject> bad;
    if (r.fields.size() != columns.size())
      bad = RowReject{r.line, id, "row",
                      "has " + std::to_string(r.fields.size()) + " fields but the header has " +
                          std::to_string(columns.size()) + " (check the delimiter and quoting)"};
    if (id.empty()) {
      out.rejects.push_back(bad ? *bad : RowReject{r.line, "", columns[id_col], "order id is empty"});
      continue;
    }
    auto [it, fresh] = by_id.emplace(id, groups.size());
    if (fresh) groups.push_back(Group{id, {}, std::nullopt});
    auto& g = groups[it->second];
    g.rows.push_back(&r);
    if (bad && !g.bad) g.bad = bad;
  }

  GroupMapper mapper(p, index, limits);
  for (auto& g : groups) {
    if (g.bad) {
      reject_group(g, g.bad->line, {Code::invalid_argument, g.bad->reason, g.bad->field}, &out);
      continue;
    }
    size_t line = 0;
    auto cmd = mapper.map(g, &line);
    if (!cmd) {
      reject_group(g, line ? line : g.rows.front()->line, cmd.status(), &out);
      continue;
    }
    MappedOrder m{std::move(*cmd), {}};
    for (auto* row : g.rows) m.lines.push_back(row->line);
    out.orders.push_back(std::move(m));
  }
  std::stable_sort(out.rejects.begin(), out.rejects.end(), [](auto& a, auto& b) { return a.line < b.line; });
  return out;
}

}  // namespace waybill::runtime
