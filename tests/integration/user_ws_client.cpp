// A client of the development app over the client protocol (user_ws_client.h).
#include "user_ws_client.h"

#include <boost/json.hpp>

#include <sstream>
#include <stdexcept>

namespace herald::testing {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

UserWsClient::UserWsClient(const Server& s, const std::string& user) {
  DevApp d = dev_app(s);
  TlsOptions tls;
  tls.ca_file = s.ca_file();
  conn_ = Connection::open(s.port(), true, tls);
  auto up = ws_upgrade(*conn_, "/ws");
  if (up.status != 101) throw std::runtime_error("upgrade answered " + std::to_string(up.status));
  auto r = call("connect", {{"app", d.key}, {"token", client_token(d.client_secret, user)}});
  if (!r.contains("connect")) throw std::runtime_error("connect refused: " + json::serialize(r));
}

json::object UserWsClient::call(const std::string& method, json::object params, std::chrono::milliseconds timeout) {
  std::int64_t id = next_id_++;
  ws_send(*conn_, 1, json::serialize(json::object{{"id", id}, {method, std::move(params)}}));
  auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (auto it = replies_.find(id); it != replies_.end()) {
      json::object r = std::move(it->second);
      replies_.erase(it);
      return r;
    }
    if (!pump(deadline)) throw std::runtime_error("no reply to " + method);
  }
}

std::optional<json::object> UserWsClient::next_msg(std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (!msgs_.empty()) {
      json::object m = std::move(msgs_.front());
      msgs_.pop_front();
      return m;
    }
    if (!pump(deadline)) return std::nullopt;
  }
}

json::object UserWsClient::inbox(json::object params) {
  auto r = call("inbox", std::move(params));
  if (!r.contains("inbox")) throw std::runtime_error("inbox failed: " + json::serialize(r));
  return r.at("inbox").as_object();
}

bool UserWsClient::pump(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  if (left.count() <= 0) return false;
  auto f = ws_read(*conn_, left);
  if (!f) return false;
  if (f->opcode == 9) ws_send(*conn_, 10, f->payload);
  if (f->opcode == 8) throw std::runtime_error("closed by the server: " + std::to_string(f->close_code()));
  if (f->opcode != 1) return true;
  std::istringstream lines(f->payload);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    json::object o = json::parse(line).as_object();
    if (const auto* id = o.if_contains("id"))
      replies_[id->to_number<std::int64_t>()] = std::move(o);
    else if (const auto* m = o.if_contains("msg"))
      msgs_.push_back(m->as_object());
  }
  return true;
}

}  // namespace herald::testing
