// JSON bodies and answers of the routes.
#include "api/json_body.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <charconv>

namespace herald::api {

Response ok_json(int status, const boost::json::value& v) {
  return Response{status, "application/json", boost::json::serialize(v), {}};
}

void wipe_json(boost::json::value& v) {
  if (auto* s = v.if_string()) {
    OPENSSL_cleanse(s->data(), s->size());
  } else if (auto* o = v.if_object()) {
    for (auto& kv : *o) wipe_json(kv.value());
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) wipe_json(e);
  }
}

Response secret_json(int status, boost::json::value v) {
  Response r = ok_json(status, v);
  wipe_json(v);
  r.sensitive = true;
  return r;
}

Result<boost::json::object> body_object(const Request& req, std::size_t max_depth) {
  boost::json::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = max_depth;
  boost::json::value v = boost::json::parse(req.body, ec, {}, opts);
  if (ec || !v.is_object()) return make_error(Errc::kInvalidJson, "the body must be a JSON object");
  return std::move(v.get_object());
}

Result<std::string> text_field(const boost::json::object& o, std::string_view name, bool required) {
  auto* v = o.if_contains(name);
  if (!v || v->is_null()) {
    if (required) return make_error(Errc::kInvalidArgument, std::string(name) + " is required");
    return std::string();
  }
  if (!v->is_string()) return make_error(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(v->get_string());
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
    if (ec != std::errc{} || p != text.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto p = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!p.empty()) {
      auto eq = p.find('=');
      // Read as the canonical form of docs/signing.md reads it: the decoded name, and
      // no '=' meaning an empty value.
      auto decoded_name = percent_decode(p.substr(0, eq));
      if (decoded_name && *decoded_name == name) {
        if (found) return std::nullopt;  // given twice: no one value is the one signed
        found = percent_decode(eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1));
        if (!found) return std::nullopt;
      }
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return found;
}

std::optional<std::uint64_t> query_u64(std::string_view query, std::string_view name) {
  auto v = query_param(query, name);
  if (!v || v->empty()) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || end != v->data() + v->size()) return std::nullopt;
  return n;
}

}  // namespace herald::api
