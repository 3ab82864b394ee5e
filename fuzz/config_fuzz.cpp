// Fuzzes the configuration loader: any TOML text (and any duration string) must give
// a value or an error naming the key, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  herald::Config cfg;
  herald::ConfigLoader loader(cfg);
  (void)loader.load_toml_string(text, "fuzz");
  (void)herald::parse_duration(text);
  return 0;
}
