// Route lookup. A handful of routes: a linear scan beats hashing here.
#include "api/router.h"

#include <strings.h>

namespace herald::api {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

void Router::add(std::string method, std::string path, SyncHandler h, bool open_when_sealed) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(h), open_when_sealed});
}

void Router::add_async(std::string method, std::string path, AsyncHandler h, bool open_when_sealed) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(h), open_when_sealed});
}

namespace {

// Matches `path` against `pattern`, collecting `{name}` segments.
bool path_matches(std::string_view pattern, std::string_view path,
                  std::vector<std::pair<std::string, std::string>>* params) {
  if (pattern.find('{') == std::string_view::npos) return pattern == path;
  std::size_t pi = 0, si = 0;
  while (pi <= pattern.size() && si <= path.size()) {
    auto pe = pattern.find('/', pi), se = path.find('/', si);
    std::string_view pseg = pattern.substr(pi, pe == std::string_view::npos ? pattern.npos : pe - pi);
    std::string_view sseg = path.substr(si, se == std::string_view::npos ? path.npos : se - si);
    if (pseg.size() > 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (sseg.empty()) return false;
      if (params) params->emplace_back(std::string(pseg.substr(1, pseg.size() - 2)), std::string(sseg));
    } else if (pseg != sseg) {
      return false;
    }
    if ((pe == std::string_view::npos) != (se == std::string_view::npos)) return false;
    if (pe == std::string_view::npos) return true;
    pi = pe + 1;
    si = se + 1;
  }
  return false;
}

}  // namespace

Match Router::match(std::string_view method, std::string_view path) const {
  const Route* same_path = nullptr;
  for (const auto& r : routes_) {
    if (!path_matches(r.path, path, nullptr)) continue;
    // HEAD is answered by the GET route; the net layer drops the body.
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      if (!r.open_when_sealed && sealed()) return Match{nullptr, Errc::kSealed, r.path, {}};
      if (!r.open_when_sealed && audit_failing()) return Match{nullptr, Errc::kAuditUnavailable, r.path, {}};
      Match m{&r, {}, r.path, {}};
      path_matches(r.path, path, &m.params);
      return m;
    }
    same_path = &r;
  }
  if (same_path) return Match{nullptr, Errc::kMethodNotAllowed, same_path->path};
  for (const auto& p : ws_paths_)
    if (p == path) return Match{nullptr, sealed() ? Errc::kSealed : Errc::kUpgradeRequired, p, {}};
  return Match{nullptr, Errc::kNotFound, "other"};
}

bool Router::is_websocket(std::string_view path) const {
  for (const auto& p : ws_paths_)
    if (p == path) return true;
  return false;
}

}  // namespace herald::api
