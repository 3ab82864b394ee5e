// Rendering of the registry in Prometheus' text exposition format.
#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace herald::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) throw std::invalid_argument("histogram bounds unsorted");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
  return b;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

std::string number(double v) {
  if (v == static_cast<double>(static_cast<std::int64_t>(v))) return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto& f = counters_[name];
  if (!f) f = std::make_unique<Family<Counter>>(name, help, std::move(labels), [] { return std::make_unique<Counter>(); });
  return *f;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto& f = gauges_[name];
  if (!f) f = std::make_unique<Family<Gauge>>(name, help, std::move(labels), [] { return std::make_unique<Gauge>(); });
  return *f;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = histograms_[name];
  if (!f)
    f = std::make_unique<Family<Histogram>>(name, help, std::move(labels),
                                            [bounds] { return std::make_unique<Histogram>(bounds); });
  return *f;
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& entry : counters_) {  // no structured bindings: clang 14 cannot capture them
    const std::string& name = entry.first;
    const auto& fam = entry.second;
    header(out, name, fam->help(), "counter");
    fam->each([&](const auto& values, const Counter& c) {
      out += name + label_set(fam->labels(), values) + " " + std::to_string(c.value()) + "\n";
    });
  }
  for (const auto& entry : gauges_) {  // no structured bindings: clang 14 cannot capture them
    const std::string& name = entry.first;
    const auto& fam = entry.second;
    header(out, name, fam->help(), "gauge");
    fam->each([&](const auto& values, const Gauge& g) {
      out += name + label_set(fam->labels(), values) + " " + std::to_string(g.value()) + "\n";
    });
  }
  for (const auto& entry : histograms_) {  // no structured bindings: clang 14 cannot capture them
    const std::string& name = entry.first;
    const auto& fam = entry.second;
    header(out, name, fam->help(), "histogram");
    fam->each([&](const auto& values, const Histogram& h) {
      auto cum = h.cumulative();
      for (std::size_t i = 0; i < h.bounds().size(); ++i)
        out += name + "_bucket" + label_set(fam->labels(), values, "le=\"" + number(h.bounds()[i]) + "\"") + " " +
               std::to_string(cum[i]) + "\n";
      out += name + "_bucket" + label_set(fam->labels(), values, "le=\"+Inf\"") + " " +
             std::to_string(cum.back()) + "\n";
      out += name + "_sum" + label_set(fam->labels(), values) + " " + fmt::format("{}", h.sum()) + "\n";
      out += name + "_count" + label_set(fam->labels(), values) + " " + std::to_string(cum.back()) + "\n";
    });
  }
  return out;
}

}  // namespace herald::metrics
