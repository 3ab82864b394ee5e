// A store in a fresh temporary directory, opened through the factory and used through
// the Store interfaces, as the domain modules use it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "store/store.h"

namespace herald::store::testing {

struct TempStore {
  std::string root;
  std::string dir;
  std::unique_ptr<Store> db;

  TempStore() {
    char t[] = "/tmp/herald-tables-XXXXXX";
    root = ::mkdtemp(t);
    dir = root + "/data";
    reopen();
  }
  ~TempStore() {
    db.reset();
    std::filesystem::remove_all(root);
  }
  // Closes the store (every queued write finishes) and opens it again from disk.
  void reopen() {
    db.reset();
    auto opened = open_store("sqlite", StoreOptions{dir, 64, nullptr});
    if (!opened) throw std::runtime_error(opened.error().message);
    db = std::move(*opened);
  }
};

}  // namespace herald::store::testing
