// The messages service (docs/messages.md) against a real SQLite store in a temporary
// directory, a dev-unsealed key service, a fake clock, a fake pusher, a fake webhook
// poster and a recording e-mail/SMS sender. The scheduler is driven by tick(). Requests
// and answers go through the API's parsers and views, as in the server.
#include "messages/message_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <mutex>
#include <thread>

#include "api/message_requests.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "delivery/sender.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/message_records.h"
#include "store/store.h"

namespace herald::messages {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::int64_t kStart = 1'795'428'000'000;  // 2026-11-23 10:00 UTC
constexpr auto kWait = 5s;

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

// Records what would have been sent; can be told to fail.
class RecordingSender final : public delivery::Sender {
 public:
  std::string_view name() const override { return "recording"; }
  void send(delivery::OutboundMessage msg, delivery::SendDone done) override {
    {
      std::lock_guard lock(mu);
      sent.push_back(msg);
    }
    if (fail) return done(make_error(Errc::kDeliveryFailed, "provider said 500"));
    done(ok_status());
  }
  std::vector<delivery::OutboundMessage> messages() {
    std::lock_guard lock(mu);
    return sent;
  }
  std::mutex mu;
  std::vector<delivery::OutboundMessage> sent;
  std::atomic<bool> fail{false};
};

class RecordingSenders final : public delivery::Senders {
 public:
  delivery::Sender* for_channel(std::string_view c) override { return c == "sms" || c == "email" ? &sender : nullptr; }
  void stop() override {}
  RecordingSender sender;
};

// Records webhook requests and answers each with the next scripted outcome (or
// "delivered" when none is left); in hold mode it keeps the callback for later.
class FakeWebhooks {
 public:
  WebhookPoster poster() {
    return [this](delivery::WebhookRequest req, std::function<void(delivery::WebhookOutcome)> done) {
      std::optional<delivery::WebhookOutcome> answer;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(req));
        if (hold_) {
          held_.push_back(std::move(done));
          return;
        }
        answer = delivery::WebhookOutcome{true, false, 200, "", std::nullopt};
        if (!script_.empty()) {
          answer = script_.front();
          script_.pop_front();
        }
      }
      done(*answer);
    };
  }
  void script(delivery::WebhookOutcome o, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) script_.push_back(o);
  }
  void hold(bool on) {
    std::lock_guard lock(mu_);
    hold_ = on;
  }
  // Answers the oldest held request.
  void answer_held(delivery::WebhookOutcome o) {
    std::function<void(delivery::WebhookOutcome)> done;
    {
      std::lock_guard lock(mu_);
      ASSERT_FALSE(held_.empty());
      done = std::move(held_.front());
      held_.pop_front();
    }
    done(std::move(o));
  }
  std::vector<delivery::WebhookRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

  static delivery::WebhookOutcome retryable(int status) {
    return {false, true, status, "http " + std::to_string(status), std::nullopt};
  }
  static delivery::WebhookOutcome refused(int status) {
    return {false, false, status, "http " + std::to_string(status), std::nullopt};
  }
  static delivery::WebhookOutcome delivered() { return {true, false, 200, "", std::nullopt}; }

 private:
  std::mutex mu_;
  std::vector<delivery::WebhookRequest> requests_;
  std::deque<delivery::WebhookOutcome> script_;
  std::deque<std::function<void(delivery::WebhookOutcome)>> held_;
  bool hold_ = false;
};

struct Push {
  std::string app, user, frame;
};

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  start([p](Result<T> o) { p->set_value(std::move(o)); });
  if (f.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within " << kWait.count() << " s";
    return make_error(Errc::kInternal, "no answer in time");
  }
  return f.get();
}

std::uint64_t seq_of(const std::string& id) {
  // msg_<seq>_<random>
  return std::stoull(id.substr(4, id.find('_', 4) - 4));
}

struct MessageFixture : ::testing::Test {
  MessageFixture() {
    std::string t = ::testing::TempDir() + "/messages-XXXXXX";
    dir = mkdtemp(t.data());
    cfg.webhook_backoff = Millis(1000);
    cfg.webhook_backoff_max = Millis(60'000);
    cfg.webhook_max_attempts = 3;
    open();
  }
  ~MessageFixture() override {
    close();
    std::filesystem::remove_all(dir);
  }
  void open() {
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    EXPECT_TRUE(keys->ensure_app_keys("app1").ok());
    EXPECT_TRUE(keys->ensure_app_keys("app2").ok());
    make_service();
  }
  void make_service() {
    service =
        std::make_unique<MessageService>(cfg, *db, *keys, &senders, webhooks.poster(), &registry, clock.as_clock());
    service->set_pusher([this](const std::string& app, const std::string& user, std::string frame) -> std::size_t {
      std::lock_guard lock(push_mu);
      pushes.push_back(Push{app, user, std::move(frame)});
      auto it = connections.find(user);
      return it == connections.end() ? 0 : it->second;
    });
    ASSERT_TRUE(service->load().ok());
  }
  void close() {
    service.reset();
    keys.reset();
    if (db) db->close();
    db.reset();
  }
  // A server restart: everything reloaded from the store.
  void restart() {
    close();
    open();
  }

  Result<Published> publish(std::string_view body, const std::string& app = "app1") {
    auto req = api::parse_publish(obj(body), service->publish_limits());
    if (!req) return req.error();
    return wait<Published>([&](Done<Published> d) { service->publish(app, std::move(*req), std::move(d)); });
  }
  std::string publish_ok(std::string_view body, const std::string& app = "app1") {
    auto r = publish(body, app);
    EXPECT_TRUE(r.ok()) << body << " -> " << r.error().code << ": " << r.error().message;
    return r.ok() ? r->id : std::string();
  }
  // An answer rendered as the API renders it.
  template <class T, class Render>
  static Result<json::object> rendered(Result<T> r, Render render) {
    if (!r) return r.error();
    return render(*r);
  }
  Result<json::object> update_settings(const std::string& app, const json::object& patch) {
    auto p = api::parse_settings_patch(patch);
    if (!p) return p.error();
    return rendered(
        wait<SettingsUpdated>([&](Done<SettingsUpdated> d) { service->update_settings(app, *p, std::move(d)); }),
        api::settings_updated_json);
  }
  json::object settings(std::string_view patch, const std::string& app = "app1") {
    auto r = update_settings(app, obj(patch));
    EXPECT_TRUE(r.ok()) << patch << " -> " << r.error().code << ": " << r.error().message;
    return r.ok() ? *r : json::object();
  }
  json::object settings_view(const std::string& app) { return api::settings_json(service->settings(app)); }
  Result<json::object> set_contacts_result(const std::string& app, const std::string& user, const json::object& body) {
    auto c = api::parse_contacts(body);
    if (!c) return c.error();
    return rendered(
        wait<Contacts>([&](Done<Contacts> d) { service->set_contacts(app, user, std::move(*c), std::move(d)); }),
        [&](const Contacts& v) { return api::contacts_json(v, user); });
  }
  void set_contacts(const std::string& user, std::string_view body, const std::string& app = "app1") {
    auto r = set_contacts_result(app, user, obj(body));
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  }
  Result<json::object> contacts_of(const std::string& app, const std::string& user) {
    return rendered(service->contacts(app, user), [&](const Contacts& c) { return api::contacts_json(c, user); });
  }
  void put_template(const std::string& name, std::string_view body) {
    json::object b = obj(body);
    auto r = wait<Template>([&](Done<Template> d) { service->put_template("app1", name, b, std::move(d)); });
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  }
  Result<json::object> status_of(const std::string& app, const std::string& id) {
    return rendered(service->status(app, id), api::status_json);
  }
  Result<json::object> inbox_view(const std::string& app, const std::string& user, const std::string& after,
                                  std::size_t limit) {
    return rendered(service->inbox(app, user, after, limit), api::inbox_json);
  }
  Result<json::object> dead_letters(const std::string& app, std::size_t limit) {
    return rendered(service->dead_letters(app, limit), api::dead_letters_json);
  }
  Result<json::object> replay_view(const std::string& app, const std::string& id) {
    return rendered(wait<std::string>([&](Done<std::string> d) { service->replay_dead_letter(app, id, std::move(d)); }),
                    api::replayed_json);
  }

  // Every write queued so far is committed: the store's writer runs them in order.
  void barrier() {
    auto st = store::wait_for([&](store::Completion c) { db->messages().add_message_events({}, std::move(c)); });
    EXPECT_TRUE(st.ok());
  }
  // Waits until the work a tick started (writes, sends, webhook settlements) is done.
  void drain() {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (service->in_flight() > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "tick work still in flight after " << kWait.count() << " s";
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    barrier();
  }
  // One scheduler pass at `t`, and its work finished.
  void run(std::int64_t t) {
    clock.set(t);
    service->tick(t);
    drain();
  }
  // A webhook step writes its job in the step's commit, so the attempt is made by the
  // next pass (messages.poll_interval later in the server); here: at the same time.
  void run_twice(std::int64_t t) {
    run(t);
    run(t);
  }

  json::object status(const std::string& id, const std::string& app = "app1") {
    auto s = status_of(app, id);
    EXPECT_TRUE(s.ok()) << id << ": " << (s.ok() ? "" : s.error().code_name());
    return s.ok() ? *s : json::object();
  }
  std::string state(const std::string& id) {
    auto s = status(id);
    return s.contains("state") ? std::string(s.at("state").as_string()) : "";
  }
  // The trail as "event" or "event/channel".
  std::vector<std::string> trail(const std::string& id) {
    std::vector<std::string> out;
    auto s = status(id);
    if (!s.contains("trail")) return out;
    for (const auto& e : s.at("trail").as_array()) {
      std::string t(e.at("event").as_string());
      if (e.as_object().contains("channel")) t += "/" + std::string(e.at("channel").as_string());
      out.push_back(std::move(t));
    }
    return out;
  }
  std::vector<std::string> inbox_ids(const std::string& user, const std::string& app = "app1") {
    std::vector<std::string> out;
    auto r = inbox_view(app, user, "", 500);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return out;
    for (const auto& m : r->at("messages").as_array()) out.emplace_back(m.at("id").as_string());
    return out;
  }
  push::ClientIdentity who(const std::string& user, const std::string& app = "app1") {
    return push::ClientIdentity{app, user, "client-1", ""};
  }
  std::vector<Push> pushed() {
    std::lock_guard lock(push_mu);
    return pushes;
  }
  std::optional<store::WebhookJobRecord> job(const std::string& id) {
    auto j = db->messages().webhook_job(seq_of(id));
    EXPECT_TRUE(j.ok());
    return j.ok() ? *j : std::nullopt;
  }

  MessagesConfig cfg;
  std::string dir;
  metrics::Registry registry;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  RecordingSenders senders;
  FakeWebhooks webhooks;
  std::unique_ptr<MessageService> service;
  ManualClock clock{kStart};
  std::mutex push_mu;
  std::vector<Push> pushes;
  std::map<std::string, std::size_t> connections;
};

using V = std::vector<std::string>;

// ---- publish, status, inbox, ack ----------------------------------------------------

TEST_F(MessageFixture, PublishStoresPushesAndAckRemovesFromInbox) {
  connections["u1"] = 2;
  auto r = publish(R"({"to_user": "u1", "data": {"title": "Hi", "n": 1}, "priority": "high"})");
  ASSERT_TRUE(r.ok()) << r.error().code;
  const std::string id = r->id;
  EXPECT_TRUE(id.starts_with("msg_")) << id;
  EXPECT_EQ(r->state, "pending");
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->connections, 2u);

  auto p = pushed();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].app, "app1");
  EXPECT_EQ(p[0].user, "u1");
  auto frame = json::parse(p[0].frame).as_object();
  ASSERT_TRUE(frame.contains("msg"));
  const auto& msg = frame.at("msg").as_object();
  EXPECT_EQ(msg.at("id").as_string(), id);
  EXPECT_EQ(msg.at("ts").to_number<std::int64_t>(), kStart);
  EXPECT_EQ(msg.at("priority").as_string(), "high");
  EXPECT_FALSE(msg.contains("template"));
  EXPECT_EQ(msg.at("data"), json::parse(R"({"title": "Hi", "n": 1})"));

  barrier();
  auto s = status(id);
  EXPECT_EQ(s.at("id").as_string(), id);
  EXPECT_EQ(s.at("user").as_string(), "u1");
  EXPECT_EQ(s.at("state").as_string(), "pending");
  EXPECT_EQ(s.at("created_ms").to_number<std::int64_t>(), kStart);
  EXPECT_EQ(s.at("expires_ms").to_number<std::int64_t>(), kStart + cfg.default_ttl.count());
  EXPECT_EQ(s.at("channels").as_array().size(), 0u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "delivered"}));
  EXPECT_EQ(s.at("trail").as_array().at(2).at("connections").to_number<int>(), 2);

  auto inbox = inbox_view("app1", "u1", "", 50);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->at("messages").as_array().size(), 1u);
  const auto& item = inbox->at("messages").as_array()[0].as_object();
  EXPECT_EQ(item.at("id").as_string(), id);
  EXPECT_EQ(item.at("data"), json::parse(R"({"title": "Hi", "n": 1})"));
  EXPECT_EQ(item.at("priority").as_string(), "high");
  EXPECT_TRUE(inbox->at("next").is_null());
  EXPECT_EQ(inbox_ids("u2"), V{});

  clock.advance(1000);
  ASSERT_TRUE(service->ack_now(who("u1"), id).ok());
  barrier();
  EXPECT_EQ(state(id), "acked");
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "delivered", "acked"}));
  EXPECT_EQ(inbox_ids("u1"), V{});
  // Acknowledging twice is fine.
  EXPECT_TRUE(service->ack_now(who("u1"), id).ok());
  barrier();
  EXPECT_EQ(trail(id).size(), 4u);
}

TEST_F(MessageFixture, WithoutLiveConnectionsNothingIsDeliveredButItIsStored) {
  auto r = publish(R"({"to_user": "u1", "data": "plain"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->connections, 0u);
  EXPECT_EQ(pushed().size(), 1u);  // tried once
  barrier();
  EXPECT_EQ(trail(r->id), (V{"accepted", "stored"}));
  EXPECT_EQ(inbox_ids("u1"), V{r->id});
}

TEST_F(MessageFixture, AckAndStatusNeverCrossUsersOrApps) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1})");
  ASSERT_FALSE(id.empty());
  // Another user of the same app.
  auto other = service->ack_now(who("u2"), id);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Errc::kMessageNotFound);
  // The same user name in another app.
  auto other_app = service->ack_now(who("u1", "app2"), id);
  ASSERT_FALSE(other_app.ok());
  EXPECT_EQ(other_app.error().code, Errc::kMessageNotFound);
  auto s = status_of("app2", id);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kMessageNotFound);
  EXPECT_EQ(inbox_ids("u1", "app2"), V{});
  barrier();
  EXPECT_EQ(state(id), "pending");

  // Unknown and garbled ids.
  std::string wrong_suffix = id.substr(0, id.rfind('_') + 1) + "000000000000";
  std::string next_seq = "msg_" + std::to_string(seq_of(id) + 1) + id.substr(id.rfind('_'));
  for (const std::string& bad :
       {std::string(), std::string("msg_"), std::string("msg__"), std::string("msg_abc_def"), std::string("msg_1"),
        std::string("msg_-1_aa"), std::string("msg_99999_abcdef"), std::string("nope"), std::string(300, 'x'),
        std::string("msg_1_") + std::string(200, 'a'), wrong_suffix, next_seq, id + "x"}) {
    auto a = service->ack_now(who("u1"), bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.error().code, Errc::kMessageNotFound) << bad;
    auto st = status_of("app1", bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, Errc::kMessageNotFound) << bad;
  }
  EXPECT_EQ(state(id), "pending");
  EXPECT_TRUE(service->ack_now(who("u1"), id).ok());
}

TEST_F(MessageFixture, TemplatedPublishPushesTheRenderedInappPart) {
  put_template("order.shipped", R"({"locales": {
      "en": {"inapp": {"title": "Order {{order}} shipped", "n": "{{n}}"}},
      "de": {"inapp": {"title": "Bestellung {{order}}"}}}})");
  connections["u1"] = 1;
  auto r = publish(R"({"to_user": "u1", "template": "order.shipped", "vars": {"order": "A7", "n": 3}})");
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  auto p = pushed();
  ASSERT_EQ(p.size(), 1u);
  auto msg = json::parse(p[0].frame).at("msg");
  EXPECT_EQ(msg.at("template").as_string(), "order.shipped");
  EXPECT_EQ(msg.at("data"), json::parse(R"({"title": "Order A7 shipped", "n": "3"})"));

  auto de = publish(R"({"to_user": "u1", "template": "order.shipped", "vars": {"order": "B8"}, "locale": "de-AT"})");
  ASSERT_TRUE(de.ok()) << de.error().message;
  auto s = status(de->id);
  EXPECT_EQ(s.at("template").as_string(), "order.shipped");
  EXPECT_EQ(s.at("data"), json::parse(R"({"title": "Bestellung B8"})"));

  auto missing = publish(R"({"to_user": "u1", "template": "order.shipped", "vars": {"n": 1}})");
  EXPECT_EQ(missing.error().code, Errc::kTemplateRenderFailed);
  EXPECT_NE(missing.error().message.find("order"), std::string::npos) << missing.error().message;
  EXPECT_EQ(publish(R"({"to_user": "u1", "template": "nope"})").error().code, Errc::kTemplateNotFound);
  // The en locale has no e-mail part: an e-mail fallback cannot be rendered.
  EXPECT_EQ(publish(R"({"to_user": "u1", "template": "order.shipped", "vars": {"order": "x", "n": 1},
                        "channels": ["email"]})")
                .error()
                .code,
            Errc::kTemplateRenderFailed);
  EXPECT_EQ(inbox_ids("u1").size(), 2u);
}

// ---- idempotency ------------------------------------------------------------------------

TEST_F(MessageFixture, IdempotencyKeyStoresOnceSequentially) {
  auto first = publish(R"({"to_user": "u1", "data": {"v": 1}, "idempotency_key": "order-17"})");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->duplicate);
  auto second = publish(R"({"to_user": "u1", "data": {"v": 2}, "idempotency_key": "order-17"})");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->state, "pending");
  EXPECT_EQ(pushed().size(), 1u);
  EXPECT_EQ(inbox_ids("u1"), V{first->id});
  EXPECT_EQ(status(first->id).at("data"), json::parse(R"({"v": 1})"));

  // Keys are per app.
  auto other_app = publish(R"({"to_user": "u1", "data": {"v": 3}, "idempotency_key": "order-17"})", "app2");
  ASSERT_TRUE(other_app.ok());
  EXPECT_FALSE(other_app->duplicate);
  EXPECT_NE(other_app->id, first->id);

  // The duplicate reports the first message's state.
  ASSERT_TRUE(service->ack_now(who("u1"), first->id).ok());
  barrier();
  auto third = publish(R"({"to_user": "u1", "data": {"v": 4}, "idempotency_key": "order-17"})");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->duplicate);
  EXPECT_EQ(third->id, first->id);
  EXPECT_EQ(third->state, "acked");
}

TEST_F(MessageFixture, IdempotencyKeyStoresOnceUnderConcurrentPublishes) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 10; ++round) {
    const std::string key = "concurrent-" + std::to_string(round);
    std::vector<Result<Published>> results(kThreads, Error{Errc::kInternal, "not run"});
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        results[i] = publish(R"({"to_user": "u1", "data": {"from": )" + std::to_string(i) +
                             R"(}, "idempotency_key": ")" + key + R"("})");
      });
    for (auto& t : threads) t.join();
    int stored = 0;
    std::string first_id;
    for (const auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.error().code;
      if (!r->duplicate) {
        ++stored;
        first_id = r->id;
      }
    }
    ASSERT_EQ(stored, 1) << "round " << round;
    // Every duplicate, even one racing the first publish, answers with the first id.
    for (const auto& r : results) EXPECT_EQ(r->id, first_id) << "round " << round;
  }
  barrier();
  EXPECT_EQ(inbox_ids("u1").size(), 10u);
  EXPECT_EQ(pushed().size(), 10u);
}

TEST_F(MessageFixture, IdempotencyKeysSurviveARestart) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "idempotency_key": "k-durable"})");
  restart();
  auto again = publish(R"({"to_user": "u1", "data": 2, "idempotency_key": "k-durable"})");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, id);
  EXPECT_EQ(inbox_ids("u1"), V{id});
  // Sequence numbers keep growing after a restart.
  const std::string later = publish_ok(R"({"to_user": "u1", "data": 3})");
  EXPECT_GT(seq_of(later), seq_of(id));
  EXPECT_EQ(inbox_ids("u1"), (V{id, later}));
}

// ---- connect and inbox paging ---------------------------------------------------------

TEST_F(MessageFixture, OnConnectPushesPendingOldestFirstUpToTheLimit) {
  cfg.deliver_on_connect = 3;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    clock.advance(10);
    ids.push_back(publish_ok(R"({"to_user": "u1", "data": {"i": )" + std::to_string(i) + "}}"));
  }
  publish_ok(R"({"to_user": "u2", "data": "other"})");
  ASSERT_TRUE(service->ack_now(who("u1"), ids[0]).ok());
  barrier();

  auto frames = service->pending_frames(who("u1"));
  ASSERT_EQ(frames.size(), 3u);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto msg = json::parse(frames[i]).at("msg");
    EXPECT_EQ(msg.at("id").as_string(), ids[i + 1]);
    EXPECT_EQ(msg.at("data").at("i").to_number<int>(), static_cast<int>(i + 1));
  }
  barrier();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(trail(ids[i]), (V{"accepted", "stored", "delivered"})) << i;
  EXPECT_EQ(status(ids[1]).at("trail").as_array().at(2).at("connections").to_number<int>(), 1);
  EXPECT_EQ(trail(ids[4]), (V{"accepted", "stored"}));
  EXPECT_EQ(service->pending_frames(who("nobody")).size(), 0u);
  EXPECT_EQ(service->pending_frames(who("u1", "app2")).size(), 0u);
}

// S17: one app cannot fill the server-wide pending budget for the others.
TEST_F(MessageFixture, OneAppCannotHoldMoreThanItsPendingShare) {
  cfg.max_pending = 10;
  cfg.max_pending_per_app = 3;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(publish_ok(R"({"to_user": "u)" + std::to_string(i) + R"(", "data": 1})"));
  auto refused = publish(R"({"to_user": "u9", "data": 1})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kMessagesBusy);
  EXPECT_NE(refused.error().message.find("max_pending_per_app"), std::string::npos);
  // Another app still publishes; acknowledging frees the first app's share.
  publish_ok(R"({"to_user": "u1", "data": 1})", "app2");
  publish_ok(R"({"to_user": "u0", "data": 2})", "app2");
  barrier();
  ASSERT_TRUE(service->ack_now(who("u0"), ids[0]).ok());
  EXPECT_TRUE(publish(R"({"to_user": "u9", "data": 1})").ok());
}

// S17: a user reconnecting in a loop gets the replay (reads, decryptions, "delivered"
// rows) a bounded number of times per minute; the messages stay in the inbox.
TEST_F(MessageFixture, ReconnectingInALoopReplaysPendingOnlyABoundedNumberOfTimes) {
  cfg.connect_replays_per_minute = 2;
  auto id = publish_ok(R"({"to_user": "u1", "data": 1})");
  publish_ok(R"({"to_user": "u2", "data": 1})");
  barrier();
  EXPECT_EQ(service->pending_frames(who("u1")).size(), 1u);
  EXPECT_EQ(service->pending_frames(who("u1")).size(), 1u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(service->pending_frames(who("u1")).size(), 0u) << i;
  EXPECT_EQ(service->pending_frames(who("u2")).size(), 1u);  // another user is unaffected
  barrier();
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "delivered", "delivered"}));  // 2 rows, not 22
  clock.advance(60'000);                                                      // the next minute
  EXPECT_EQ(service->pending_frames(who("u1")).size(), 1u);
}

TEST_F(MessageFixture, InboxPagesReturnEveryMessageOnceInOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(publish_ok(R"({"to_user": "u1", "data": )" + std::to_string(i) + "}"));
    publish_ok(R"({"to_user": "u2", "data": "noise"})");
  }
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    auto r = inbox_view("app1", "u1", after, 3);
    ASSERT_TRUE(r.ok()) << r.error().code;
    ++pages;
    const auto& list = r->at("messages").as_array();
    for (const auto& m : list) {
      seen.emplace_back(m.at("id").as_string());
      EXPECT_EQ(m.at("cursor").as_string(), std::to_string(seq_of(seen.back())));
    }
    if (r->at("next").is_null()) {
      EXPECT_EQ(list.size(), 1u);
      break;
    }
    EXPECT_EQ(list.size(), 3u);
    after = std::string(r->at("next").as_string());
    EXPECT_EQ(after, std::string(list.back().at("cursor").as_string()));
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);

  // The protocol's page() answers the same object as text.
  auto page = service->page_now(who("u1"), after, 3);
  ASSERT_TRUE(page.ok());
  auto text = json::parse(*page).as_object();
  ASSERT_EQ(text.at("messages").as_array().size(), 1u);
  EXPECT_EQ(text.at("messages").as_array()[0].at("id").as_string(), ids[6]);
  EXPECT_TRUE(text.at("next").is_null());

  for (auto [after_bad, limit] :
       std::vector<std::pair<std::string, std::size_t>>{{"abc", 10}, {"-1", 10}, {"1x", 10}, {"", 0}, {"", 501}}) {
    auto r = inbox_view("app1", "u1", after_bad, limit);
    ASSERT_FALSE(r.ok()) << after_bad << " " << limit;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  // When the last page is full its `next` leads to an empty page, whose `next` is null.
  auto full = inbox_view("app1", "u1", std::to_string(seq_of(ids[3])), 3);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->at("messages").as_array().size(), 3u);
  ASSERT_TRUE(full->at("next").is_string());
  auto empty = inbox_view("app1", "u1", std::string(full->at("next").as_string()), 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->at("messages").as_array().size(), 0u);
  EXPECT_TRUE(empty->at("next").is_null());

  auto bad_user = inbox_view("app1", "a,b", "", 10);
  ASSERT_FALSE(bad_user.ok());
  EXPECT_EQ(bad_user.error().code, Errc::kInvalidArgument);
}

// ---- fallback ---------------------------------------------------------------------------

struct MessageFallback : MessageFixture {
  std::string secret;
  void SetUp() override {
    auto s = settings(R"({"webhook_url": "http://127.0.0.1:9/hook", "allow_private_webhooks": true})");
    ASSERT_TRUE(s.contains("webhook_secret"));
    secret = std::string(s.at("webhook_secret").as_string());
    set_contacts("u1", R"({"email": "ann@example.com", "phone": "+4915112345678"})");
  }
};

TEST_F(MessageFallback, WebhookThenEmailInOrder) {
  EXPECT_TRUE(secret.starts_with("whsec_")) << secret;
  auto view = settings_view("app1");
  EXPECT_FALSE(view.contains("webhook_secret"));
  EXPECT_EQ(view.at("has_webhook_secret"), json::value(true));
  EXPECT_EQ(view.at("webhook_url").as_string(), "http://127.0.0.1:9/hook");
  EXPECT_EQ(view.at("allow_private_webhooks"), json::value(true));
  // The secret is shown once: a later change without rotation does not carry it.
  EXPECT_FALSE(settings(R"({"default_locale": "en"})").contains("webhook_secret"));

  const std::string id = publish_ok(R"({"to_user": "u1", "data": {"title": "Hi"}, "text": "You have a message",
      "subject": "Ping", "channels": ["webhook", "email"], "fallback_after": "1s"})");
  ASSERT_FALSE(id.empty());
  run(kStart + 999);
  EXPECT_EQ(webhooks.count(), 0u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored"}));

  run_twice(kStart + 1000);
  auto reqs = webhooks.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& req = reqs[0];
  EXPECT_EQ(req.url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(req.id, id);
  EXPECT_TRUE(req.allow_private);
  EXPECT_EQ(req.timestamp_s, (kStart + 1000) / 1000);
  EXPECT_EQ(req.secret, delivery::decode_webhook_secret(secret).value());
  auto body = json::parse(req.body);
  EXPECT_EQ(body.at("type").as_string(), "message.fallback");
  EXPECT_EQ(body.at("timestamp").to_number<std::int64_t>(), kStart + 1000);
  const auto& data = body.at("data");
  EXPECT_EQ(data.at("id").as_string(), id);
  EXPECT_EQ(data.at("user").as_string(), "u1");
  EXPECT_EQ(data.at("ts").to_number<std::int64_t>(), kStart);
  EXPECT_EQ(data.at("priority").as_string(), "normal");
  EXPECT_EQ(data.at("template").as_string(), "");
  EXPECT_EQ(data.at("data"), json::parse(R"({"title": "Hi"})"));
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "fallback_sent/webhook"}));

  run(kStart + 1999);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  run(kStart + 2000);
  auto mails = senders.sender.messages();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].channel, "email");
  EXPECT_EQ(mails[0].to, "ann@example.com");
  EXPECT_EQ(mails[0].subject, "Ping");
  EXPECT_EQ(mails[0].text, "You have a message");
  EXPECT_EQ(mails[0].reference, id);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "fallback_sent/webhook",
                          "fallback_started/email", "fallback_sent/email"}));

  // Each channel at most once: later passes send nothing more.
  run(kStart + 60'000);
  EXPECT_EQ(webhooks.count(), 1u);
  EXPECT_EQ(senders.sender.messages().size(), 1u);
  EXPECT_EQ(state(id), "pending");
  EXPECT_EQ(trail(id).size(), 6u);
}

TEST_F(MessageFallback, AnAckBeforeTheFirstStepStopsTheFallback) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "text": "t",
      "channels": ["webhook", "email"], "fallback_after": "1s"})");
  clock.set(kStart + 500);
  ASSERT_TRUE(service->ack_now(who("u1"), id).ok());
  barrier();
  run_twice(kStart + 1000);
  run(kStart + 2000);
  run(kStart + 5000);
  EXPECT_EQ(webhooks.count(), 0u);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  EXPECT_EQ(state(id), "acked");
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "acked"}));
}

TEST_F(MessageFallback, AppDefaultsAndTemplatedEmailInTheUsersLocale) {
  settings(R"({"fallback": ["email"], "fallback_after": "2s"})");
  put_template("welcome", R"({"locales": {
      "en": {"inapp": {"t": "Welcome {{name}}"}, "email": {"subject": "Welcome", "text": "Hello {{name}}"}},
      "de": {"inapp": {"t": "Willkommen {{name}}"}, "email": {"subject": "Willkommen", "text": "Hallo {{name}}"}}}})");
  const std::string id = publish_ok(R"({"to_user": "u1", "template": "welcome", "vars": {"name": "Ann"},
      "locale": "de-CH"})");
  auto s = status(id);
  EXPECT_EQ(s.at("channels"), json::parse(R"(["email"])"));
  EXPECT_EQ(s.at("fallback_after_ms").to_number<std::int64_t>(), 2000);
  run(kStart + 1000);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  run(kStart + 2000);
  auto mails = senders.sender.messages();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].subject, "Willkommen");
  EXPECT_EQ(mails[0].text, "Hallo Ann");
  // "channels": [] means no fallback even when the app names one.
  const std::string none = publish_ok(R"({"to_user": "u1", "data": 1, "channels": []})");
  run(kStart + 3'600'000);
  EXPECT_EQ(senders.sender.messages().size(), 1u);
  EXPECT_EQ(trail(none), (V{"accepted", "stored"}));
}

TEST_F(MessageFallback, MissingContactOrProviderFailureIsRecordedAndTheNextStepFollows) {
  const std::string id = publish_ok(R"({"to_user": "u2", "data": 1, "text": "t",
      "channels": ["sms", "webhook"], "fallback_after": "1s"})");
  run(kStart + 1000);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "failed/sms"}));
  EXPECT_EQ(status(id).at("trail").as_array().back().at("detail").as_string(), "no_contact");
  run_twice(kStart + 2000);
  EXPECT_EQ(webhooks.count(), 1u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "failed/sms", "fallback_started/webhook", "fallback_sent/webhook"}));

  senders.sender.fail = true;
  clock.set(kStart + 10'000);
  const std::string failing = publish_ok(R"({"to_user": "u1", "data": 1, "text": "t", "channels": ["sms"],
      "fallback_after": "1s"})");
  run(kStart + 11'000);
  ASSERT_EQ(senders.sender.messages().size(), 1u);
  EXPECT_EQ(senders.sender.messages()[0].to, "+4915112345678");
  EXPECT_EQ(trail(failing), (V{"accepted", "stored", "fallback_started/sms", "failed/sms"}));
  EXPECT_EQ(status(failing).at("trail").as_array().back().at("detail").as_string(), "delivery_failed");
}

// ---- webhook retries, dead letters, replay ------------------------------------------------

TEST_F(MessageFallback, RetryableWebhookFailuresBackOffThenDeadLetterAndReplay) {
  webhooks.script(FakeWebhooks::retryable(503), 3);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s"})");
  run_twice(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "retry_scheduled/webhook"}));
  EXPECT_EQ(status(id).at("trail").as_array().back().at("detail").as_string(), "http 503");
  auto j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->attempts, 1);
  // webhook_backoff 1s, jittered to 50-100%.
  EXPECT_GE(j->due_ms, kStart + 1000 + 500);
  EXPECT_LE(j->due_ms, kStart + 1000 + 1000);

  run(j->due_ms - 1);
  EXPECT_EQ(webhooks.count(), 1u);
  std::int64_t t2 = j->due_ms;
  run(t2);
  ASSERT_EQ(webhooks.count(), 2u);
  EXPECT_EQ(webhooks.requests()[1].id, id);  // the same webhook-id on every attempt
  j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->attempts, 2);
  // The second wait doubles: 2s, jittered to 1-2s.
  EXPECT_GE(j->due_ms, t2 + 1000);
  EXPECT_LE(j->due_ms, t2 + 2000);

  std::int64_t t3 = j->due_ms;
  run(t3);
  ASSERT_EQ(webhooks.count(), 3u);  // webhook_max_attempts
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "retry_scheduled/webhook",
                          "retry_scheduled/webhook", "dead_lettered/webhook"}));
  run(t3 + 3'600'000);
  EXPECT_EQ(webhooks.count(), 3u);

  auto dead = dead_letters("app1", 100);
  ASSERT_TRUE(dead.ok());
  auto list = dead->at("dead_letters").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("message_id").as_string(), id);
  EXPECT_EQ(list[0].at("channel").as_string(), "webhook");
  EXPECT_EQ(list[0].at("attempts").to_number<int>(), 3);
  EXPECT_EQ(list[0].at("last_error").as_string(), "http 503");
  EXPECT_EQ(list[0].at("dead_at_ms").to_number<std::int64_t>(), t3);
  EXPECT_EQ(dead_letters("app2", 100)->at("dead_letters").as_array().size(), 0u);

  auto foreign = replay_view("app2", id);
  EXPECT_EQ(foreign.error().code, Errc::kDeadLetterNotFound);

  // Replay: attempts start again, the first at once; this time the receiver answers 2xx.
  std::int64_t t4 = t3 + 3'600'000 + 5;
  clock.set(t4);
  auto replay = replay_view("app1", id);
  ASSERT_TRUE(replay.ok()) << replay.error().code;
  EXPECT_EQ(replay->at("message_id").as_string(), id);
  EXPECT_EQ(replay->at("state").as_string(), "pending");
  run(t4);
  ASSERT_EQ(webhooks.count(), 4u);
  auto tr = trail(id);
  ASSERT_GE(tr.size(), 2u);
  EXPECT_EQ((V{tr[tr.size() - 2], tr.back()}), (V{"replayed/webhook", "fallback_sent/webhook"}));
  EXPECT_EQ(dead_letters("app1", 100)->at("dead_letters").as_array().size(), 0u);
  auto again = replay_view("app1", id);
  EXPECT_EQ(again.error().code, Errc::kDeadLetterNotFound);
  auto unknown = replay_view("app1", "msg_424242_abcdef");
  EXPECT_EQ(unknown.error().code, Errc::kDeadLetterNotFound);
}

TEST_F(MessageFallback, ANonRetryableAnswerDeadLettersAtOnce) {
  webhooks.script(FakeWebhooks::refused(404));
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s"})");
  run_twice(kStart + 1000);
  EXPECT_EQ(webhooks.count(), 1u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "dead_lettered/webhook"}));
  EXPECT_EQ(status(id).at("trail").as_array().back().at("detail").as_string(), "http 404");
  run(kStart + 3'600'000);
  EXPECT_EQ(webhooks.count(), 1u);
  auto dead = dead_letters("app1", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->at("dead_letters").as_array().size(), 1u);
  EXPECT_EQ(dead->at("dead_letters").as_array()[0].at("attempts").to_number<int>(), 1);
}

TEST_F(MessageFallback, RetryAfterLengthensTheWaitAndAnAttemptInFlightIsNotStartedTwice) {
  webhooks.hold(true);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s"})");
  clock.set(kStart + 1000);
  service->tick(kStart + 1000);
  barrier();  // the step's write, with the job
  // The pass that wrote the job may already have found it; if not, the next one does.
  if (webhooks.count() == 0) service->tick(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);
  EXPECT_GT(service->in_flight(), 0u);
  // Another pass while the answer is outstanding does not post again.
  service->tick(kStart + 1500);
  EXPECT_EQ(webhooks.count(), 1u);
  clock.set(kStart + 2000);
  auto slow = FakeWebhooks::retryable(429);
  slow.retry_after_s = 30;
  webhooks.answer_held(slow);
  drain();
  auto j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->due_ms, kStart + 2000 + 30'000);
  EXPECT_EQ(trail(id).back(), "retry_scheduled/webhook");
}

TEST_F(MessageFallback, RetriesContinueAfterARestart) {
  webhooks.script(FakeWebhooks::retryable(500));
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook", "email"],
      "text": "t", "fallback_after": "10s"})");
  run_twice(kStart + 10'000);
  ASSERT_EQ(webhooks.count(), 1u);
  auto j = job(id);
  ASSERT_TRUE(j.has_value());
  std::int64_t due = j->due_ms;

  restart();
  run(due - 1);
  EXPECT_EQ(webhooks.count(), 1u);
  run(due);
  ASSERT_EQ(webhooks.count(), 2u);
  EXPECT_EQ(webhooks.requests()[1].id, id);
  j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->attempts, 2);
  EXPECT_EQ(j->state, store::WebhookJobState::delivered);
  // The schedule of the next step survived too.
  run(kStart + 20'000);
  ASSERT_EQ(senders.sender.messages().size(), 1u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "retry_scheduled/webhook",
                          "fallback_sent/webhook", "fallback_started/email", "fallback_sent/email"}));
}

TEST_F(MessageFallback, AnAckStopsWebhookRetries) {
  webhooks.script(FakeWebhooks::retryable(502));
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s"})");
  run_twice(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);
  ASSERT_TRUE(service->ack_now(who("u1"), id).ok());
  barrier();
  run(kStart + 3'600'000);
  EXPECT_EQ(webhooks.count(), 1u);
  auto j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, store::WebhookJobState::cancelled);
}

// ---- expiry ---------------------------------------------------------------------------------

TEST_F(MessageFixture, AMessageExpiresAtItsTtl) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "ttl": "1s"})");
  EXPECT_EQ(status(id).at("expires_ms").to_number<std::int64_t>(), kStart + 1000);
  run(kStart + 999);
  EXPECT_EQ(state(id), "pending");
  EXPECT_EQ(inbox_ids("u1"), V{id});
  run(kStart + 1000);
  EXPECT_EQ(state(id), "expired");
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "expired"}));
  EXPECT_EQ(inbox_ids("u1"), V{});
  EXPECT_EQ(service->pending_frames(who("u1")).size(), 0u);
  // Acknowledging an expired message is not an error, and changes nothing.
  EXPECT_TRUE(service->ack_now(who("u1"), id).ok());
  barrier();
  EXPECT_EQ(state(id), "expired");
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "expired"}));
}

TEST_F(MessageFallback, ExpiryComesBeforeALaterFallbackStep) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "text": "t", "ttl": "5s",
      "channels": ["email"], "fallback_after": "10s"})");
  run(kStart + 5000);
  EXPECT_EQ(state(id), "expired");
  run(kStart + 10'000);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "expired"}));
}

TEST_F(MessageFallback, ExpiryStopsWebhookRetries) {
  auto slow = FakeWebhooks::retryable(503);
  slow.retry_after_s = 30;  // the retry falls after the ttl
  webhooks.script(slow);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s",
      "ttl": "3s"})");
  run_twice(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);
  ASSERT_EQ(job(id)->due_ms, kStart + 31'000);
  run(kStart + 3000);
  EXPECT_EQ(state(id), "expired");
  run(kStart + 31'000);
  run(kStart + 3'600'000);
  EXPECT_EQ(webhooks.count(), 1u);
  auto j = job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, store::WebhookJobState::cancelled);
  EXPECT_EQ(trail(id).back(), "expired");
}

// An expiry and a webhook retry due in the same scheduler pass: the retry is not made.
TEST_F(MessageFallback, NoWebhookAttemptOnceTheTtlHasEnded) {
  webhooks.script(FakeWebhooks::retryable(500), 10);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s",
      "ttl": "3s"})");
  run_twice(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);
  ASSERT_LT(job(id)->due_ms, kStart + 3000);
  run(kStart + 3000);  // the expiry and the retry are both due
  EXPECT_EQ(state(id), "expired");
  EXPECT_EQ(webhooks.count(), 1u);
  EXPECT_EQ(trail(id).back(), "expired");
}

// A second scheduler on the same store (another node) takes over an attempt whose holder
// overran its lease; the slow holder's late answer is then not written over the new
// holder's result (docs/cluster.md#leases).
TEST_F(MessageFallback, AHolderTakenOverAfterItsLeaseCannotWriteOverTheNewHolder) {
  webhooks.hold(true);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "channels": ["webhook"], "fallback_after": "1s"})");
  clock.set(kStart + 1000);
  service->tick(kStart + 1000);
  barrier();  // the step's write, with the job
  if (webhooks.count() == 0) service->tick(kStart + 1000);
  ASSERT_EQ(webhooks.count(), 1u);

  FakeWebhooks other_hooks;
  metrics::Registry other_registry;
  MessageService other(cfg, *db, *keys, &senders, other_hooks.poster(), &other_registry, clock.as_clock());
  other.set_lease("node-b", std::chrono::seconds(30));
  ASSERT_TRUE(other.load().ok());
  auto run_other = [&](std::int64_t t) {
    clock.set(t);
    other.tick(t);
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (other.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    barrier();
  };
  run_other(kStart + 30'000);  // the first holder's lease (30 s from its claim) still stands
  EXPECT_EQ(other_hooks.count(), 0u);
  run_other(kStart + 31'000);
  ASSERT_EQ(other_hooks.count(), 1u);
  EXPECT_EQ(trail(id).back(), "fallback_sent/webhook");

  webhooks.answer_held(FakeWebhooks::retryable(500));  // the slow holder's late answer
  drain();
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "fallback_started/webhook", "fallback_sent/webhook"}));
  EXPECT_EQ(job(id)->state, store::WebhookJobState::delivered);
  EXPECT_EQ(job(id)->attempts, 1);
  EXPECT_NE(other_registry.render().find("herald_messages_lease_takeovers_total{work=\"webhook\"} 1"),
            std::string::npos);
}

TEST_F(MessageFixture, StepsWithoutAWebhookUrlOrContactFailAndTheNextFollows) {
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "text": "t", "channels": ["webhook", "email"],
      "fallback_after": "1s"})");
  run_twice(kStart + 1000);
  run(kStart + 2000);
  EXPECT_EQ(webhooks.count(), 0u);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
  auto s = status(id);
  EXPECT_EQ(trail(id), (V{"accepted", "stored", "failed/webhook", "failed/email"}));
  const auto& tr = s.at("trail").as_array();
  EXPECT_EQ(tr.at(2).at("detail").as_string(), "no_webhook_url");
  EXPECT_EQ(tr.at(3).at("detail").as_string(), "no_contact");
  EXPECT_EQ(state(id), "pending");
}

TEST_F(MessageFixture, RowsArePurgedAfterRetentionAndTheirKeysForgotten) {
  cfg.retention = Millis(1000);
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "ttl": "1s", "idempotency_key": "short"})");
  run(kStart + 1000);
  EXPECT_EQ(state(id), "expired");
  EXPECT_TRUE(publish(R"({"to_user": "u1", "data": 2, "idempotency_key": "short"})")->duplicate);
  run(kStart + 2001);
  auto gone = status_of("app1", id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::kMessageNotFound);
  auto fresh = publish(R"({"to_user": "u1", "data": 3, "idempotency_key": "short"})");
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->duplicate);
  EXPECT_NE(fresh->id, id);
}

TEST_F(MessageFixture, WhileSealedEverythingAnswersSealed) {
  set_contacts("u1", R"({"email": "ann@example.com"})");
  const std::string id = publish_ok(R"({"to_user": "u1", "data": 1, "text": "t", "channels": ["email"],
      "fallback_after": "1s"})");
  keys->seal();
  EXPECT_EQ(publish(R"({"to_user": "u1", "data": 1})").error().code, Errc::kSealed);
  EXPECT_EQ(status_of("app1", id).error().code, Errc::kSealed);
  EXPECT_EQ(inbox_view("app1", "u1", "", 10).error().code, Errc::kSealed);
  EXPECT_EQ(service->ack_now(who("u1"), id).error().code, Errc::kSealed);
  EXPECT_EQ(service->pending_frames(who("u1")).size(), 0u);
  run(kStart + 5000);
  EXPECT_EQ(senders.sender.messages().size(), 0u);
}

// ---- caps ------------------------------------------------------------------------------------

TEST_F(MessageFixture, AppCapPerUserPerDayAndItsRestore) {
  clock.set(kStart);  // 10:00 UTC: 14 h to midnight
  settings(R"({"max_per_user_per_day": 2})");
  publish_ok(R"({"to_user": "u1", "data": 1, "idempotency_key": "a"})");
  // A duplicate does not count.
  auto dup = publish(R"({"to_user": "u1", "data": 1, "idempotency_key": "a"})");
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  publish_ok(R"({"to_user": "u1", "data": 2})");
  auto third = publish(R"({"to_user": "u1", "data": 3})");
  EXPECT_EQ(third.error().code, Errc::kMessageCapExceeded);
  EXPECT_EQ(third.error().retry_after_s, 14 * 3600);
  EXPECT_NE(registry.render().find(R"(herald_messages_refused_total{reason="cap"} 1)"), std::string::npos);
  publish_ok(R"({"to_user": "u2", "data": 1})");
  EXPECT_EQ(inbox_ids("u1").size(), 2u);

  restart();
  clock.set(kStart + 3'600'000);
  auto after_restart = publish(R"({"to_user": "u1", "data": 4})");
  EXPECT_EQ(after_restart.error().code, Errc::kMessageCapExceeded);
  EXPECT_EQ(after_restart.error().retry_after_s, 13 * 3600);
  publish_ok(R"({"to_user": "u2", "data": 2})");
  EXPECT_EQ(publish(R"({"to_user": "u2", "data": 3})").error().code, Errc::kMessageCapExceeded);

  // A refused publish does not claim its idempotency key.
  EXPECT_EQ(publish(R"({"to_user": "u1", "data": 5, "idempotency_key": "z"})").error().code, Errc::kMessageCapExceeded);

  // A new UTC day.
  clock.set(kStart + 14 * 3'600'000);
  auto next_day = publish(R"({"to_user": "u1", "data": 5, "idempotency_key": "z"})");
  ASSERT_TRUE(next_day.ok()) << next_day.error().code;
  EXPECT_FALSE(next_day->duplicate);
}

TEST_F(MessageFixture, TemplateCapCountsOnlyThatTemplate) {
  put_template("promo", R"({"max_per_user_per_day": 1, "locales": {"en": {"inapp": {"t": "Sale"}}}})");
  put_template("receipt", R"({"locales": {"en": {"inapp": {"t": "Receipt"}}}})");
  publish_ok(R"({"to_user": "u1", "template": "promo"})");
  auto second = publish(R"({"to_user": "u1", "template": "promo"})");
  EXPECT_EQ(second.error().code, Errc::kMessageCapExceeded);
  EXPECT_GT(second.error().retry_after_s, 0);
  publish_ok(R"({"to_user": "u1", "template": "receipt"})");
  publish_ok(R"({"to_user": "u1", "data": 1})");
  publish_ok(R"({"to_user": "u2", "template": "promo"})");

  restart();
  EXPECT_EQ(publish(R"({"to_user": "u1", "template": "promo"})").error().code, Errc::kMessageCapExceeded);
  EXPECT_EQ(publish(R"({"to_user": "u2", "template": "promo"})").error().code, Errc::kMessageCapExceeded);
  publish_ok(R"({"to_user": "u3", "template": "promo"})");
}

// ---- validation --------------------------------------------------------------------------------

TEST_F(MessageFixture, BadPublishFieldsAreRefused) {
  cfg.max_data_bytes = 1024;
  put_template("t1", R"({"locales": {"en": {"inapp": {"t": "{{x}}"}}}})");
  const std::string big(4000, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "invalid_argument"},
      {R"({"data": 1})", "invalid_argument"},
      {R"({"to_user": "", "data": 1})", "invalid_argument"},
      {R"({"to_user": "a,b", "data": 1})", "invalid_argument"},
      {R"({"to_user": "a#b", "data": 1})", "invalid_argument"},
      {R"({"to_user": ")" + std::string(129, 'u') + R"(", "data": 1})", "invalid_argument"},
      {R"({"to_user": 42, "data": 1})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "colour": "red"})", "invalid_argument"},
      {R"({"to_user": "u1"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "template": "t1", "vars": {"x": "y"}})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "vars": {"x": "y"}})", "invalid_argument"},
      {R"({"to_user": "u1", "template": "t1", "vars": {"x": {"deep": 1}}})", "invalid_argument"},
      {R"({"to_user": "u1", "template": "t1", "vars": [1]})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": "email", "text": "t"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": ["fax"]})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": ["webhook", "webhook"]})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": [1]})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "ttl": "0s"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "ttl": "999ms"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "ttl": "31d"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "ttl": 60})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "ttl": "soon"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "fallback_after": "500ms"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "fallback_after": "31d"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "priority": "urgent"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "priority": 1})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "idempotency_key": ""})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "idempotency_key": ")" + std::string(257, 'k') + R"("})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "locale": "english!"})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "subject": "two\nlines", "text": "t", "channels": ["email"]})",
       "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": ["email"]})", "invalid_argument"},
      {R"({"to_user": "u1", "data": 1, "channels": ["sms"], "text": ""})", "invalid_argument"},
      {R"({"to_user": "u1", "data": ")" + big + R"("})", "message_too_large"},
      {R"({"to_user": "u1", "data": 1, "channels": ["email"], "text": ")" + big + R"("})", "invalid_argument"},
      {R"({"to_user": "u1", "template": "t1"})", "template_render_failed"},
      {R"({"to_user": "u1", "template": "missing"})", "template_not_found"},
  };
  for (const auto& [body, code] : cases) {
    auto r = publish(body);
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code_name(), code) << body << " -> " << r.error().message;
  }
  EXPECT_EQ(pushed().size(), 0u);
  EXPECT_EQ(inbox_ids("u1"), V{});
  // The bounds themselves are accepted.
  publish_ok(R"({"to_user": ")" + std::string(128, 'u') + R"(", "data": 1, "ttl": "1s", "fallback_after": "30d",
      "priority": "normal", "idempotency_key": ")" +
             std::string(256, 'k') + R"("})");
  publish_ok(R"({"to_user": "u1", "data": 1, "ttl": "30d", "channels": ["email", "sms", "webhook"], "text": "t"})");
}

// ---- contacts and settings ---------------------------------------------------------------------

TEST_F(MessageFixture, ContactsAreSetReadAndDeleted) {
  set_contacts("u1", R"({"email": "ann@example.com"})");
  auto c = contacts_of("app1", "u1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->at("email").as_string(), "ann@example.com");
  EXPECT_TRUE(c->at("phone").is_null());
  EXPECT_EQ(c->at("user").as_string(), "u1");
  EXPECT_EQ(contacts_of("app2", "u1").error().code, Errc::kContactsNotFound);

  for (std::string_view bad :
       {R"({"email": "not-an-address"})", R"({"phone": "0151 123"})", R"({"fax": "1"})", R"({"email": 5})"}) {
    json::object b = obj(bad);
    auto r = set_contacts_result("app1", "u1", b);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << bad;
  }
  auto del = wait<bool>([&](Done<bool> d) { service->delete_contacts("app1", "u1", std::move(d)); });
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(contacts_of("app1", "u1").error().code, Errc::kContactsNotFound);
}

TEST_F(MessageFixture, BadSettingsAreRefusedAndSettingsSurviveARestart) {
  for (std::string_view bad :
       {R"({"webhook_url": "ftp://x.example/"})", R"({"webhook_url": "http://x.example/"})",
        R"({"webhook_url": "https://user:pw@x.example/"})", R"({"webhook_url": "https://x.example/#frag"})",
        R"({"fallback": ["pigeon"]})", R"({"fallback_after": "10ms"})", R"({"max_per_user_per_day": -1})",
        R"({"default_locale": "x"})", R"({"colour": "red"})"}) {
    json::object p = obj(bad);
    auto r = update_settings("app1", p);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << bad;
  }
  auto first = settings(R"({"webhook_url": "https://hooks.example.net/in", "fallback": ["webhook"],
      "fallback_after": "1m", "default_locale": "de"})");
  ASSERT_TRUE(first.contains("webhook_secret"));
  auto rotated = settings(R"({"rotate_webhook_secret": true})");
  ASSERT_TRUE(rotated.contains("webhook_secret"));
  EXPECT_NE(rotated.at("webhook_secret"), first.at("webhook_secret"));
  restart();
  auto view = settings_view("app1");
  EXPECT_EQ(view.at("webhook_url").as_string(), "https://hooks.example.net/in");
  EXPECT_EQ(view.at("fallback"), json::parse(R"(["webhook"])"));
  EXPECT_EQ(view.at("fallback_after").as_string(), "1m");
  EXPECT_EQ(view.at("default_locale").as_string(), "de");
  EXPECT_EQ(view.at("has_webhook_secret"), json::value(true));
  EXPECT_FALSE(view.contains("webhook_secret"));
  EXPECT_EQ(settings_view("app2").at("has_webhook_secret"), json::value(false));
}

// ---- at rest ---------------------------------------------------------------------------------------

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(MessageFixture, TheStoreHoldsNoAddressPayloadOrUserIdInClear) {
  const std::string user = "user-sentinel-4711";
  settings(R"({"webhook_url": "https://hooks.example.net/url-sentinel-5150"})");
  set_contacts(user, R"({"email": "rest-probe-9d3f@example.com", "phone": "+4915199887766"})");
  const std::string id = publish_ok(R"({"to_user": "user-sentinel-4711", "data": {"s": "payload-sentinel-77aa"},
      "text": "text-sentinel-31ef", "subject": "subject-sentinel-c0de", "channels": ["email", "webhook"],
      "fallback_after": "1s", "idempotency_key": "idem-sentinel-e1e1"})");
  run_twice(kStart + 1000);
  run_twice(kStart + 2000);
  ASSERT_EQ(senders.sender.messages().size(), 1u);
  ASSERT_EQ(webhooks.count(), 1u);
  barrier();

  std::string bytes = file_bytes(dir + "/herald.db") + file_bytes(dir + "/herald.db-wal");
  ASSERT_FALSE(bytes.empty());
  // The rows are there (the id is not secret)...
  EXPECT_NE(bytes.find(id), std::string::npos);
  // ...but nothing personal is readable.
  for (std::string_view secret :
       {"rest-probe-9d3f", "example.com", "4915199887766", "payload-sentinel-77aa", "text-sentinel-31ef",
        "subject-sentinel-c0de", "user-sentinel-4711", "idem-sentinel-e1e1", "url-sentinel-5150", "whsec_"})
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
}

}  // namespace
}  // namespace herald::messages
