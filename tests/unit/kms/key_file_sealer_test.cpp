#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "kms/sealer.h"

namespace herald::kms {
namespace {

struct TempDir {
  TempDir() {
    std::string t = ::testing::TempDir() + "/sealer-XXXXXX";
    path = mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(KeyFileSealer, SealsBoundToAppAndPlaceAndPersistsItsKey) {
  TempDir d;
  std::string file = d.path + "/at-rest.key";
  auto s = KeyFileSealer::open_or_create(file);
  ASSERT_TRUE(s.ok()) << s.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  std::string sealed = (*s)->seal("app_1", "top secret", "apps/client_secret");
  EXPECT_EQ(sealed.find("top secret"), std::string::npos);
  auto opened = (*s)->open("app_1", sealed, "apps/client_secret");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "top secret");
  // Moved to another app or another field: refused.
  EXPECT_EQ((*s)->open("app_2", sealed, "apps/client_secret").error().code, "decrypt_failed");
  EXPECT_EQ((*s)->open("app_1", sealed, "apps/app_secret/s1").error().code, "decrypt_failed");
  std::string flipped = sealed;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_EQ((*s)->open("app_1", flipped, "apps/client_secret").error().code, "decrypt_failed");
  // The same key comes back from the file.
  auto again = KeyFileSealer::open_or_create(file);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->open("app_1", sealed, "apps/client_secret")->view(), "top secret");
}

TEST(KeyFileSealer, RefusesAKeyFileOthersCanReadOrOfTheWrongSize) {
  TempDir d;
  std::string file = d.path + "/at-rest.key";
  ASSERT_TRUE(KeyFileSealer::open_or_create(file).ok());
  ::chmod(file.c_str(), 0644);
  auto loose = KeyFileSealer::open_or_create(file);
  ASSERT_FALSE(loose.ok());
  EXPECT_EQ(loose.error().code, "key_file_error");
  ::chmod(file.c_str(), 0600);
  std::ofstream(file, std::ios::app) << "x";
  EXPECT_FALSE(KeyFileSealer::open_or_create(file).ok());
}

}  // namespace
}  // namespace herald::kms
