// Template file parsing, lookup with locale fallback, and rendering.
#include "otp/templates.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>
#include "otp/recipient.h"

namespace herald::otp {
namespace {

constexpr std::string_view kVars[] = {"code", "app", "minutes", "purpose"};

MessageTemplate builtin() {
  return MessageTemplate{
      "Your {app} verification code is {code}. It expires in {minutes} minutes. Do not share it.",
      "Your {app} verification code",
      "Your {app} verification code is {code}.\r\n\r\nIt expires in {minutes} minutes. If you did not ask for it, "
      "ignore this message; do not share the code with anyone.\r\n"};
}

// Every {name} in `text` is a known variable; braces are not otherwise allowed.
Status check_placeholders(std::string_view text, const std::string& where) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') return make_error(Errc::kInvalidConfig, where + ": unmatched '}'");
    if (text[i] != '{') continue;
    auto end = text.find('}', i);
    if (end == std::string_view::npos) return make_error(Errc::kInvalidConfig, where + ": unmatched '{'");
    std::string_view name = text.substr(i + 1, end - i - 1);
    bool known = false;
    for (auto v : kVars) known = known || v == name;
    if (!known)
      return make_error(Errc::kInvalidConfig, where + ": unknown placeholder {" + std::string(name) +
                                                  "} (use {code} {app} {minutes} {purpose})");
    i = end;
  }
  return ok_status();
}

// Reads the string keys of one table into `t`; sub-tables are left to the caller.
Status read_fields(const toml::table& table, MessageTemplate& t, const std::string& where, bool allow_subtables) {
  for (const auto& [k, node] : table) {
    std::string key(k.str());
    std::string at = where + "." + key;
    if (node.is_table()) {
      if (!allow_subtables) return make_error(Errc::kInvalidConfig, at + ": locales do not nest");
      continue;
    }
    std::string* slot = key == "sms"             ? &t.sms
                        : key == "email_subject" ? &t.email_subject
                        : key == "email_body"    ? &t.email_body
                                                 : nullptr;
    if (!slot) return make_error(Errc::kInvalidConfig, at + ": unknown key (sms, email_subject, email_body)");
    auto s = node.value<std::string>();
    if (!s) return make_error(Errc::kInvalidConfig, at + ": must be a string");
    if (auto st = check_placeholders(*s, at); !st) return st;
    if (key != "email_subject" && s->find("{code}") == std::string::npos)
      return make_error(Errc::kInvalidConfig, at + ": must contain {code}");
    if (key == "email_subject" && s->find_first_of("\r\n") != std::string::npos)
      return make_error(Errc::kInvalidConfig, at + ": a subject is one line");
    if (s->empty() || s->size() > 4096) return make_error(Errc::kInvalidConfig, at + ": 1 to 4096 characters");
    *slot = std::move(*s);
  }
  return ok_status();
}

void inherit(MessageTemplate& t, const MessageTemplate& parent) {
  if (t.sms.empty()) t.sms = parent.sms;
  if (t.email_subject.empty()) t.email_subject = parent.email_subject;
  if (t.email_body.empty()) t.email_body = parent.email_body;
}

}  // namespace

Templates::Templates() {
  map_[{"default", ""}] = builtin();
}

Result<Templates> Templates::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::kInvalidConfig, "otp.templates_file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Result<Templates> Templates::parse(std::string_view text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return make_error(Errc::kInvalidConfig, std::string(origin) + ":" + std::to_string(err.source().begin.line) + ": " +
                                                std::string(err.description()));
  }
  Templates out;
  // "default" first, so that other templates inherit from the configured default.
  MessageTemplate base = builtin();
  if (auto* d = root["default"].as_table()) {
    if (auto st = read_fields(*d, base, std::string(origin) + ": default", true); !st) return st.error();
    inherit(base, builtin());
  }
  for (const auto& [k, node] : root) {
    std::string name(k.str());
    std::string where = std::string(origin) + ": " + name;
    if (!node.is_table())
      return make_error(Errc::kInvalidConfig, where + ": must be a table of sms/email_subject/email_body");
    if (!valid_purpose(name))
      return make_error(Errc::kInvalidConfig, where + ": a template name is 1..64 of [a-z0-9_.-]");
    const auto& table = *node.as_table();
    MessageTemplate own;
    if (auto st = read_fields(table, own, where, true); !st) return st.error();
    inherit(own, base);
    out.map_[{name, ""}] = own;
    for (const auto& [lk, lnode] : table) {
      if (!lnode.is_table()) continue;
      std::string locale(lk.str());
      std::string lwhere = where + "." + locale;
      MessageTemplate loc;
      if (auto st = read_fields(*lnode.as_table(), loc, lwhere, false); !st) return st.error();
      inherit(loc, own);
      out.map_[{name, locale}] = loc;
    }
  }
  return out;
}

const MessageTemplate* Templates::lookup(std::string_view name, std::string_view locale) const {
  std::string loc(locale);
  while (true) {
    auto it = map_.find(std::pair<std::string, std::string>(std::string(name), loc));
    if (it != map_.end()) return &it->second;
    if (loc.empty()) return nullptr;
    auto dash = loc.rfind('-');
    loc = dash == std::string::npos ? std::string() : loc.substr(0, dash);
  }
}

Result<MessageTemplate> Templates::find(std::string_view name, std::string_view purpose,
                                        std::string_view locale) const {
  if (!name.empty()) {
    if (auto* t = lookup(name, locale)) return *t;
    return make_error(Errc::kOtpTemplateNotFound, "no template named " + std::string(name));
  }
  if (auto* t = lookup(purpose, locale)) return *t;
  if (auto* t = lookup("default", locale)) return *t;
  return builtin();
}

std::string Templates::render(std::string_view text, const TemplateVars& vars) {
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      auto end = text.find('}', i);
      if (end != std::string_view::npos) {
        std::string_view n = text.substr(i + 1, end - i - 1);
        const std::string* v = n == "code"      ? &vars.code
                               : n == "app"     ? &vars.app
                               : n == "minutes" ? &vars.minutes
                               : n == "purpose" ? &vars.purpose
                                                : nullptr;
        if (v) {
          out += *v;
          i = end;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace herald::otp
