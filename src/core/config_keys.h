// The configuration key table (core/config.cpp's registry): one function per section
// that lists its keys. Internal to core; config.cpp builds the registry from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace herald::config_detail {

Error key_error(std::string_view key, std::string_view origin, const std::string& why);
std::vector<ConfigKey> build_keys();
// Namespace options bind to cfg.namespaces[ns], created on first set.
std::vector<ConfigKey> build_namespace_keys(const std::string& ns);

}  // namespace herald::config_detail
