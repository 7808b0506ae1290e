#include "eval/results_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fm {

void ResultsTable::AddModel(const std::string& model) {
  if (std::find(models_.begin(), models_.end(), model) == models_.end()) models_.push_back(model);
}

void ResultsTable::Set(const std::string& model, const std::string& metric, double value,
                       std::optional<double> stderr_value) {
  AddModel(model);
  if (std::find(metrics_.begin(), metrics_.end(), metric) == metrics_.end()) metrics_.push_back(metric);
  Cell c;
  c.value = value;
  if (stderr_value && !std::isnan(*stderr_value)) c.se = stderr_value;
  cells_[{model, metric}] = c;
}

std::optional<double> ResultsTable::Get(const std::string& model, const std::string& metric) const {
  auto it = cells_.find({model, metric});
  if (it == cells_.end()) return std::nullopt;
  return it->second.value;
}

std::string ResultsTable::FormatValue(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(v) < 10 ? "%.4f" : "%.2f", v);
  return buf;
}

std::vector<std::vector<std::string>> ResultsTable::Cells() const {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"model"};
  header.insert(header.end(), metrics_.begin(), metrics_.end());
  rows.push_back(header);
  for (const auto& m : models_) {
    std::vector<std::string> row = {m};
    for (const auto& k : metrics_) {
      auto it = cells_.find({m, k});
      if (it == cells_.end()) {
        row.push_back("-");
      } else {
        std::string s = FormatValue(it->second.value);
        if (it->second.se) s += " ± " + FormatValue(*it->second.se);
        row.push_back(s);
      }
    }
    rows.push_back(row);
  }
  return rows;
}

namespace {
size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // code points; the table holds ASCII and "±"
  return n;
}
}  // namespace

std::string ResultsTable::RenderTerminal() const {
  auto rows = Cells();
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); c++) width[c] = std::max(width[c], DisplayWidth(r[c]));
  }
  std::string out;
  for (size_t i = 0; i < rows.size(); i++) {
    for (size_t c = 0; c < rows[i].size(); c++) {
      const std::string& s = rows[i][c];
      const std::string pad(width[c] - DisplayWidth(s), ' ');
      out += c == 0 ? s + pad : "  " + pad + s;  // model names left-aligned, numbers right-aligned
    }
    out += "\n";
    if (i == 0) {
      size_t total = 0;
      for (size_t c = 0; c < width.size(); c++) total += width[c] + (c ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

std::string ResultsTable::RenderMarkdown() const {
  auto rows = Cells();
  auto escape = [](const std::string& s) {
    std::string o;
    for (char ch : s) {
      if (ch == '|') o += '\\';
      o += ch;
    }
    return o;
  };
  std::string out;
  for (size_t i = 0; i < rows.size(); i++) {
    out += "|";
    for (const auto& s : rows[i]) {
      out += ' ';
      out += escape(s);
      out += " |";
    }
    out += "\n";
    if (i == 0) {
      out += "|---|";
      for (size_t c = 1; c < rows[0].size(); c++) out += "---:|";
      out += "\n";
    }
  }
  return out;
}

nlohmann::ordered_json ResultsTable::ToJson() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& m : models_) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (const auto& k : metrics_) {
      auto it = cells_.find({m, k});
      if (it == cells_.end()) continue;
      row[k] = it->second.value;
      if (it->second.se) row[k + "_stderr"] = *it->second.se;
    }
    j[m] = std::move(row);
  }
  return j;
}

}  // namespace fm
