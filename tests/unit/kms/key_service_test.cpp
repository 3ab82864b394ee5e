#include "kms/key_service.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "crypto/encoding.h"
#include "kms/dev_unseal.h"
#include "kms/shamir.h"
#include "store/store.h"

namespace herald::kms {
namespace {

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

struct KmsFixture : ::testing::Test {
  KmsFixture() {
    std::string t = ::testing::TempDir() + "/kms-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
  }
  ~KmsFixture() override {
    keys.reset();
    if (db) db->close();
    std::filesystem::remove_all(dir);
  }
  // A server restart: a new store handle and a new, sealed key service.
  void restart() {
    keys.reset();
    db->close();
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<KeyService>(*db, nullptr, opts);
    ASSERT_TRUE(keys->load().ok());
  }
  std::vector<Share> init(unsigned n, unsigned k) {
    auto shares = KeyService::initialize(*db, n, k);
    EXPECT_TRUE(shares.ok());
    keys = std::make_unique<KeyService>(*db, nullptr, opts);
    EXPECT_TRUE(keys->load().ok());
    return *shares;
  }
  void unseal_all(const std::vector<Share>& shares, unsigned k) {
    for (unsigned i = 0; i < k; ++i) ASSERT_TRUE(keys->unseal(shares[i]).ok());
    ASSERT_FALSE(keys->sealed());
  }
  KeyServiceOptions opts;
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<KeyService> keys;
};

TEST(Shamir, AnyKOfNRebuildTheSecretAndFewerDoNot) {
  crypto::SecretBytes secret = crypto::random_secret(32);
  auto shares = split_secret(secret, 5, 3);
  ASSERT_EQ(shares.size(), 5u);
  std::vector<int> idx{0, 1, 2, 3, 4};
  std::mt19937 rng(7);
  for (int round = 0; round < 10; ++round) {
    std::shuffle(idx.begin(), idx.end(), rng);
    std::vector<Share> pick{shares[idx[0]], shares[idx[1]], shares[idx[2]]};
    EXPECT_EQ(combine_shares(pick).view(), secret.view());
  }
  std::vector<Share> two{shares[0], shares[3]};
  EXPECT_NE(combine_shares(two).view(), secret.view());
  std::string text(format_share(shares[2]).view());
  EXPECT_EQ(text.substr(0, 2), "3-");
  auto back = parse_share(text + "\n");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->x, 3);
  EXPECT_EQ(back->bytes.view(), shares[2].bytes.view());
  for (const char* bad : {"", "3", "0-ab", "256-ab", "x-ab", "3-zz", "3-abc", "-ab"})
    EXPECT_EQ(parse_share(bad).error().code, Errc::kShareInvalid) << bad;
}

TEST_F(KmsFixture, InitRestartSealedUnsealWithKOfNInAnyOrder) {
  auto shares = init(5, 3);
  EXPECT_EQ(KeyService::initialize(*db, 5, 3).error().code, Errc::kAlreadyInitialized);
  EXPECT_TRUE(keys->sealed());
  auto st = keys->status();
  EXPECT_TRUE(st.initialized);
  EXPECT_EQ(st.threshold, 3u);
  EXPECT_EQ(st.shares, 5u);
  // The store holds no share and no root key: nothing of them is in the file.
  db->close();
  std::ifstream f(dir + "/herald.db", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (const auto& s : shares) {
    EXPECT_EQ(file.find(std::string(s.bytes.view())), std::string::npos);
    EXPECT_EQ(file.find(crypto::hex_encode(s.bytes.view())), std::string::npos);
  }
  db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
  for (auto order : {std::vector<int>{4, 1, 2}, std::vector<int>{2, 0, 3}, std::vector<int>{0, 1, 4}}) {
    restart();
    EXPECT_TRUE(keys->sealed());
    EXPECT_EQ(keys->encrypt("app", "default", "x", "").error().code, Errc::kSealed);
    ASSERT_TRUE(keys->unseal(shares[order[0]]).ok());
    auto mid = keys->unseal(shares[order[1]]);
    ASSERT_TRUE(mid.ok());
    EXPECT_EQ(mid->progress, 2u);
    EXPECT_TRUE(keys->sealed());  // K-1 shares do not unseal
    ASSERT_TRUE(keys->unseal(shares[order[2]]).ok());
    EXPECT_FALSE(keys->sealed());
  }
}

TEST_F(KmsFixture, WrongTamperedAndDuplicateSharesAreRefused) {
  auto shares = init(3, 2);
  auto other = KeyService::initialize(
      *store::open_store("sqlite", store::StoreOptions{dir + "-other", 64, nullptr}).value(), 3, 2);
  std::filesystem::remove_all(dir + "-other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(keys->unseal((*other)[0]).error().code, Errc::kShareInvalid);  // another installation's share
  Share tampered{shares[1].x, shares[1].bytes};
  tampered.bytes.data()[5] ^= 0x01;
  EXPECT_EQ(keys->unseal(tampered).error().code, Errc::kShareInvalid);
  Share renumbered{2, shares[0].bytes};  // share 1's bytes claiming to be share 2
  EXPECT_EQ(keys->unseal(renumbered).error().code, Errc::kShareInvalid);
  ASSERT_TRUE(keys->unseal(shares[0]).ok());
  EXPECT_EQ(keys->unseal(shares[0]).error().code, Errc::kShareDuplicate);
  EXPECT_EQ(keys->status().progress, 1u);
  keys->reset_unseal();
  EXPECT_EQ(keys->status().progress, 0u);
  unseal_all(shares, 2);
  EXPECT_EQ(keys->unseal(shares[2]).error().code, Errc::kAlreadyUnsealed);
  keys->seal();
  EXPECT_TRUE(keys->sealed());
}

// S5: resetting the unseal progress needs proof; a stranger's reset is refused and
// the shares given so far are kept.
TEST_F(KmsFixture, AResetWithoutAValidShareIsRefusedAndProgressIsKept) {
  auto shares = init(5, 3);
  ASSERT_TRUE(keys->unseal(shares[0]).ok());
  ASSERT_TRUE(keys->unseal(shares[1]).ok());
  Share forged{3, shares[2].bytes};
  forged.bytes.data()[0] ^= 0x01;
  EXPECT_EQ(keys->reset_unseal(forged).error().code, Errc::kShareInvalid);
  Share renumbered{4, shares[2].bytes};  // a real share's bytes under another number
  EXPECT_EQ(keys->reset_unseal(renumbered).error().code, Errc::kShareInvalid);
  EXPECT_EQ(keys->status().progress, 2u);
  // Any real share is proof, given before or not.
  ASSERT_TRUE(keys->reset_unseal(shares[4]).ok());
  EXPECT_EQ(keys->status().progress, 0u);
  unseal_all(shares, 3);
}

TEST_F(KmsFixture, TheCheckValueRecognisesOnlyTheRootKey) {
  auto shares = init(3, 2);
  auto meta = db->get_meta("kms").value().value();
  EXPECT_TRUE(KeyService::root_matches(meta, combine_shares({shares[0], shares[2]})));
  EXPECT_FALSE(KeyService::root_matches(meta, crypto::random_secret(32)));
  EXPECT_FALSE(KeyService::root_matches(meta, combine_shares({shares[0]})));
}

TEST_F(KmsFixture, RotateRewrapAndMinimumDecryptionVersionBehaveAsTransit) {
  auto shares = init(1, 1);
  unseal_all(shares, 1);
  auto made = wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key("app1", "orders", {}, std::move(d)); });
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->latest_version, 1u);
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key("app1", "orders", {}, std::move(d)); }).error().code,
            Errc::kKeyExists);
  auto v1 = keys->encrypt("app1", "orders", "card 4111", "order-7");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->rfind("herald:v1:", 0), 0u);
  auto rotated = wait<KeyInfo>([&](Done<KeyInfo> d) { keys->rotate_key("app1", "orders", std::move(d)); });
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->latest_version, 2u);
  auto v2 = keys->encrypt("app1", "orders", "card 4111", "order-7");
  EXPECT_EQ(v2->rfind("herald:v2:", 0), 0u);
  EXPECT_EQ(keys->decrypt("app1", "orders", *v1, "order-7")->view(), "card 4111");  // old still decrypts
  auto rewrapped = keys->rewrap("app1", "orders", *v1, "order-7");
  ASSERT_TRUE(rewrapped.ok());
  EXPECT_EQ(rewrapped->rfind("herald:v2:", 0), 0u);
  EXPECT_EQ(keys->decrypt("app1", "orders", *rewrapped, "order-7")->view(), "card 4111");
  // Retire version 1.
  KeyConfig cfg;
  cfg.min_decryption_version = 2;
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) {
                keys->configure_key("app1", "orders", cfg, Actor::App, std::move(d));
              }).ok());
  EXPECT_EQ(keys->decrypt("app1", "orders", *v1, "order-7").error().code, Errc::kVersionNotAllowed);
  EXPECT_EQ(keys->rewrap("app1", "orders", *v1, "order-7").error().code, Errc::kVersionNotAllowed);
  EXPECT_TRUE(keys->decrypt("app1", "orders", *v2, "order-7").ok());
  cfg.min_decryption_version = 3;  // beyond the latest
  EXPECT_EQ(
      wait<KeyInfo>([&](Done<KeyInfo> d) { keys->configure_key("app1", "orders", cfg, Actor::App, std::move(d)); })
          .error()
          .code,
      Errc::kInvalidArgument);
  // Context, key and app are bound.
  EXPECT_EQ(keys->decrypt("app1", "orders", *v2, "order-8").error().code, Errc::kDecryptFailed);
  EXPECT_EQ(keys->decrypt("app2", "orders", *v2, "order-7").error().code, Errc::kKeyNotFound);
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key("app1", "other", {}, std::move(d)); }).ok());
  EXPECT_EQ(keys->decrypt("app1", "other", *v2, "order-7").error().code, Errc::kVersionNotAllowed);  // it has v1 only
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->rotate_key("app1", "other", std::move(d)); }).ok());
  EXPECT_EQ(keys->decrypt("app1", "other", *v2, "order-7").error().code, Errc::kDecryptFailed);  // another key's v2
  std::string forged = *v2;
  forged.replace(8, 1, "1");  // claim version 1
  EXPECT_EQ(keys->decrypt("app1", "orders", forged, "order-7").error().code, Errc::kVersionNotAllowed);
  for (const char* bad : {"nope", "herald:v:abc", "herald:vx:abc", "herald:v2:!!!", "herald:v2:YWJj"})
    EXPECT_EQ(keys->decrypt("app1", "orders", bad, "").error().code, Errc::kInvalidCiphertext) << bad;
  // Survives a restart and unseal.
  restart();
  unseal_all(shares, 1);
  EXPECT_EQ(keys->key_info("app1", "orders")->min_decryption_version, 2u);
  EXPECT_EQ(keys->decrypt("app1", "orders", *rewrapped, "order-7")->view(), "card 4111");
}

TEST_F(KmsFixture, DataKeysExportAndDeletionNeedTheirFlags) {
  opts.deletion_delay_ms = 0;  // deleted at once (the tombstone: key_changes_test.cpp)
  auto shares = init(1, 1);
  unseal_all(shares, 1);
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key("a", "k", {}, std::move(d)); }).ok());
  auto dk = keys->datakey("a", "k", 32, true, "blob-1");
  ASSERT_TRUE(dk.ok());
  ASSERT_TRUE(dk->plaintext.has_value());
  EXPECT_EQ(dk->plaintext->size(), 32u);
  EXPECT_EQ(keys->decrypt("a", "k", dk->ciphertext, "blob-1")->view(), dk->plaintext->view());
  EXPECT_FALSE(keys->datakey("a", "k", 32, false, "")->plaintext.has_value());
  EXPECT_EQ(keys->datakey("a", "k", 7, true, "").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(keys->export_key("a", "k").error().code, Errc::kKeyNotExportable);
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->delete_key("a", "k", std::move(d)); }).error().code,
            Errc::kDeletionNotAllowed);
  KeyConfig cfg;
  cfg.exportable = true;
  cfg.deletion_allowed = true;
  ASSERT_TRUE(
      wait<KeyInfo>([&](Done<KeyInfo> d) { keys->configure_key("a", "k", cfg, Actor::Admin, std::move(d)); }).ok());
  auto exported = keys->export_key("a", "k");
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->size(), 1u);
  cfg = KeyConfig{};
  cfg.exportable = false;
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->configure_key("a", "k", cfg, Actor::Admin, std::move(d)); })
                .error()
                .code,
            Errc::kInvalidArgument);
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->delete_key("a", "k", std::move(d)); }).ok());
  EXPECT_EQ(keys->key_info("a", "k").error().code, Errc::kKeyNotFound);
  restart();
  unseal_all(shares, 1);
  EXPECT_EQ(keys->key_info("a", "k").error().code, Errc::kKeyNotFound);
  // Reserved names are not reachable.
  ASSERT_TRUE(keys->ensure_app_keys("a").ok());
  EXPECT_EQ(keys->encrypt("a", "_data", "x", "").error().code, Errc::kKeyNotFound);
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key("a", "_mine", {}, std::move(d)); }).error().code,
            Errc::kInvalidArgument);
}

TEST_F(KmsFixture, AtRestValuesAreBoundToAppAndPlaceAndKeysAreStoredOnlyWrapped) {
  auto shares = init(1, 1);
  unseal_all(shares, 1);
  auto sealed = keys->seal("app1", "secret-marker-123", "apps/client_secret");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(keys->open("app1", *sealed, "apps/client_secret")->view(), "secret-marker-123");
  EXPECT_EQ(keys->open("app1", *sealed, "apps/app_secret/s1").error().code, Errc::kDecryptFailed);
  ASSERT_TRUE(keys->ensure_app_keys("app2").ok());
  EXPECT_EQ(keys->open("app2", *sealed, "apps/client_secret").error().code, Errc::kDecryptFailed);
  auto idx1 = keys->blind_index("app1", "phone", "+15551234567");
  auto idx2 = keys->blind_index("app1", "phone", "+15551234567");
  auto idx3 = keys->blind_index("app2", "phone", "+15551234567");
  ASSERT_TRUE(idx1.ok());
  EXPECT_EQ(*idx1, *idx2);
  EXPECT_NE(*idx1, *idx3);
  EXPECT_EQ(idx1->find("5551234567"), std::string::npos);
  // Unwrapped key bytes never reach the file.
  auto exported_like = keys->datakey("app1", "default", 32, true, "");
  ASSERT_TRUE(exported_like.ok());
  keys->seal();
  EXPECT_EQ(keys->open("app1", *sealed, "apps/client_secret").error().code, Errc::kSealed);
  db->close();
  for (const char* f : {"/herald.db", "/herald.db-wal"}) {
    std::ifstream in(dir + f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find("secret-marker-123"), std::string::npos) << f;
  }
  db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
}

TEST_F(KmsFixture, AlteredWrappedKeysStopTheUnseal) {
  auto shares = init(1, 1);
  unseal_all(shares, 1);
  ASSERT_TRUE(keys->ensure_app_keys("app1").ok());
  keys.reset();
  db->close();
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h,
                         "UPDATE kms_key_versions SET wrapped = (SELECT wrapped FROM kms_key_versions WHERE name = "
                         "'_index') WHERE name = '_data';",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
  keys = std::make_unique<KeyService>(*db, nullptr);
  ASSERT_TRUE(keys->load().ok());
  auto st = keys->unseal(shares[0]);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kStoreError);
  EXPECT_TRUE(keys->sealed());
}

TEST_F(KmsFixture, GfcombineRebuildsTheRootKeyFromOurShares) {
  if (std::system("command -v gfcombine >/dev/null 2>&1") != 0) GTEST_FAIL() << "gfcombine (libgfshare-bin) is missing";
  auto shares = init(5, 3);
  std::vector<std::string> files;
  for (int i : {4, 0, 2}) {
    char name[16];
    std::snprintf(name, sizeof name, "root.%03u", shares[static_cast<std::size_t>(i)].x);
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << shares[static_cast<std::size_t>(i)].bytes.view();
    files.push_back(path);
  }
  std::string cmd = "gfcombine -o " + dir + "/root.key";
  for (const auto& f : files) cmd += " " + f;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir + "/root.key", std::ios::binary);
  std::string root((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(root.size(), 32u);
  auto meta = db->get_meta("kms").value().value();
  EXPECT_TRUE(KeyService::root_matches(meta, crypto::SecretBytes(root)));
}

TEST_F(KmsFixture, DevelopmentDataDirsUnsealWithTheirShareFile) {
  KeyService dev(*db, nullptr);
  ASSERT_TRUE(dev_unseal(dev, *db, dir, true).ok());
  EXPECT_FALSE(dev.sealed());
  KeyService again(*db, nullptr);
  ASSERT_TRUE(dev_unseal(again, *db, dir, false).ok());
  std::filesystem::remove(dev_share_path(dir));
  KeyService no_file(*db, nullptr);
  auto st = dev_unseal(no_file, *db, dir, true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kSealed);
}

}  // namespace
}  // namespace herald::kms
