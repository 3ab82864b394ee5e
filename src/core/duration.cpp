// Durations are written with a unit so that "10" is never ambiguous.
#include "core/duration.h"

#include <charconv>
#include <cstdint>
#include <limits>

namespace herald {

Result<Millis> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::kInvalidDuration, "invalid duration '" + std::string(text) +
                                                  "': use a whole number with a unit, e.g. 500ms, 10s, 2m, 1h, 7d");
  };
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return bad();
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t mul = 0;
  if (unit == "ms")
    mul = 1;
  else if (unit == "s")
    mul = 1000;
  else if (unit == "m")
    mul = 60'000;
  else if (unit == "h")
    mul = 3'600'000;
  else if (unit == "d")
    mul = 86'400'000;
  else
    return bad();
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / mul) return bad();
  return Millis(static_cast<std::int64_t>(n * mul));
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms != 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace herald
