// Development data dirs: a key service with a single share, kept next to the data in
// <data_dir>/dev-unseal.share (0600), so that `serve --dev` and the offline CLI unseal
// without an operator. Anyone who can read the file can read every secret: never for
// production data.
#pragma once

#include <string>

#include "core/result.h"

namespace herald::store {
class Store;
}

namespace herald::kms {

class KeyService;

// Loads `keys`; initialises it with one share (written to the share file) when the
// data dir has no key service yet and `initialise` is set; then unseals it with the
// share file. Errors name what is missing.
Status dev_unseal(KeyService& keys, store::Store& db, const std::string& data_dir, bool initialise);

std::string dev_share_path(const std::string& data_dir);

}  // namespace herald::kms
