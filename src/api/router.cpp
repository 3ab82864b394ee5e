// Route lookup. A handful of routes: a linear scan beats hashing here.
#include "api/router.h"

#include <strings.h>

namespace herald::api {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

void Router::add(std::string method, std::string path, SyncHandler h) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(h)});
}

void Router::add_async(std::string method, std::string path, AsyncHandler h) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(h)});
}

Match Router::match(std::string_view method, std::string_view path) const {
  const Route* same_path = nullptr;
  for (const auto& r : routes_) {
    if (r.path != path) continue;
    // HEAD is answered by the GET route; the net layer drops the body.
    if (r.method == method || (method == "HEAD" && r.method == "GET")) return Match{&r, {}, r.path};
    same_path = &r;
  }
  if (same_path) return Match{nullptr, "method_not_allowed", same_path->path};
  for (const auto& p : ws_paths_)
    if (p == path) return Match{nullptr, "upgrade_required", p};
  return Match{nullptr, "not_found", "other"};
}

bool Router::is_websocket(std::string_view path) const {
  for (const auto& p : ws_paths_)
    if (p == path) return true;
  return false;
}

}  // namespace herald::api
