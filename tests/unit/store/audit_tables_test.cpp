// The audit tables through store::AuditRecords: entries, tree nodes, batches and checkpoints.
#include <gtest/gtest.h>

#include <future>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class AuditTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(AuditTables);

AuditEntryRecord entry(std::uint64_t seq) {
  return AuditEntryRecord{seq, std::string(32, static_cast<char>(seq)), R"({"seq":)" + std::to_string(seq) + "}"};
}

TEST_P(AuditTables, EntriesAndNodesAreWrittenAndReadByPosition) {
  testing::TempStore t(GetParam());
  AuditRecords& audit = t.db->audit();
  EXPECT_EQ(audit.audit_size().value(), 0u);
  ASSERT_TRUE(wait_for([&](Completion d) { audit.append_audit(entry(0), {}, std::move(d)); }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                audit.append_audit(entry(1), {AuditNodeRecord{1, 0, std::string(32, '\x7f')}}, std::move(d));
              }).ok());
  EXPECT_EQ(audit.audit_size().value(), 2u);

  auto entries = audit.audit_entries(1, 10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].seq, 1u);
  EXPECT_EQ((*entries)[0].leaf_hash, entry(1).leaf_hash);
  EXPECT_EQ((*entries)[0].body, entry(1).body);

  // Level 0 is the entries' leaf hashes; higher levels are the stored subtrees.
  EXPECT_EQ(audit.audit_node(0, 1).value(), std::optional<std::string>(entry(1).leaf_hash));
  EXPECT_EQ(audit.audit_node(1, 0).value(), std::optional<std::string>(std::string(32, '\x7f')));
  EXPECT_FALSE(audit.audit_node(1, 1).value().has_value());
  EXPECT_FALSE(audit.audit_node(0, 9).value().has_value());

  // A seq that exists already is refused and changes nothing.
  auto st = wait_for([&](Completion d) { audit.append_audit(entry(1), {}, std::move(d)); });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(audit.audit_size().value(), 2u);
}

TEST_P(AuditTables, ABatchTakesWhatIsQueuedWhenTheWriterRunsIt) {
  testing::TempStore t(GetParam());
  AuditRecords& audit = t.db->audit();
  std::promise<std::pair<Status, std::size_t>> done;
  audit.append_audit_batch(
      [] {
        AuditRecords::AuditBatch b;
        for (std::uint64_t i = 0; i < 5; ++i) b.entries.push_back(entry(i));
        b.nodes.push_back(AuditNodeRecord{1, 0, std::string(32, 'a')});
        b.nodes.push_back(AuditNodeRecord{2, 0, std::string(32, 'b')});
        return b;
      },
      [&](Status st, const AuditRecords::AuditBatch& b) {
        done.set_value({st, b.entries.size()});
      });
  auto [st, n] = done.get_future().get();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(n, 5u);  // the callback sees the batch that was written
  t.reopen();
  EXPECT_EQ(t.db->audit().audit_size().value(), 5u);
  EXPECT_EQ(t.db->audit().audit_entries(0, 100)->size(), 5u);
  EXPECT_EQ(t.db->audit().audit_node(2, 0).value(), std::optional<std::string>(std::string(32, 'b')));
}

TEST_P(AuditTables, CheckpointsAreListedBySizeAndReplacedBySize) {
  testing::TempStore t(GetParam());
  AuditRecords& audit = t.db->audit();
  EXPECT_FALSE(audit.latest_audit_checkpoint().value().has_value());
  for (std::uint64_t size : {10u, 30u, 20u})
    ASSERT_TRUE(wait_for([&](Completion d) {
                  audit.put_audit_checkpoint(
                      AuditCheckpointRecord{size, std::string(32, 'r'), static_cast<std::int64_t>(size) * 1000,
                                            std::string(64, 's')},
                      std::move(d));
                }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                audit.put_audit_checkpoint(AuditCheckpointRecord{20, std::string(32, 'x'), 99, std::string(64, 'y')},
                                           std::move(d));
              }).ok());
  auto all = audit.audit_checkpoints();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].size, 10u);
  EXPECT_EQ((*all)[1].size, 20u);
  EXPECT_EQ((*all)[1].root, std::string(32, 'x'));
  EXPECT_EQ((*all)[1].ts_ms, 99);
  EXPECT_EQ((*all)[1].signature, std::string(64, 'y'));
  auto latest = audit.latest_audit_checkpoint().value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->size, 30u);
}

// Several nodes on one PostgreSQL database each append to a log of their own (named by
// StoreOptions::audit_log), numbered from 0 without conflict; every log is listed, with
// the key published for it. SQLite holds one log, named "".
TEST_P(AuditTables, EachNodeAppendsToItsOwnLogAndEveryLogIsListedWithItsKey) {
  testing::TempStore t(GetParam());
  if (GetParam() == "sqlite") {
    AuditRecords& only = t.db->audit();
    EXPECT_EQ(only.audit_log_name(), "");
    ASSERT_TRUE(wait_for([&](Completion d) { only.put_audit_log_key("PEM-ONE", std::move(d)); }).ok());
    auto logs = only.audit_logs();
    ASSERT_TRUE(logs.ok());
    ASSERT_EQ(logs->size(), 1u);
    EXPECT_EQ((*logs)[0].name, "");
    EXPECT_EQ((*logs)[0].public_key, "PEM-ONE");
    EXPECT_EQ(t.db->get_meta("audit_public_key").value(), std::optional<std::string>("PEM-ONE"));
    EXPECT_NE(only.audit_log(""), nullptr);
    EXPECT_EQ(only.audit_log("node-b"), nullptr);
    return;
  }
  t.opts.audit_log = "node-a";
  t.reopen();
  t.opts.audit_log = "node-b";
  auto other = t.open_another();
  AuditRecords& a = t.db->audit();
  AuditRecords& b = other->audit();
  EXPECT_EQ(a.audit_log_name(), "node-a");
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(wait_for([&](Completion d) { a.append_audit(entry(i), {}, std::move(d)); }).ok());
    if (i < 2) {
      ASSERT_TRUE(wait_for([&](Completion d) { b.append_audit(entry(i), {}, std::move(d)); }).ok());
    }
  }
  ASSERT_TRUE(wait_for([&](Completion d) {
                b.put_audit_checkpoint(AuditCheckpointRecord{2, std::string(32, 'r'), 7, "sig"}, std::move(d));
              }).ok());
  EXPECT_EQ(a.audit_size().value(), 3u);
  EXPECT_EQ(b.audit_size().value(), 2u);
  EXPECT_TRUE(a.audit_checkpoints().value().empty());
  EXPECT_EQ(b.audit_checkpoints().value().size(), 1u);

  ASSERT_TRUE(wait_for([&](Completion d) { a.put_audit_log_key("PEM-A", std::move(d)); }).ok());
  auto logs = a.audit_logs();
  ASSERT_TRUE(logs.ok()) << logs.error().message;
  ASSERT_EQ(logs->size(), 2u);
  EXPECT_EQ((*logs)[0].name, "node-a");
  EXPECT_EQ((*logs)[0].public_key, "PEM-A");
  EXPECT_EQ((*logs)[1].name, "node-b");
  EXPECT_EQ((*logs)[1].public_key, "");

  // Another node's log, read from this node's store.
  auto b_from_a = a.audit_log("node-b");
  ASSERT_NE(b_from_a, nullptr);
  EXPECT_EQ(b_from_a->audit_size().value(), 2u);
  EXPECT_EQ(b_from_a->latest_audit_checkpoint().value()->size, 2u);
  EXPECT_EQ(b_from_a->audit_entries(0, 10).value().size(), 2u);
  EXPECT_EQ(a.audit_log("node-c"), nullptr);

  // A log with a published key but no entry left is still listed (so that verify finds
  // a log whose entries were all deleted).
  t.opts.audit_log = "node-c";
  auto third = t.open_another();
  ASSERT_TRUE(wait_for([&](Completion d) { third->audit().put_audit_log_key("PEM-C", std::move(d)); }).ok());
  EXPECT_EQ(a.audit_logs().value().size(), 3u);
  EXPECT_NE(a.audit_log("node-c"), nullptr);
}

}  // namespace
}  // namespace herald::store
