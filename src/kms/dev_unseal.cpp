// The share file is created with O_EXCL: an existing one is never overwritten.
#include "kms/dev_unseal.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <fstream>

#include "kms/key_service.h"
#include "store/store.h"

namespace herald::kms {

std::string dev_share_path(const std::string& data_dir) {
  return data_dir + "/dev-unseal.share";
}

Status dev_unseal(KeyService& keys, store::Store& db, const std::string& data_dir, bool initialise) {
  const std::string path = dev_share_path(data_dir);
  auto st = keys.load();
  if (!st && st.error().code == Errc::kNotInitialized && initialise) {
    auto shares = KeyService::initialize(db, 1, 1);
    if (!shares) return shares.error();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::kKmsInitFailed, "cannot create " + path);
    crypto::SecretBytes share = format_share(shares->front());
    bool ok = ::write(fd, share.data(), share.size()) == static_cast<ssize_t>(share.size()) &&
              ::write(fd, "\n", 1) == 1 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return make_error(Errc::kKmsInitFailed, "cannot write " + path);
    st = keys.load();
  }
  if (!st) return st;
  if (!keys.sealed()) return ok_status();
  std::ifstream f(path);
  std::string line;
  if (!std::getline(f, line))
    return make_error(Errc::kSealed,
                      "the key service is sealed and " + path +
                          " is missing: this is not a development data dir; unseal a running server with "
                          "`herald operator unseal` and use the admin API");
  auto share = parse_share(line);
  OPENSSL_cleanse(line.data(), line.size());  // the share line is the root key when K is 1
  if (!share) return share.error();
  auto unsealed = keys.unseal(*share);
  if (!unsealed) return unsealed.error();
  return ok_status();
}

}  // namespace herald::kms
