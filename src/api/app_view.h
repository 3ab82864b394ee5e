// How an app looks in API answers: everything but its secrets (only their ids).
#pragma once

#include <boost/json.hpp>

#include "apps/app.h"

namespace herald::api {

inline boost::json::object app_view(const apps::App& a) {
  boost::json::array secrets, namespaces, cidrs, client_keys, client_secrets;
  for (const auto& s : a.client_secrets)
    client_secrets.push_back(boost::json::object{{"id", s.id}, {"created_ms", s.created_ms}});
  for (const auto& s : a.secrets) secrets.push_back(boost::json::object{{"id", s.id}, {"created_ms", s.created_ms}});
  for (const auto& n : a.namespaces) namespaces.push_back(boost::json::string(n));
  for (const auto& b : a.allowlist.blocks()) cidrs.push_back(boost::json::string(b.text()));
  for (const auto& k : a.client_keys) {
    const char* alg = k.alg == auth::JwtAlg::HS256 ? "HS256" : k.alg == auth::JwtAlg::ES256 ? "ES256" : "EdDSA";
    boost::json::object o{{"alg", alg}};
    if (!k.kid.empty()) o["kid"] = k.kid;
    client_keys.push_back(std::move(o));
  }
  return boost::json::object{{"id", a.id},
                             {"key", a.key},
                             {"name", a.name},
                             {"status", a.status == apps::AppStatus::Active ? "active" : "suspended"},
                             {"created_ms", a.created_ms},
                             {"scopes", apps::scopes_text(a.scopes)},
                             {"namespaces", std::move(namespaces)},
                             {"allowed_cidrs", std::move(cidrs)},
                             {"rate_limit", a.rate_limit},
                             {"secrets", std::move(secrets)},
                             {"client_keys", std::move(client_keys)},
                             {"jwt_audience", a.jwt_audience},
                             {"jwt_issuer", a.jwt_issuer},
                             {"require_exp", a.require_exp},
                             {"client_secrets", std::move(client_secrets)},
                             {"max_token_lifetime", a.max_token_lifetime_s},
                             {"tokens_issued_after", a.tokens_issued_after}};
}

}  // namespace herald::api
