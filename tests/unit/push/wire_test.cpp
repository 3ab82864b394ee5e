// The reply encoders, byte for byte: the WebSocket protocol and the server API both
// print through them, and clients parse these exact texts.
#include "push/wire.h"

#include <gtest/gtest.h>

namespace herald::push::wire {
namespace {

PublicationPtr pub(std::uint64_t offset, std::string_view data) {
  return make_publication("news", offset, "e1", "p-" + std::to_string(offset), 1000 + offset, data);
}

TEST(Wire, PublicationFrameAndItsInnerObject) {
  auto p = pub(7, "{\"a\":1}");
  EXPECT_EQ(p->frame, R"({"pub":{"channel":"news","offset":7,"epoch":"e1","id":"p-7","ts":1007,"data":{"a":1}}})");
  EXPECT_EQ(p->inner(), R"({"channel":"news","offset":7,"epoch":"e1","id":"p-7","ts":1007,"data":{"a":1}})");
}

TEST(Wire, Subscribe) {
  SubscribeResult r{"e1", 3, true, std::nullopt, {}};
  EXPECT_EQ(render_subscribe(r), R"({"epoch":"e1","offset":3,"recoverable":true})");
  r.recovered = true;
  r.publications = {pub(3, "1")};
  EXPECT_EQ(render_subscribe(r), R"({"epoch":"e1","offset":3,"recoverable":true,"recovered":true,"publications":[)"
                                 R"({"channel":"news","offset":3,"epoch":"e1","id":"p-3","ts":1003,"data":1}]})");
  r.recoverable = false;
  r.recovered = false;
  r.publications.clear();
  EXPECT_EQ(render_subscribe(r),
            R"({"epoch":"e1","offset":3,"recoverable":false,"recovered":false,"publications":[]})");
}

TEST(Wire, History) {
  HistoryResult r{"e1", 2, true, {pub(1, "1"), pub(2, "2")}};
  EXPECT_EQ(render_history(r, false),
            R"({"epoch":"e1","offset":2,"publications":[{"channel":"news","offset":1,"epoch":"e1","id":"p-1",)"
            R"("ts":1001,"data":1},{"channel":"news","offset":2,"epoch":"e1","id":"p-2","ts":1002,"data":2}]})");
  r.recovered = false;
  r.publications.clear();
  EXPECT_EQ(render_history(r, true), R"({"epoch":"e1","offset":2,"recovered":false,"publications":[]})");
  EXPECT_EQ(render_history(r, true, true),
            R"({"epoch":"e1","offset":2,"recovered":false,"truncated":true,"publications":[]})");
}

TEST(Wire, PresenceEscapesIdsAndKeepsInfoAsIs) {
  PresenceResult r;
  EXPECT_EQ(render_presence(r), R"({"clients":{}})");
  r.clients = {{"c1", "u\"1", ""}, {"c2", "u2", R"({"name":"Ann"})"}};
  r.truncated = true;
  EXPECT_EQ(render_presence(r),
            R"({"clients":{"c1":{"user":"u\"1"},"c2":{"user":"u2","info":{"name":"Ann"}}},"truncated":true})");
  EXPECT_EQ(render_presence_stats(PresenceStats{3, 2}), R"({"num_clients":3,"num_users":2})");
}

TEST(Wire, PublishResultErrorsRepliesAndDisconnects) {
  EXPECT_EQ(render_publish_result(PublishResult{4, "e1", "p-4"}), R"({"offset":4,"epoch":"e1","id":"p-4"})");
  EXPECT_EQ(render_error(Errc::kBadRequest, "a \"quoted\"\nline"),
            R"({"code":"bad_request","message":"a \"quoted\"\nline"})");
  EXPECT_EQ(reply(12, "pong", "{}"), R"({"id":12,"pong":{}})");
  EXPECT_EQ(render_disconnect(4500, "slow_consumer", true),
            R"({"disconnect":{"code":4500,"reason":"slow_consumer","reconnect":true}})");
  EXPECT_EQ(json_string("\x01/é"), "\"\\u0001/é\"");
}

}  // namespace
}  // namespace herald::push::wire
