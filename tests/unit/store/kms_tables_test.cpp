// The KMS tables through store::KmsRecords: keys, versions, updates and deletion.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class KmsTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(KmsTables);

KmsKeyRecord key(std::string app, std::string name, std::uint32_t latest) {
  KmsKeyRecord k;
  k.app_id = std::move(app);
  k.name = std::move(name);
  k.kind = "aes256-gcm";
  k.latest_version = latest;
  k.min_decryption_version = 1;
  k.created_ms = 1000;
  return k;
}

KmsVersionRecord version(std::string app, std::string name, std::uint32_t v) {
  return KmsVersionRecord{std::move(app), std::move(name), v, std::string("\x00wrapped\x01", 9) + std::to_string(v),
                          1000 + v};
}

TEST_P(KmsTables, KeysAndVersionsAreWrittenReadAndRotated) {
  testing::TempStore t(GetParam());
  KmsRecords& kms = t.db->kms();
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.insert_kms_key(key("app", "k", 1), version("app", "k", 1), std::move(d));
              }).ok());
  // Rotation: a second version, and latest_version moves with it in the same write.
  ASSERT_TRUE(wait_for([&](Completion d) { kms.add_kms_version(version("app", "k", 2), std::move(d)); }).ok());
  // A settings change writes only the fields it names.
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.update_kms_key(KmsKeyChange{"app", "k", 2u, true, true, std::nullopt}, std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.insert_kms_key(key("app", "other", 1), version("app", "other", 1), std::move(d));
              }).ok());

  t.reopen();
  auto keys = t.db->kms().load_kms_keys();
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  const KmsKeyRecord* k = nullptr;
  for (const auto& r : *keys)
    if (r.name == "k") k = &r;
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->app_id, "app");
  EXPECT_EQ(k->kind, "aes256-gcm");
  EXPECT_EQ(k->latest_version, 2u);
  EXPECT_EQ(k->min_decryption_version, 2u);
  EXPECT_TRUE(k->exportable);
  EXPECT_TRUE(k->deletion_allowed);
  EXPECT_EQ(k->created_ms, 1000);
  EXPECT_EQ(k->delete_after_ms, 0);

  auto versions = t.db->kms().load_kms_versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 3u);
  for (const auto& v : *versions) EXPECT_EQ(v.wrapped, version(v.app_id, v.name, v.version).wrapped);
}

// S6: a version is added only on top of the one before it, so a writer working from a
// stale read cannot move latest_version backwards; the key is left as it was.
TEST_P(KmsTables, AVersionNotNextIsAConflictAndLeavesTheKeyAsItWas) {
  testing::TempStore t(GetParam());
  KmsRecords& kms = t.db->kms();
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.insert_kms_key(key("app", "k", 1), version("app", "k", 1), std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { kms.add_kms_version(version("app", "k", 2), std::move(d)); }).ok());
  for (std::uint32_t v : {1u, 2u, 4u}) {
    auto st = wait_for([&](Completion d) { kms.add_kms_version(version("app", "k", v), std::move(d)); });
    ASSERT_FALSE(st.ok()) << v;
    EXPECT_EQ(st.error().code, Errc::kConflict) << v;
  }
  EXPECT_EQ(kms.load_kms_keys()->front().latest_version, 2u);
  EXPECT_EQ(kms.load_kms_versions()->size(), 2u);
  auto missing = wait_for([&](Completion d) { kms.add_kms_version(version("app", "nope", 1), std::move(d)); });
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  auto again =
      wait_for([&](Completion d) { kms.insert_kms_key(key("app", "k", 1), version("app", "k", 1), std::move(d)); });
  EXPECT_EQ(again.error().code, Errc::kConflict);
  auto no_key = wait_for([&](Completion d) {
    kms.update_kms_key(KmsKeyChange{"app", "nope", 1u, std::nullopt, std::nullopt, std::nullopt}, std::move(d));
  });
  EXPECT_EQ(no_key.error().code, Errc::kNotFound);
}

TEST_P(KmsTables, DeleteRemovesTheKeyAndAllItsVersionsOnly) {
  testing::TempStore t(GetParam());
  KmsRecords& kms = t.db->kms();
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.insert_kms_key(key("app", "k", 1), version("app", "k", 1), std::move(d));
              }).ok());
  for (std::uint32_t v = 2; v <= 3; ++v)
    ASSERT_TRUE(wait_for([&](Completion d) { kms.add_kms_version(version("app", "k", v), std::move(d)); }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                kms.insert_kms_key(key("app", "keep", 1), version("app", "keep", 1), std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { kms.delete_kms_key("app", "k", std::move(d)); }).ok());
  auto keys = kms.load_kms_keys();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().name, "keep");
  auto versions = kms.load_kms_versions();
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(versions->front().name, "keep");
}

}  // namespace
}  // namespace herald::store
