// Two app stores on one store, as two nodes of a cluster: what one changes, the other
// takes over by reload() (the change feed's call), with what its connections must hear;
// a change made from a stale copy is a conflict, never written over the other's.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "apps/app_store.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::apps {
namespace {

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

struct Node {
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<AppStore> apps;
};

struct TwoAppNodes : ::testing::Test {
  TwoAppNodes() {
    std::string t = ::testing::TempDir() + "/appr-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    bool first = true;
    for (auto* n : {&a, &b}) {
      n->keys = std::make_unique<kms::KeyService>(*db, nullptr);
      n->apps = std::make_unique<AppStore>(db->apps(), *n->keys);
      n->keys->on_unsealed([n] { return n->apps->load(); });
      auto st = kms::dev_unseal(*n->keys, *db, dir, first);
      EXPECT_TRUE(st.ok()) << st.error().message;
      first = false;
    }
  }
  ~TwoAppNodes() override {
    a = {};
    b = {};
    db->close();
    std::filesystem::remove_all(dir);
  }
  // B's reload of `id`, as the change feed makes it.
  std::vector<AppReloaded> reload_b(const std::string& id) {
    auto events = b.apps->reload(id);
    EXPECT_TRUE(events.ok()) << events.error().message;
    return events ? *events : std::vector<AppReloaded>{};
  }

  std::string dir;
  std::unique_ptr<store::Store> db;
  Node a, b;
};

TEST_F(TwoAppNodes, AnAppCreatedChangedAndDeletedOnOneNodeIsTakenOverByTheOther) {
  AppOptions o;
  o.name = "shop";
  auto created = a.apps->create(o);
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::string id = created->app->id;
  EXPECT_EQ(b.apps->find("shop"), nullptr);
  // New: its secrets open on B (its keys were made on A: B reads them from the store).
  EXPECT_TRUE(reload_b(id).empty());
  auto on_b = b.apps->find("shop");
  ASSERT_NE(on_b, nullptr);
  ASSERT_EQ(on_b->secrets.size(), 1u);
  EXPECT_EQ(on_b->secrets[0].secret.view(), created->app_secret.view());
  // Reloading what is held already changes nothing (an echo of one's own change).
  EXPECT_TRUE(reload_b(id).empty());
  EXPECT_EQ(b.apps->find("shop"), on_b);

  ASSERT_TRUE(a.apps->set_status(id, AppStatus::Suspended).ok());
  auto events = reload_b(id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].disabled);
  EXPECT_EQ(b.apps->find("shop")->status, AppStatus::Suspended);
  ASSERT_TRUE(a.apps->set_status(id, AppStatus::Active).ok());
  EXPECT_TRUE(reload_b(id).empty());
  EXPECT_EQ(b.apps->find("shop")->status, AppStatus::Active);

  // A revoked client key: B's connections of the app are told their tokens are revoked.
  ASSERT_TRUE(wait<NewSecret>([&](auto d) { a.apps->rotate_client_secret(id, d); }).ok());
  ASSERT_TRUE(reload_b(id).empty());
  ASSERT_TRUE(wait<Ok>([&](auto d) { a.apps->revoke_client_secret(id, "c0", d); }).ok());
  events = reload_b(id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].tokens_revoked);
  EXPECT_FALSE(events[0].disabled);

  ASSERT_TRUE(a.apps->remove(id).ok());
  events = reload_b("");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].disabled);
  EXPECT_EQ(b.apps->find("shop"), nullptr);
  EXPECT_TRUE(b.apps->list().empty());
}

TEST_F(TwoAppNodes, AChangeMadeFromAStaleCopyIsAConflictAndTheOtherNodesChangeStays) {
  AppOptions o;
  o.name = "shop";
  auto created = a.apps->create(o);
  ASSERT_TRUE(created.ok());
  const std::string id = created->app->id;
  reload_b(id);
  // A rotates the secret; B, not yet told, suspends from its copy: refused, not written over.
  auto rotated = a.apps->rotate_secret(id);
  ASSERT_TRUE(rotated.ok());
  auto stale = b.apps->set_status(id, AppStatus::Suspended);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::kConflict);
  // Told, B's retry lands on top of A's change.
  reload_b(id);
  ASSERT_TRUE(b.apps->set_status(id, AppStatus::Suspended).ok());
  ASSERT_TRUE(a.apps->reload(id).ok());
  auto on_a = a.apps->find(id);
  EXPECT_EQ(on_a->status, AppStatus::Suspended);
  EXPECT_EQ(on_a->secrets.size(), 2u);
}

}  // namespace
}  // namespace herald::apps
