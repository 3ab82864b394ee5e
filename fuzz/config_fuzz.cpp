// Fuzzes the configuration loader: any TOML text (and any duration string) must give a value
// or an error naming the key, never a crash or an exception; what loads renders to TOML that
// loads again to the same configuration, and a duration prints as one that parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/duration.h"
#include "fuzz_target.h"

HERALD_FUZZ_TARGET(config) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  herald::Config cfg;
  herald::ConfigLoader loader(cfg);
  if (loader.load_toml_string(text, "fuzz")) {
    (void)herald::validate(cfg, true);
    (void)herald::validate(cfg, false);
    std::string rendered = herald::render_config(cfg);
    herald::Config again;
    herald::ConfigLoader reload(again);
    FUZZ_CHECK(reload.load_toml_string(rendered, "rendered").ok());
    FUZZ_CHECK(herald::render_config(again) == rendered);
  }
  if (auto d = herald::parse_duration(text)) {
    auto back = herald::parse_duration(herald::format_duration(*d));
    FUZZ_CHECK(back.ok() && *back == *d);
  }
  return 0;
}
