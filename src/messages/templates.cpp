// Template parsing, checking and rendering.
#include "messages/templates.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "core/json_fields.h"
#include "delivery/recipient.h"

namespace herald::messages {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxLocales = 64;

bool var_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Checks the placeholders of one text; "" if well-formed, else what is wrong.
std::string check_placeholders(std::string_view text) {
  for (std::size_t i = 0; (i = text.find("{{", i)) != std::string_view::npos;) {
    auto end = text.find("}}", i + 2);
    if (end == std::string_view::npos) return "an unclosed {{";
    auto name = text.substr(i + 2, end - i - 2);
    if (name.empty() || name.size() > 64) return "an empty or too long {{variable}}";
    for (char c : name)
      if (!var_char(c)) return "a {{variable}} with characters other than A-Z a-z 0-9 _";
    i = end + 2;
  }
  return {};
}

std::string check_value(const json::value& v) {
  if (v.is_string()) return check_placeholders(v.get_string());
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (auto w = check_value(e); !w.empty()) return w;
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object())
      if (auto w = check_value(kv.value()); !w.empty()) return w;
  }
  return {};
}

Result<std::string> substitute(std::string_view text, const json::object& vars, std::string_view where) {
  std::string out;
  std::size_t i = 0;
  while (true) {
    auto open = text.find("{{", i);
    if (open == std::string_view::npos) break;
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;  // checked at parse; kept literally otherwise
    out.append(text.substr(i, open - i));
    auto name = text.substr(open + 2, close - open - 2);
    const json::value* v = vars.if_contains(name);
    if (!v)
      return make_error(Errc::kTemplateRenderFailed,
                        "variable '" + std::string(name) + "' has no value (used in " + std::string(where) + ")");
    if (v->is_string()) {
      out.append(v->get_string());
    } else if (v->is_double()) {
      char buf[64];
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v->get_double());  // shortest form: 2.5, 0.1
      out.append(buf, ec == std::errc{} ? p : buf);
    } else {
      out.append(json::serialize(*v));  // integers and booleans as written
    }
    i = close + 2;
  }
  out.append(text.substr(i));
  return out;
}

Result<json::value> render_value(const json::value& v, const json::object& vars) {
  if (v.is_string()) {
    auto s = substitute(v.get_string(), vars, "inapp");
    if (!s) return s.error();
    return json::value(json::string(*s));
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.get_array()) {
      auto r = render_value(e, vars);
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return json::value(std::move(out));
  }
  if (v.is_object()) {
    json::object out;
    for (const auto& kv : v.get_object()) {
      auto r = render_value(kv.value(), vars);
      if (!r) return r.error();
      out[kv.key()] = std::move(*r);
    }
    return json::value(std::move(out));
  }
  return v;
}

Result<std::string> text_field(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string() || v->get_string().empty())
    return make_error(Errc::kInvalidArgument,
                      std::string(where) + "." + std::string(key) + " must be a non-empty string");
  std::string s(v->get_string());
  if (auto w = check_placeholders(s); !w.empty())
    return make_error(Errc::kInvalidArgument, std::string(where) + "." + std::string(key) + " has " + w);
  return s;
}

}  // namespace

bool valid_template_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

Result<Template> Template::parse(std::string_view name, const json::object& body) {
  if (!valid_template_name(name))
    return make_error(Errc::kInvalidArgument, "a template name is 1 to 64 of a-z 0-9 _ . -");
  Template t;
  t.name = std::string(name);
  if (auto st = only_fields(body, {"max_per_user_per_day", "locales", "name"}); !st) return st.error();
  // "name" (as GET shows it) may come back in a PUT, but must match the path.
  if (const auto* n = body.if_contains("name"); n && (!n->is_string() || n->get_string() != name))
    return make_error(Errc::kInvalidArgument, "name must match the template name in the path");
  if (const auto* cap = body.if_contains("max_per_user_per_day")) {
    if (!cap->is_int64() && !cap->is_uint64())
      return make_error(Errc::kInvalidArgument, "max_per_user_per_day must be a whole number");
    if (cap->is_int64() && cap->get_int64() < 0)
      return make_error(Errc::kInvalidArgument, "max_per_user_per_day must not be negative");
    t.max_per_user_per_day = cap->is_int64() ? static_cast<std::uint64_t>(cap->get_int64()) : cap->get_uint64();
  }
  const auto* locales = body.if_contains("locales");
  if (!locales || !locales->is_object() || locales->get_object().empty())
    return make_error(Errc::kInvalidArgument, "locales must be an object with at least one locale");
  if (locales->get_object().size() > kMaxLocales) return make_error(Errc::kInvalidArgument, "at most 64 locales");
  for (const auto& [locale, partsv] : locales->get_object()) {
    std::string where = "locales." + std::string(locale);
    if (!delivery::valid_locale(locale))
      return make_error(Errc::kInvalidArgument, where + ": not a locale tag such as en or pt-BR");
    if (!partsv.is_object()) return make_error(Errc::kInvalidArgument, where + " must be an object");
    LocaleParts parts;
    for (const auto& [channel, v] : partsv.get_object()) {
      if (channel == "inapp") {
        if (auto w = check_value(v); !w.empty()) return make_error(Errc::kInvalidArgument, where + ".inapp has " + w);
        parts.inapp = v;
      } else if (channel == "email") {
        if (!v.is_object()) return make_error(Errc::kInvalidArgument, where + ".email must be an object");
        for (const auto& kv : v.get_object())
          if (kv.key() != "subject" && kv.key() != "text")
            return make_error(Errc::kInvalidArgument, where + ".email: unknown field " + std::string(kv.key()));
        auto subject = text_field(v.get_object(), "subject", where + ".email");
        if (!subject) return subject.error();
        auto text = text_field(v.get_object(), "text", where + ".email");
        if (!text) return text.error();
        parts.email_subject = std::move(*subject);
        parts.email_text = std::move(*text);
      } else if (channel == "sms") {
        if (!v.is_object()) return make_error(Errc::kInvalidArgument, where + ".sms must be an object");
        for (const auto& kv : v.get_object())
          if (kv.key() != "text")
            return make_error(Errc::kInvalidArgument, where + ".sms: unknown field " + std::string(kv.key()));
        auto text = text_field(v.get_object(), "text", where + ".sms");
        if (!text) return text.error();
        parts.sms_text = std::move(*text);
      } else {
        return make_error(Errc::kInvalidArgument,
                          where + ": unknown channel " + std::string(channel) + " (inapp, email, sms)");
      }
    }
    if (!parts.inapp && !parts.email_text && !parts.sms_text)
      return make_error(Errc::kInvalidArgument, where + " has no inapp, email or sms part");
    t.locales.emplace(std::string(locale), std::move(parts));
  }
  return t;
}

json::object Template::to_json() const {
  json::object locs;
  for (const auto& [locale, p] : locales) {
    json::object o;
    if (p.inapp) o["inapp"] = *p.inapp;
    if (p.email_text) o["email"] = json::object{{"subject", *p.email_subject}, {"text", *p.email_text}};
    if (p.sms_text) o["sms"] = json::object{{"text", *p.sms_text}};
    locs[locale] = std::move(o);
  }
  return json::object{{"name", name}, {"max_per_user_per_day", max_per_user_per_day}, {"locales", std::move(locs)}};
}

const LocaleParts* Template::find_locale(std::string_view wanted, std::string_view fallback) const {
  if (!wanted.empty()) {
    if (auto it = locales.find(wanted); it != locales.end()) return &it->second;
    auto dash = wanted.find('-');
    if (dash != std::string_view::npos)
      if (auto it = locales.find(wanted.substr(0, dash)); it != locales.end()) return &it->second;
  }
  if (auto it = locales.find(fallback); it != locales.end()) return &it->second;
  return nullptr;
}

Result<Rendered> render(const Template& t, std::string_view locale, std::string_view fallback_locale,
                        const json::object& vars, bool need_email, bool need_sms) {
  const LocaleParts* p = t.find_locale(locale, fallback_locale);
  if (!p)
    return make_error(Errc::kTemplateRenderFailed, "template " + t.name + " has no locale " +
                                                       std::string(locale.empty() ? fallback_locale : locale) +
                                                       " and none to fall back to");
  Rendered r;
  if (p->inapp) {
    auto v = render_value(*p->inapp, vars);
    if (!v) return v.error();
    r.inapp = std::move(*v);
  }
  if (need_email) {
    if (!p->email_text)
      return make_error(Errc::kTemplateRenderFailed, "template " + t.name + " has no email part for this locale");
    auto s = substitute(*p->email_subject, vars, "email.subject");
    if (!s) return s.error();
    auto x = substitute(*p->email_text, vars, "email.text");
    if (!x) return x.error();
    r.email_subject = std::move(*s);
    r.email_text = std::move(*x);
  }
  if (need_sms) {
    if (!p->sms_text)
      return make_error(Errc::kTemplateRenderFailed, "template " + t.name + " has no sms part for this locale");
    auto x = substitute(*p->sms_text, vars, "sms.text");
    if (!x) return x.error();
    r.sms_text = std::move(*x);
  }
  return r;
}

}  // namespace herald::messages
