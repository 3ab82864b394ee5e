// Several herald nodes on one PostgreSQL database (cluster_support.h).
#include "cluster_support.h"

#include "pg_server.h"

namespace herald::testing {

ClusterNodes::ClusterNodes(std::vector<std::string> common)
    : url_(PgServer::shared().fresh_schema_url()), common_(std::move(common)) {}

Server::Options ClusterNodes::options(const std::string& name, std::vector<std::string> more) const {
  Server::Options o;
  o.args = {"--store.driver=postgres", "--store.data_dir=" + data_.path(), "--cluster.node_name=" + name};
  o.args.insert(o.args.end(), common_.begin(), common_.end());
  o.args.insert(o.args.end(), more.begin(), more.end());
  o.env.push_back("HERALD_STORE_POSTGRES_URL=" + url_);
  return o;
}

Server& ClusterNodes::start(const std::string& name, std::vector<std::string> more) {
  nodes_.push_back(std::make_unique<Server>(options(name, std::move(more))));
  return *nodes_.back();
}

std::string ClusterNodes::password() const {
  // postgresql://user:password@host...
  auto colon = url_.find(':', std::string("postgresql://").size());
  auto at = url_.find('@', colon);
  return url_.substr(colon + 1, at - colon - 1);
}

}  // namespace herald::testing
