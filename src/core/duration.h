// Parsing and printing of durations in config ("500ms", "10s", "2m", "1h", "7d").
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald {

using Millis = std::chrono::milliseconds;

Result<Millis> parse_duration(std::string_view text);
std::string format_duration(Millis d);

}  // namespace herald
