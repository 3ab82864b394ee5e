// Presets for the public SMS APIs, template resolution and per-message rendering.
#include "delivery/sms_request.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "core/config.h"
#include "delivery/blocking_sender.h"
#include "delivery/curl_easy.h"
#include "delivery/mail_message.h"

namespace herald::delivery {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";

struct Preset {
  std::string_view name;
  std::string_view url;
  std::string_view content_type;
  std::string_view body;
  std::string_view header;  // one "Name: value" line or empty
  std::string_view auth;
  std::string_view username, password;
  bool needs_account;
};

// The request each provider documents for sending one text message.
constexpr std::array<Preset, 4> kPresets{{
    {"twilio", "https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json", kForm,
     "To={to}&From={from}&Body={text}", "", "basic", "{account}", "{token}", true},
    {"vonage", "https://rest.nexmo.com/sms/json", kForm,
     "api_key={account}&api_secret={token}&from={from}&to={to}&text={text}", "", "none", "", "", true},
    {"messagebird", "https://rest.messagebird.com/messages", kJson,
     R"({"originator":"{from}","recipients":["{to}"],"body":"{text}"})", "Authorization: AccessKey {token}", "none", "",
     "", false},
    {"plivo", "https://api.plivo.com/v1/Account/{account}/Message/", kJson,
     R"({"src":"{from}","dst":"{to}","text":"{text}"})", "", "basic", "{account}", "{token}", true},
}};

Error invalid(std::string_view key, std::string_view why) {
  return make_error(Errc::kInvalidConfig, fmt::format("delivery.sms.{}: {}", key, why));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_token_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return kExtra.find(static_cast<char>(c)) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses "Name: value" lines into `out`, a later header replacing an earlier one of the
// same name. Returns the 1-based number of the first bad line, or 0.
std::size_t parse_headers(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return line_no;
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); }))
      return line_no;
    auto value = trim(line.substr(colon + 1));
    if (has_control_chars(value)) return line_no;
    // Framing is curl's: a configured length or host could desynchronise the request.
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Host")) return line_no;
    std::erase_if(out, [&](const auto& h) { return iequals(h.first, name); });
    out.emplace_back(std::string(name), std::string(value));
  }
  return 0;
}

enum class Escape { none, url, json, form };

struct Values {
  std::string_view to, from, text, account, token;
};

std::string substitute(std::string_view tpl, const Values& v, Escape escape) {
  auto esc = [escape](std::string_view s) -> std::string {
    switch (escape) {
      case Escape::url:
      case Escape::form:
        return percent_encode(s);
      case Escape::json:
        return json_escape(s);
      case Escape::none:
        break;
    }
    return std::string(s);
  };
  const std::pair<std::string_view, std::string_view> names[] = {
      {"{to}", v.to}, {"{from}", v.from}, {"{text}", v.text}, {"{account}", v.account}, {"{token}", v.token}};
  std::string out;
  out.reserve(tpl.size() + v.text.size() + 32);
  std::size_t i = 0;
  while (i < tpl.size()) {
    bool replaced = false;
    if (tpl[i] == '{') {
      for (const auto& [name, value] : names) {
        if (tpl.substr(i, name.size()) == name) {
          out += esc(value);
          i += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += tpl[i++];
  }
  return out;
}

Escape body_escape(std::string_view content_type) {
  if (content_type == kJson) return Escape::json;
  if (content_type == kForm) return Escape::form;
  return Escape::none;
}

bool is_phone_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  return s.size() >= 3 && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string json_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

Result<SmsTemplate> resolve_sms_template(const SmsConfig& cfg) {
  SmsTemplate t;
  t.provider = cfg.provider;
  t.from = cfg.from;
  t.account = cfg.account;
  t.token = cfg.token;
  t.ca_file = cfg.ca_file;
  t.timeout = cfg.timeout;

  const Preset* preset = nullptr;
  for (const auto& p : kPresets)
    if (p.name == cfg.provider) preset = &p;
  if (!preset && cfg.provider != "http") return invalid("provider", "unknown SMS provider '" + cfg.provider + "'");

  if (preset) {
    // A preset fixes method and content type (the request shape is the provider's);
    // url, body, headers and authentication given in the configuration win.
    t.method = "POST";
    t.content_type = std::string(preset->content_type);
    t.url = cfg.url.empty() ? std::string(preset->url) : cfg.url;
    t.body = cfg.body.empty() ? std::string(preset->body) : cfg.body;
    if (!preset->header.empty()) parse_headers(preset->header, t.headers);
    if (cfg.auth != "none") {
      t.auth = cfg.auth;
      t.username = cfg.username;
      t.password = cfg.password;
    } else {
      t.auth = std::string(preset->auth);
      t.username = cfg.username.empty() ? std::string(preset->username) : cfg.username;
      t.password = cfg.password.empty() ? std::string(preset->password) : cfg.password;
    }
    if (preset->needs_account && cfg.account.empty())
      return invalid("account", "required by the " + t.provider + " preset");
    // The preset's secret is the token, unless basic authentication has its own password.
    bool secret_given = !cfg.token.empty() || (t.auth == "basic" && !cfg.password.empty());
    if (!secret_given) return invalid("token", "required by the " + t.provider + " preset");
    if (cfg.from.empty()) return invalid("from", "required by the " + t.provider + " preset");
  } else {
    t.method = cfg.method;
    t.content_type = cfg.content_type;
    t.url = cfg.url;
    t.body = cfg.body;
    t.auth = cfg.auth;
    t.username = cfg.username;
    t.password = cfg.password;
    if (t.url.empty()) return invalid("url", "required by the http provider");
    if (t.body.empty() && t.method != "GET") return invalid("body", "required by the http provider");
  }

  if (t.method != "POST" && t.method != "PUT" && t.method != "GET")
    return invalid("method", "must be POST, PUT or GET");
  if (t.auth == "basic" && t.username.empty()) return invalid("username", "required with auth = basic");
  if (t.auth == "bearer" && t.token.empty()) return invalid("token", "required with auth = bearer");
  if (t.auth != "none" && t.auth != "basic" && t.auth != "bearer")
    return invalid("auth", "must be none, basic or bearer");
  if (auto bad = parse_headers(cfg.headers, t.headers); bad != 0)
    return invalid("headers", fmt::format("line {} is not a valid \"Name: value\" header", bad));

  // The URL as it will be requested, with sample values: https only, a host, and no
  // credentials inside it (they would end up in places a URL is shown).
  const std::string sample = substitute(t.url, {"+10000000000", t.from, "x", t.account, t.token}, Escape::url);
  auto parts = parse_url(sample);
  std::string scheme = parts.scheme;
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "https") return invalid("url", "must be an https:// URL");
  if (parts.host.empty()) return invalid("url", "has no host");
  if (parts.has_credentials) return invalid("url", "must not carry credentials; use username/password or token");
  return t;
}

SmsRequest::~SmsRequest() {
  wipe(url);
  wipe(body);
  wipe(password);
  wipe(token);
  for (auto& h : headers) wipe(h.second);
}

Result<SmsRequest> render_sms_request(const SmsTemplate& t, const OutboundMessage& msg) {
  if (!is_phone_number(msg.to)) return delivery_failed("recipient is not a phone number");
  const Values v{msg.to, t.from, msg.text, t.account, t.token};
  SmsRequest r;
  r.method = t.method;
  r.url = substitute(t.url, v, Escape::url);
  if (t.method != "GET") {
    r.body = substitute(t.body, v, body_escape(t.content_type));
    r.headers.emplace_back("Content-Type", t.content_type);
  }
  for (const auto& [name, value] : t.headers) {
    std::string rendered = substitute(value, v, Escape::none);
    if (has_control_chars(rendered)) {
      wipe(rendered);
      return delivery_failed(fmt::format("header {} would contain control characters", name));
    }
    if (iequals(name, "Content-Type"))
      std::erase_if(r.headers, [](const auto& h) { return h.first == "Content-Type"; });
    r.headers.emplace_back(name, std::move(rendered));
  }
  r.auth = t.auth;
  r.username = substitute(t.username, v, Escape::none);
  r.password = substitute(t.password, v, Escape::none);
  r.token = t.token;
  return r;
}

}  // namespace herald::delivery
