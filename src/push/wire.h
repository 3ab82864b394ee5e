// The JSON text of push results, shared by the WebSocket protocol (docs/protocol.md) and
// the server API (docs/server-api.md), so that both say the same thing byte for byte.
// Publications are embedded as the text they were serialised to once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "push/broker.h"

namespace herald::push::wire {

// A JSON string literal, quotes included.
std::string json_string(std::string_view s);

// `{"epoch":…,"offset":…,"recoverable":…[,"recovered":…,"publications":[…]]}`
std::string render_subscribe(const SubscribeResult& r);
// `{"epoch":…,"offset":…,["recovered":…,]["truncated":true,]"publications":[…]}`;
// `recovered` only when the request gave `since`.
std::string render_history(const HistoryResult& r, bool since_given, bool truncated = false);
// `{"clients":{"<client>":{"user":…[,"info":{…}]},…}[,"truncated":true]}`
std::string render_presence(const PresenceResult& r);
// `{"num_clients":…,"num_users":…}`
std::string render_presence_stats(const PresenceStats& r);
// `{"offset":…,"epoch":…,"id":…}`
std::string render_publish_result(const PublishResult& r);
// `{"code":…,"message":…}`
std::string render_error(Errc code, std::string_view message);
// `{"disconnect":{"code":…,"reason":…,"reconnect":…}}`
std::string render_disconnect(int code, std::string_view reason, bool reconnect);
// `{"unsubscribe":{"channel":…,"reason":…}}`: the server ended a subscription.
std::string render_unsubscribe_push(std::string_view channel, std::string_view reason);
// A protocol reply: `{"id":<id>,"<method>":<body>}`.
std::string reply(std::uint64_t id, std::string_view method, std::string_view body);

}  // namespace herald::push::wire
