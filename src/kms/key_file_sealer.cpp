// The key file is 32 raw bytes. It is created with O_EXCL at mode 0600, and an existing
// file with wider permissions or the wrong size is refused rather than used.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/aead.h"
#include "kms/sealer.h"

namespace herald::kms {
namespace {

constexpr char kFormat = '\x01';  // sealed values start with their format version

std::string bound_data(std::string_view app_id, std::string_view associated) {
  std::string ad = "herald/v1/";
  ad.append(app_id).push_back('/');
  ad.append(associated);
  return ad;
}

}  // namespace

Result<std::unique_ptr<KeyFileSealer>> KeyFileSealer::open_or_create(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    crypto::SecretBytes key = crypto::random_secret(crypto::kAeadKeyBytes);
    int w = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w < 0) return make_error("key_file_error", "cannot create " + path + ": " + std::strerror(errno));
    bool ok = ::write(w, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(w) == 0;
    ::close(w);
    if (!ok) return make_error("key_file_error", "cannot write " + path);
    return std::unique_ptr<KeyFileSealer>(new KeyFileSealer(std::move(key)));
  }
  if (fd < 0) return make_error("key_file_error", "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error("key_file_error", path + " must be readable by its owner only (chmod 600)");
  }
  crypto::SecretBytes key(crypto::kAeadKeyBytes);
  ssize_t n = ::read(fd, key.data(), key.size());
  char extra;
  bool longer = ::read(fd, &extra, 1) > 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size()) || longer)
    return make_error("key_file_error", path + " is not a 32-byte key file");
  return std::unique_ptr<KeyFileSealer>(new KeyFileSealer(std::move(key)));
}

std::string KeyFileSealer::seal(std::string_view app_id, std::string_view plaintext, std::string_view associated) {
  std::string out(1, kFormat);
  out += crypto::aead_seal(key_, plaintext, bound_data(app_id, associated));
  return out;
}

Result<crypto::SecretBytes> KeyFileSealer::open(std::string_view app_id, std::string_view sealed,
                                                std::string_view associated) {
  if (sealed.empty() || sealed[0] != kFormat)
    return make_error("decrypt_failed", "the sealed value has an unknown format");
  return crypto::aead_open(key_, sealed.substr(1), bound_data(app_id, associated));
}

}  // namespace herald::kms
