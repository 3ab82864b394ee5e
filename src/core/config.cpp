// Key registry, TOML/env/flag layering and rendering of the configuration.
#include "core/config.h"

#include <toml++/toml.h>

#include <fmt/format.h>

#include <cctype>
#include <sstream>

#include <unistd.h>

#include "core/config_keys.h"

namespace herald {
namespace {

using config_detail::build_keys;
using config_detail::build_namespace_keys;
using config_detail::key_error;

std::string toml_value_text(const toml::node& n, KeyType type, bool& ok) {
  ok = true;
  if (auto s = n.as_string()) return s->get();
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (auto i = n.as_integer()) {
    if (type == KeyType::Duration) {  // a bare integer duration would be ambiguous
      ok = false;
      return {};
    }
    if (i->get() < 0) {
      ok = false;
      return {};
    }
    return std::to_string(i->get());
  }
  ok = false;
  return {};
}

Status walk(ConfigLoader& loader, const toml::table& t, const std::string& prefix, std::string_view origin) {
  for (const auto& [k, v] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) {
      auto st = walk(loader, *sub, name, origin);
      if (!st) return st;
      continue;
    }
    auto key = lookup_config_key(name);
    if (!key) return key_error(name, origin, "unknown configuration key");
    bool ok = false;
    std::string text = toml_value_text(v, key->type, ok);
    if (!ok) {
      const char* want = key->type == KeyType::Duration ? "a string such as \"10s\""
                         : key->type == KeyType::Int    ? "a non-negative integer"
                         : key->type == KeyType::Bool   ? "true or false"
                                                        : "a string";
      return key_error(name, origin, std::string("expected ") + want);
    }
    auto st = loader.set(name, text, origin);
    if (!st) return st;
  }
  return ok_status();
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = build_keys();
  return keys;
}

const ConfigKey* find_config_key(std::string_view name) {
  for (const auto& k : config_keys())
    if (k.name == name) return &k;
  return nullptr;
}

bool valid_namespace_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

std::vector<ConfigKey> namespace_keys(const std::string& ns) {
  return build_namespace_keys(ns);
}

std::optional<ConfigKey> lookup_config_key(std::string_view name) {
  if (const ConfigKey* k = find_config_key(name)) return *k;
  constexpr std::string_view kPrefix = "namespaces.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto rest = name.substr(kPrefix.size());
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string ns(rest.substr(0, dot));
  if (!valid_namespace_name(ns)) return std::nullopt;
  for (auto& k : build_namespace_keys(ns))
    if (k.name == name) return k;
  return std::nullopt;
}

std::string env_name_for(std::string_view key) {
  std::string out = "HERALD_";
  for (char c : key) out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Status ConfigLoader::set(std::string_view key, std::string_view value, std::string_view origin) {
  auto k = lookup_config_key(key);
  if (!k) {
    if (key.substr(0, 11) == "namespaces.")
      return key_error(key, origin,
                       "unknown configuration key (namespace options are namespaces.<name>.<option>, "
                       "with a name of a-z, 0-9, _ and -)");
    return key_error(key, origin, "unknown configuration key");
  }
  auto st = k->set(cfg_, value);
  if (!st) return key_error(key, origin, st.error().message);
  return ok_status();
}

namespace {
// toml++ is built with exceptions here: a parse error arrives as toml::parse_error.
Error parse_failure(const toml::parse_error& err, std::string_view origin) {
  return make_error(Errc::kInvalidConfig, std::string(origin) + ":" + std::to_string(err.source().begin.line) + ":" +
                                              std::to_string(err.source().begin.column) + ": " +
                                              std::string(err.description()));
}
}  // namespace

Status ConfigLoader::load_toml_string(std::string_view text, std::string_view origin) {
  try {
    toml::table t = toml::parse(text, origin);
    return walk(*this, t, "", origin);
  } catch (const toml::parse_error& err) {
    return parse_failure(err, origin);
  }
}

Status ConfigLoader::load_toml_file(const std::string& path) {
  try {
    toml::table t = toml::parse_file(path);
    return walk(*this, t, "", path);
  } catch (const toml::parse_error& err) {
    return parse_failure(err, path);
  }
}

namespace {
// HERALD_NAMESPACES_<NAME>_<OPTION>: the option is matched from the end, since a
// namespace name may itself contain underscores; names are lower case.
std::string namespace_key_for_env(const std::string& var) {
  constexpr std::string_view kPrefix = "HERALD_NAMESPACES_";
  if (var.rfind(kPrefix, 0) != 0) return {};
  std::string rest = var.substr(kPrefix.size());
  for (const auto& k : build_namespace_keys("x")) {
    std::string opt = k.name.substr(std::string("namespaces.x.").size());
    std::string upper = "_" + env_name_for(opt).substr(7);
    if (rest.size() > upper.size() && rest.compare(rest.size() - upper.size(), upper.size(), upper) == 0) {
      std::string ns = rest.substr(0, rest.size() - upper.size());
      for (auto& c : ns) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!valid_namespace_name(ns)) return {};
      return "namespaces." + ns + "." + opt;
    }
  }
  return {};
}
}  // namespace

Status ConfigLoader::load_env(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.rfind("HERALD_", 0) != 0) continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq);
    if (name == "HERALD_CONFIG") continue;
    std::string match;
    for (const auto& k : config_keys())
      if (env_name_for(k.name) == name) match = k.name;
    if (match.empty()) match = namespace_key_for_env(name);
    if (match.empty())
      return make_error(Errc::kInvalidConfig, "environment: " + name + ": unknown configuration variable");
    auto st = set(match, std::string_view(entry).substr(eq + 1), "environment " + name);
    if (!st) return st;
  }
  return ok_status();
}

Config::Config() {
  // The namespace of channels without a `namespace:` prefix, personal channels included.
  // It keeps a short history so that a reconnecting client can recover out of the box.
  NamespaceConfig d;
  d.history_size = 100;
  namespaces.emplace("default", d);
}

namespace {

// The witness is the operator's own endpoint; what matters is that nobody between can
// forge its answers (https) and that no credential hides in the URL, where logs keep it.
Status validate_witness_url(const AuditConfig& a, bool dev) {
  const std::string& url = a.witness_url;
  if (url.empty()) {
    if (!a.witness_token_file.empty() || !a.witness_ca_file.empty())
      return make_error(Errc::kInvalidConfig,
                        "audit.witness_token_file and audit.witness_ca_file need audit.witness_url");
    return ok_status();
  }
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && !(dev && url.rfind("http://", 0) == 0))
    return make_error(Errc::kInvalidConfig, "audit.witness_url must be an https:// URL (http:// only with --dev)");
  auto rest = std::string_view(url).substr(https ? 8 : 7);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return make_error(Errc::kInvalidConfig, "audit.witness_url has no host");
  if (authority.find('@') != std::string_view::npos)
    return make_error(Errc::kInvalidConfig,
                      "audit.witness_url must not carry credentials: put the token in audit.witness_token_file");
  return ok_status();
}

}  // namespace

Status validate(const Config& cfg, bool dev) {
  if (cfg.server.tls && !dev && (cfg.server.tls_cert.empty() || cfg.server.tls_key.empty()))
    return make_error(Errc::kInvalidConfig,
                      "server.tls_cert and server.tls_key are required when server.tls is true "
                      "(use --dev for a generated development certificate, or server.tls = false behind "
                      "a TLS-terminating proxy)");
  if (cfg.server.tls_cert.empty() != cfg.server.tls_key.empty())
    return make_error(Errc::kInvalidConfig, "server.tls_cert and server.tls_key must be given together");
  if (!cfg.server.tls && !dev && cfg.server.trusted_proxies.empty())
    return make_error(Errc::kInvalidConfig,
                      "server.trusted_proxies is required when server.tls is false: list the TLS-terminating "
                      "proxy's addresses (CIDRs), or \"none\" if clients really connect directly");
  if (cfg.server.proxy_protocol && (cfg.server.trusted_proxies.empty() || cfg.server.trusted_proxies == "none"))
    return make_error(Errc::kInvalidConfig, "server.proxy_protocol needs server.trusted_proxies");
  if (!cfg.metrics.token.empty() && !cfg.metrics.token_file.empty())
    return make_error(Errc::kInvalidConfig, "metrics.token and metrics.token_file are exclusive");
  if (cfg.store.data_dir.empty()) return make_error(Errc::kInvalidConfig, "store.data_dir must not be empty");
  if (cfg.store.driver == "postgres" && cfg.store.postgres.url.empty())
    return make_error(Errc::kInvalidConfig, "store.postgres.url is required when store.driver is postgres");
  if (cfg.limits.idle_timeout < Millis(50) || cfg.limits.read_timeout < Millis(50))
    return make_error(Errc::kInvalidConfig, "timeouts must be at least 50ms");
  if (!cfg.api.require_signature && !dev)
    return make_error(Errc::kInvalidConfig, "api.require_signature = false is only allowed with --dev");
  // The log provider answers "sent" while nobody receives anything: live verifications
  // nobody can complete, silently, unless the operator asked for exactly that.
  if (!dev && !cfg.delivery.allow_log_provider &&
      (cfg.delivery.email_provider == "log" || cfg.delivery.sms.provider == "log"))
    return make_error(Errc::kInvalidConfig,
                      "delivery.email_provider or delivery.sms.provider is log, which sends nothing: configure smtp "
                      "and an SMS provider, or set delivery.allow_log_provider = true (or use --dev)");
  if (cfg.push.max_publication_bytes + 256 > cfg.push.send_queue_max_bytes)
    return make_error(Errc::kInvalidConfig, "push.send_queue_max_bytes must exceed push.max_publication_bytes");
  if (cfg.messages.default_ttl > cfg.messages.max_ttl)
    return make_error(Errc::kInvalidConfig, "messages.default_ttl must not exceed messages.max_ttl");
  if (cfg.messages.webhook_backoff > cfg.messages.webhook_backoff_max)
    return make_error(Errc::kInvalidConfig, "messages.webhook_backoff must not exceed messages.webhook_backoff_max");
  if (auto st = validate_witness_url(cfg.audit, dev); !st) return st;
  return ok_status();
}

namespace {

// A TOML basic string: every control character escaped, since TOML allows none raw (a value
// holding one, set through the environment or a flag, would otherwise render as a file
// that does not load again).
std::string toml_string(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string render_config(const Config& cfg) {
  std::ostringstream out;
  std::string section;
  for (const auto& k : config_keys()) {
    auto dot = k.name.find('.');
    std::string sec = k.name.substr(0, dot);
    if (sec != section) {
      out << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
      section = sec;
    }
    std::string value = k.get(cfg);
    out << k.name.substr(dot + 1) << " = ";
    if (k.secret && !value.empty()) {
      out << "\"<redacted>\"";
    } else if (k.type == KeyType::String || k.type == KeyType::Duration) {
      out << toml_string(value);
    } else {
      out << value;
    }
    out << "\n";
  }
  for (const auto& [ns, opts] : cfg.namespaces) {
    out << "\n[namespaces." << ns << "]\n";
    for (const auto& k : build_namespace_keys(ns)) {
      std::string value = k.get(cfg);
      out << k.name.substr(k.name.rfind('.') + 1) << " = ";
      if (k.type == KeyType::String || k.type == KeyType::Duration)
        out << toml_string(value);
      else
        out << value;
      out << "\n";
    }
  }
  return out.str();
}

std::string node_name(const ClusterConfig& cfg) {
  if (!cfg.node_name.empty()) return cfg.node_name;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == 0) return "node";
  std::string name(host);
  if (name.size() > 64) name.resize(64);
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') ch = '-';
  return name;
}

}  // namespace herald
