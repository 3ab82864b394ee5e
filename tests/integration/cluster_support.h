// Several `herald serve --dev` nodes on one PostgreSQL database (docs/cluster.md), for the
// cluster tests: one fresh schema per ClusterNodes, one shared data directory (the
// development share that unseals every node, the admin token, the demo app and the
// certificate), and each node on its own port with its own `cluster.node_name`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace herald::testing {

class ClusterNodes {
 public:
  // `common` flags go to every node (e.g. a short --messages.poll_interval).
  explicit ClusterNodes(std::vector<std::string> common = {});
  ClusterNodes(const ClusterNodes&) = delete;
  ClusterNodes& operator=(const ClusterNodes&) = delete;

  // The options of node `name`: --dev, the postgres driver on this cluster's schema, the
  // shared data dir, the common flags and then `more`.
  Server::Options options(const std::string& name, std::vector<std::string> more = {}) const;
  // Starts node `name` and keeps it (nodes stop when the ClusterNodes goes). The first
  // node started makes the development share and the demo app the others use.
  Server& start(const std::string& name, std::vector<std::string> more = {});

  const std::string& store_url() const { return url_; }
  const std::string& data_dir() const { return data_.path(); }
  // The store URL's password, for scans of logs and output.
  std::string password() const;

 private:
  std::string url_;
  TempDir data_;
  std::vector<std::string> common_;
  std::vector<std::unique_ptr<Server>> nodes_;
};

}  // namespace herald::testing
