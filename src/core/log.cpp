// spdlog carries the lines (asynchronously, blocking when its queue is full so that
// nothing is dropped); this file decides what a line looks like.
#include "core/log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>

namespace herald::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::atomic<bool> g_json{false};
std::shared_ptr<spdlog::logger> g_logger;

const char* level_name(Level l) {
  switch (l) {
    case Level::Trace: return "trace";
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

Level parse_level(std::string_view s) {
  if (s == "trace") return Level::Trace;
  if (s == "debug") return Level::Debug;
  if (s == "warn") return Level::Warn;
  if (s == "error") return Level::Error;
  return Level::Info;
}

void json_escape(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
}

// Text values are quoted when they would otherwise be ambiguous to a reader or a grep.
void text_value(std::string& out, std::string_view s) {
  bool plain = !s.empty();
  for (unsigned char c : s)
    if (c <= ' ' || c == '"' || c == '=' || c >= 0x7f) plain = false;
  if (plain) {
    out += s;
    return;
  }
  out += '"';
  json_escape(out, s);
  out += '"';
}

std::string now_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

}  // namespace

std::string render(bool json, Level level, std::string_view event, std::initializer_list<Field> fields,
                   std::string_view timestamp) {
  std::string out;
  out.reserve(128);
  if (json) {
    out += "{\"ts\":\"";
    out += timestamp;
    out += "\",\"level\":\"";
    out += level_name(level);
    out += "\",\"event\":\"";
    json_escape(out, event);
    out += '"';
    for (const auto& f : fields) {
      out += ",\"";
      json_escape(out, f.key);
      out += "\":";
      std::visit(
          [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::string_view>) {
              out += '"';
              json_escape(out, v);
              out += '"';
            } else if constexpr (std::is_same_v<V, bool>) {
              out += v ? "true" : "false";
            } else {
              out += fmt::format("{}", v);
            }
          },
          f.value);
    }
    out += '}';
    return out;
  }
  out += timestamp;
  out += ' ';
  out += fmt::format("{:<5}", level_name(level));
  out += ' ';
  out += event;
  for (const auto& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) text_value(out, v);
          else if constexpr (std::is_same_v<V, bool>) out += v ? "true" : "false";
          else out += fmt::format("{}", v);
        },
        f.value);
  }
  return out;
}

void init(std::string_view level, std::string_view format) {
  g_level = static_cast<int>(parse_level(level));
  g_json = format == "json";
  if (!g_logger) {
    spdlog::init_thread_pool(8192, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_logger = std::make_shared<spdlog::async_logger>("herald", sink, spdlog::thread_pool(),
                                                      spdlog::async_overflow_policy::block);
    g_logger->set_pattern("%v");
    g_logger->set_level(spdlog::level::trace);
    g_logger->flush_on(spdlog::level::trace);
  }
}

void shutdown() {
  if (g_logger) {
    g_logger->flush();
    g_logger.reset();
    spdlog::shutdown();
  }
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line = render(g_json.load(std::memory_order_relaxed), level, event, fields, now_timestamp());
  if (g_logger) {
    g_logger->log(spdlog::level::info, line);
  } else {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace herald::log
