// Replies are built as text directly: they embed publications that are already
// serialised, and that text is reused as is.
#include "push/wire.h"

#include <boost/json.hpp>

namespace herald::push::wire {
namespace {

void append_publications(std::string& out, const std::vector<PublicationPtr>& pubs) {
  out.append("\"publications\":[");
  for (std::size_t i = 0; i < pubs.size(); ++i) {
    if (i) out.push_back(',');
    out.append(pubs[i]->inner());
  }
  out.push_back(']');
}

const char* boolean(bool b) {
  return b ? "true" : "false";
}

}  // namespace

std::string json_string(std::string_view s) {
  return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

std::string render_subscribe(const SubscribeResult& r) {
  std::string body = "{\"epoch\":\"" + r.epoch + "\",\"offset\":" + std::to_string(r.offset) +
                     ",\"recoverable\":" + boolean(r.recoverable);
  if (r.recovered) {
    body += std::string(",\"recovered\":") + boolean(*r.recovered) + ",";
    append_publications(body, r.publications);
  }
  body += "}";
  return body;
}

std::string render_history(const HistoryResult& r, bool since_given, bool truncated) {
  std::string body = "{\"epoch\":\"" + r.epoch + "\",\"offset\":" + std::to_string(r.offset) + ",";
  if (since_given) body += std::string("\"recovered\":") + boolean(r.recovered) + ",";
  if (truncated) body += "\"truncated\":true,";
  append_publications(body, r.publications);
  body += "}";
  return body;
}

std::string render_presence(const PresenceResult& r) {
  std::string body = "{\"clients\":{";
  for (std::size_t i = 0; i < r.clients.size(); ++i) {
    const auto& c = r.clients[i];
    if (i) body += ",";
    body += json_string(c.client_id) + ":{\"user\":" + json_string(c.user);
    if (!c.info.empty()) body += ",\"info\":" + c.info;
    body += "}";
  }
  body += "}";
  if (r.truncated) body += ",\"truncated\":true";
  body += "}";
  return body;
}

std::string render_presence_stats(const PresenceStats& r) {
  return "{\"num_clients\":" + std::to_string(r.num_clients) + ",\"num_users\":" + std::to_string(r.num_users) + "}";
}

std::string render_publish_result(const PublishResult& r) {
  return "{\"offset\":" + std::to_string(r.offset) + ",\"epoch\":\"" + r.epoch + "\",\"id\":\"" + r.id + "\"}";
}

std::string render_error(Errc code, std::string_view message) {
  return "{\"code\":" + json_string(errc_code(code)) + ",\"message\":" + json_string(message) + "}";
}

std::string render_disconnect(int code, std::string_view reason, bool reconnect) {
  return "{\"disconnect\":{\"code\":" + std::to_string(code) + ",\"reason\":" + json_string(reason) +
         ",\"reconnect\":" + boolean(reconnect) + "}}";
}

std::string render_unsubscribe_push(std::string_view channel, std::string_view reason) {
  return "{\"unsubscribe\":{\"channel\":" + json_string(channel) + ",\"reason\":" + json_string(reason) + "}}";
}

std::string reply(std::uint64_t id, std::string_view method, std::string_view body) {
  std::string out;
  out.reserve(16 + method.size() + body.size());
  out.append("{\"id\":").append(std::to_string(id)).append(",\"").append(method).append("\":").append(body);
  out.push_back('}');
  return out;
}

}  // namespace herald::push::wire
