// Structured logging: an event name plus key/value fields, rendered as text for a
// terminal or as one JSON object per line. Never pass a secret as a field.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace herald::log {

enum class Level { Trace, Debug, Info, Warn, Error };

struct Field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  Field(std::string_view k, I v) : key(k), value(static_cast<std::int64_t>(v)) {}
};

// Configures the process-wide logger. `format` is "text" or "json"; output goes to stderr.
void init(std::string_view level, std::string_view format);
// Flushes and stops the background writer; call before exit.
void shutdown();
bool enabled(Level level);

void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

inline void trace(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Trace, e, f); }
inline void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Debug, e, f); }
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Error, e, f); }

// Renders one line without the logger, for tests and for the formatter itself.
std::string render(bool json, Level level, std::string_view event, std::initializer_list<Field> fields,
                   std::string_view timestamp);

}  // namespace herald::log
