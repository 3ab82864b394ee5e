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

}  // namespace
}  // namespace herald::store
