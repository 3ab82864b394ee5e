// Maps (method, path) to a handler. A path segment `{name}` matches any one non-empty
// segment and is handed to the handler as a parameter; the route's pattern is its
// metrics label, so labels stay a bounded set.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/http.h"
#include "core/errc.h"

namespace herald::api {

using SyncHandler = std::function<Response(const Request&)>;
using AsyncHandler = std::function<void(Request&&, Reply)>;

struct Route {
  std::string method;
  std::string path;
  std::variant<SyncHandler, AsyncHandler> handler;
  bool open_when_sealed = false;  // health, metrics, unseal: served while the key service is sealed
};

struct Match {
  const Route* route = nullptr;  // null: see `error`
  Errc error = Errc::kNotFound;  // kNotFound, kMethodNotAllowed, kSealed or kUpgradeRequired
  std::string_view label;        // route label for metrics
  std::vector<std::pair<std::string, std::string>> params;
};

class Router {
 public:
  void add(std::string method, std::string path, SyncHandler h, bool open_when_sealed = false);
  void add_async(std::string method, std::string path, AsyncHandler h, bool open_when_sealed = false);
  Match match(std::string_view method, std::string_view path) const;
  // Paths that switch to WebSocket; the net layer owns those sessions.
  void add_websocket(std::string path) { ws_paths_.push_back(std::move(path)); }
  bool is_websocket(std::string_view path) const;
  // While this answers true, every route not open_when_sealed (and every WebSocket
  // upgrade) is refused with "sealed".
  void set_sealed_check(std::function<bool()> sealed) { sealed_ = std::move(sealed); }
  bool sealed() const { return sealed_ && sealed_(); }
  // The server, key and admin APIs: routes under /api/ and /admin/.
  static bool is_api_route(std::string_view route) {
    return route.rfind("/api/", 0) == 0 || route.rfind("/admin/", 0) == 0;
  }
  // While this answers false (the audit log cannot write), every route not
  // open_when_sealed is refused with "audit_unavailable": nothing audited happens unaudited.
  void set_audit_check(std::function<bool()> writable) { audit_writable_ = std::move(writable); }
  bool audit_failing() const { return audit_writable_ && !audit_writable_(); }
  // Called after every answered request of the server, key and admin APIs, e.g. to
  // audit it or to count refusals; observers run in the order they were added.
  void add_observer(std::function<void(const Exchange&)> observer) { observers_.push_back(std::move(observer)); }
  void observe(const Exchange& e) const {
    if (!is_api_route(e.route)) return;
    for (const auto& o : observers_) o(e);
  }
  // Checked before an API request reaches its handler, and so before authentication:
  // an answer here (a per-source limit, say) is sent instead of the handler's.
  using Admission = std::function<std::optional<Response>(const Request&, std::string_view route)>;
  void set_admission(Admission a) { admission_ = std::move(a); }
  std::optional<Response> admit(const Request& req, std::string_view route) const {
    if (!admission_ || !is_api_route(route)) return std::nullopt;
    return admission_(req, route);
  }

 private:
  std::vector<Route> routes_;
  std::vector<std::string> ws_paths_;
  std::function<bool()> sealed_;
  std::vector<std::function<void(const Exchange&)>> observers_;
  Admission admission_;
  std::function<bool()> audit_writable_;
};

}  // namespace herald::api
