// Per-user frequency caps for the current UTC day: one count per (app, user) over all
// messages and one per (app, user, template), each checked against its own cap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::messages {

class DailyCaps {
 public:
  // At most `max_counters` counters are held; when full, yesterday's are forgotten
  // first, then publishes that need a new counter are refused.
  explicit DailyCaps(std::size_t max_counters = 4'000'000) : max_counters_(max_counters) {}
  DailyCaps(const DailyCaps&) = delete;
  DailyCaps& operator=(const DailyCaps&) = delete;

  // Counts one message unless a cap (0: none) is reached; false when refused, and then
  // nothing is counted.
  bool take(const std::string& app_id, const std::string& user_index, const std::string& template_name,
            std::uint64_t app_cap, std::uint64_t template_cap, std::int64_t now_ms);
  // Undoes a take() whose message was not stored.
  void give_back(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                 std::uint64_t app_cap, std::uint64_t template_cap);

  // Adds `count` messages stored today (at load); an empty template name adds to the
  // app-wide count.
  void seed(const std::string& app_id, const std::string& user_index, const std::string& template_name,
            std::uint64_t count, std::int64_t now_ms);
  void clear();

  // Seconds from `now_ms` to the next UTC midnight, rounded up: when a refused user may
  // try again.
  static std::int64_t retry_after_s(std::int64_t now_ms);

 private:
  struct Count {
    std::int64_t day = 0;
    std::uint64_t count = 0;
  };
  // `scope` is a template name, or kAllMessages for the app-wide count.
  static std::string key(const std::string& app_id, const std::string& user_index, const std::string& scope);

  const std::size_t max_counters_;
  std::mutex mu_;
  std::unordered_map<std::string, Count> counts_;
};

}  // namespace herald::messages
