// Frequency caps per user and UTC day.
#include "messages/daily_caps.h"

namespace herald::messages {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// Not a valid template name, so it cannot collide with one.
const std::string kAllMessages = "*";

std::int64_t utc_day(std::int64_t ms) {
  return ms / kDayMs;
}

}  // namespace

std::string DailyCaps::key(const std::string& app_id, const std::string& user_index, const std::string& scope) {
  return app_id + '\x1f' + user_index + '\x1f' + scope;
}

bool DailyCaps::take(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                     std::uint64_t app_cap, std::uint64_t template_cap, std::int64_t now_ms) {
  const std::int64_t day = utc_day(now_ms);
  std::lock_guard lock(mu_);
  auto entry = [&](const std::string& scope) -> Count& {
    auto& e = counts_[key(app_id, user_index, scope)];
    if (e.day != day) e = Count{day, 0};
    return e;
  };
  if (counts_.size() >= max_counters_) {
    std::erase_if(counts_, [day](const auto& kv) { return kv.second.day != day; });
    if (counts_.size() >= max_counters_) return false;
  }
  if (app_cap > 0 && entry(kAllMessages).count >= app_cap) return false;
  if (template_cap > 0 && entry(template_name).count >= template_cap) return false;
  if (app_cap > 0) ++entry(kAllMessages).count;
  if (template_cap > 0) ++entry(template_name).count;
  return true;
}

void DailyCaps::give_back(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                          std::uint64_t app_cap, std::uint64_t template_cap) {
  std::lock_guard lock(mu_);
  auto drop = [&](const std::string& scope) {
    auto it = counts_.find(key(app_id, user_index, scope));
    if (it != counts_.end() && it->second.count > 0) --it->second.count;
  };
  if (app_cap > 0) drop(kAllMessages);
  if (template_cap > 0) drop(template_name);
}

void DailyCaps::seed(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                     std::uint64_t count, std::int64_t now_ms) {
  const std::int64_t day = utc_day(now_ms);
  std::lock_guard lock(mu_);
  auto& e = counts_[key(app_id, user_index, template_name.empty() ? kAllMessages : template_name)];
  if (e.day != day) e = Count{day, 0};
  e.count += count;
}

void DailyCaps::clear() {
  std::lock_guard lock(mu_);
  counts_.clear();
}

std::int64_t DailyCaps::retry_after_s(std::int64_t now_ms) {
  return ((utc_day(now_ms) + 1) * kDayMs - now_ms + 999) / 1000;
}

}  // namespace herald::messages
