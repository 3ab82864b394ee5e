// Two herald nodes on one PostgreSQL database, through the real binary (docs/cluster.md).
#include <gtest/gtest.h>

#include "cluster_support.h"

namespace herald::testing {
namespace {

TEST(Cluster, TwoNodesOnOneDatabaseAreBothReadyAndShareTheDemoApp) {
  ClusterNodes cluster;
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  EXPECT_EQ(https(a, "GET", "/readyz").status, 200);
  EXPECT_EQ(https(b, "GET", "/readyz").status, 200);
  // The demo app node A made at its first start is the one node B found in the database.
  auto apps_on_b = https(b, "GET", "/admin/v1/apps", {{"authorization", "Bearer " + admin_token(a)}});
  ASSERT_EQ(apps_on_b.status, 200) << apps_on_b.body;
  EXPECT_NE(apps_on_b.body.find(dev_app(a).id), std::string::npos) << apps_on_b.body;
  EXPECT_EQ(a.log().find(cluster.password()), std::string::npos);
  EXPECT_EQ(b.log().find(cluster.password()), std::string::npos);
}

TEST(Cluster, ANodeNameThatIsNotPathSafeIsRefused) {
  auto r = run_herald({"serve", "--dev", "--cluster.node_name=../evil", "--print-config"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cluster.node_name"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace herald::testing
