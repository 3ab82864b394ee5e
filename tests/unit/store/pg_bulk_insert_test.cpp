// The postgres writer's multi-row inserts: a batch's rows of one table go as one
// statement, a row that loses a unique conflict fails its write alone, a statement
// that fails as a whole is sent again row by row, and the bounds split big batches.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "store/postgres/bulk_tables.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_writer.h"
#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

using namespace std::chrono_literals;
using testing::TempStore;

MessageRecord message(std::uint64_t seq, std::string idem = "", std::string user = "u-index") {
  MessageRecord m;
  m.seq = seq;
  m.id = "msg_" + std::to_string(seq);
  m.app_id = "app_1";
  m.user_index = std::move(user);
  m.idem_index = std::move(idem);
  m.template_name = "";
  m.created_ms = 1000 + static_cast<std::int64_t>(seq);
  m.expires_ms = 9'000'000;
  m.due_ms = 5000;
  m.sealed = std::string("\x00\x01sealed\xff", 9) + std::to_string(seq);
  return m;
}

// Holds an exclusive lock on `table` from another connection, so that the writer's
// batch that touches it waits on the server while more writes queue behind it.
class TableLock {
 public:
  TableLock(const std::string& url, const char* table) {
    auto c = pg::Connection::open(pg::ConnectOptions{url});
    if (!c) throw std::runtime_error(c.error().message);
    conn_ = std::move(*c);
    auto st = conn_->exec(std::string("BEGIN; LOCK TABLE ") + table + " IN ACCESS EXCLUSIVE MODE;", "lock");
    if (!st) throw std::runtime_error(st.error().message);
  }
  void release() { (void)conn_->exec("COMMIT;", "unlock"); }

 private:
  std::unique_ptr<pg::Connection> conn_;
};

// Collects completions in submission order.
struct Outcomes {
  explicit Outcomes(std::size_t n) : promises(n) {
    for (auto& p : promises) futures.push_back(p.get_future());
  }
  Completion slot(std::size_t i) {
    return [this, i](Status st) { promises[i].set_value(std::move(st)); };
  }
  Status get(std::size_t i) {
    if (futures[i].wait_for(30s) != std::future_status::ready) return make_error(Errc::kInternal, "timed out");
    return futures[i].get();
  }
  std::vector<std::promise<Status>> promises;
  std::vector<std::future<Status>> futures;
};

TEST(PostgresBulkInsert, ADuplicateIdempotencyKeyFailsAloneAndTheRestOfTheBatchCommits) {
  TempStore t("postgres");
  auto& rec = t.db->messages();
  ASSERT_TRUE(wait_for([&](Completion d) { rec.insert_message(message(1, "idem-taken"), std::move(d)); }).ok());
  auto commits_before = t.db->stats().commits;

  TableLock lock(t.opts.postgres.url, "meta");
  std::promise<Status> blocked;
  t.db->put_meta("k", "v", [&](Status st) { blocked.set_value(std::move(st)); });
  std::this_thread::sleep_for(200ms);  // the writer is now waiting on the lock
  // 20 publishes queue behind it; #8 reuses a committed key, #14 the key of #4 in the same batch.
  constexpr std::size_t kN = 20;
  Outcomes out(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    std::string idem = "idem-" + std::to_string(i);
    if (i == 8) idem = "idem-taken";
    if (i == 14) idem = "idem-4";
    rec.insert_message(message(100 + i, idem), out.slot(i));
  }
  lock.release();
  ASSERT_TRUE(blocked.get_future().get().ok());
  for (std::size_t i = 0; i < kN; ++i) {
    auto st = out.get(i);
    auto row = rec.message(100 + i);
    ASSERT_TRUE(row.ok());
    if (i == 8 || i == 14) {
      ASSERT_FALSE(st.ok()) << i;
      EXPECT_EQ(st.error().code, Errc::kDuplicate) << i;
      EXPECT_FALSE(row->has_value()) << i;
    } else {
      ASSERT_TRUE(st.ok()) << i << ": " << st.error().message;
      ASSERT_TRUE(row->has_value()) << i;
      EXPECT_EQ((*row)->sealed, message(100 + i).sealed);
      EXPECT_EQ((*row)->idem_index, "idem-" + std::to_string(i));
    }
  }
  // The publishes went in one transaction (besides the blocked one), not one each.
  EXPECT_LE(t.db->stats().commits - commits_before, 3u);
  EXPECT_GE(t.db->stats().max_batch, kN);
  EXPECT_EQ(rec.message_by_idempotency("app_1", "idem-taken").value().value().seq, 1u);
  EXPECT_EQ(rec.message_by_idempotency("app_1", "idem-4").value().value().seq, 104u);
}

// The writer alone, on a schema the store made, with small bounds.
struct WriterFixture {
  TempStore store{"postgres"};
  std::unique_ptr<pg::Writer> writer;
  WriterFixture(std::uint64_t batch_max, pg::BulkLimits limits) {
    auto c = pg::Connection::open(pg::ConnectOptions{store.opts.postgres.url});
    if (!c) throw std::runtime_error(c.error().message);
    writer = std::make_unique<pg::Writer>(std::move(*c), batch_max, 10s, nullptr, limits);
    writer->start();
  }
  ~WriterFixture() { writer->close(); }
  void insert(const MessageRecord& m, Completion done) {
    writer->submit(
        [m](pg::WriteTx& tx) {
          tx.insert(m.idem_index.empty() ? pg::kMessageRows : pg::kKeyedMessageRows,
                    pg::cells(m.seq, m.id, m.app_id, m.user_index, pg::NullIfEmpty{m.idem_index}, m.template_name,
                              m.created_ms, m.expires_ms, m.state, m.step, m.due_ms, m.sealed),
                    make_error(Errc::kDuplicate, "taken"));
          return ok_status();
        },
        std::move(done));
  }
  void block(TableLock&, std::promise<Status>& blocked) {
    writer->submit(
        [](pg::WriteTx& tx) {
          tx.run("INSERT INTO meta(key, value, updated_at) VALUES ('b', 'x', 0);", pg::Params{});
          return ok_status();
        },
        [&blocked](Status st) { blocked.set_value(std::move(st)); });
    std::this_thread::sleep_for(200ms);
  }
};

TEST(PostgresBulkInsert, ABatchLargerThanTheBoundIsSplitIntoSeveralStatements) {
  WriterFixture f(1000, pg::BulkLimits{8, 1 << 20});
  TableLock lock(f.store.opts.postgres.url, "meta");
  std::promise<Status> blocked;
  auto statements_before = f.writer->statements_sent();
  f.block(lock, blocked);
  constexpr std::size_t kN = 50;
  Outcomes out(kN);
  for (std::size_t i = 0; i < kN; ++i)
    f.insert(message(i + 1, i == 30 ? "same" : (i == 20 ? "same" : "")), out.slot(i));
  lock.release();
  ASSERT_TRUE(blocked.get_future().get().ok());
  for (std::size_t i = 0; i < kN; ++i) {
    auto st = out.get(i);
    if (i == 30) {
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code, Errc::kDuplicate);
    } else {
      EXPECT_TRUE(st.ok()) << i << ": " << st.error().message;
    }
  }
  // The blocked write's statement, then 50 rows at 8 a statement: 7 (whether or not the
  // rows joined the blocked write's batch).
  EXPECT_EQ(f.writer->statements_sent() - statements_before, 8u);
  EXPECT_EQ(f.writer->bulk_rows_sent(), kN);
  EXPECT_EQ(f.store.db->messages().message_by_idempotency("app_1", "same").value().value().seq, 21u);
  for (std::size_t i = 0; i < kN; ++i)
    EXPECT_EQ(f.store.db->messages().message(i + 1).value().has_value(), i != 30) << i;
}

TEST(PostgresBulkInsert, ABatchAboveBatchMaxGoesInSeveralTransactions) {
  WriterFixture f(16, pg::BulkLimits{});
  TableLock lock(f.store.opts.postgres.url, "meta");
  std::promise<Status> blocked;
  f.block(lock, blocked);
  auto commits_before = f.writer->stats().commits;
  constexpr std::size_t kN = 40;
  Outcomes out(kN);
  for (std::size_t i = 0; i < kN; ++i) f.insert(message(i + 1), out.slot(i));
  lock.release();
  ASSERT_TRUE(blocked.get_future().get().ok());
  for (std::size_t i = 0; i < kN; ++i) EXPECT_TRUE(out.get(i).ok()) << i;
  EXPECT_LE(f.writer->stats().max_batch, 16u);
  EXPECT_GE(f.writer->stats().commits - commits_before, 3u);
}

// A row the server refuses for another reason than a conflict (text that is not UTF-8),
// or a taken seq in the plain INSERT of rows without an idempotency key, fails the whole
// multi-row statement: the batch goes again row by row, and only the write with that
// row fails.
TEST(PostgresBulkInsert, AStatementThatFailsAsAWholeIsSentAgainRowByRow) {
  WriterFixture f(1000, pg::BulkLimits{});
  Outcomes first(1);
  f.insert(message(1000), first.slot(0));
  ASSERT_TRUE(first.get(0).ok());
  TableLock lock(f.store.opts.postgres.url, "meta");
  std::promise<Status> blocked;
  f.block(lock, blocked);
  constexpr std::size_t kN = 12;
  Outcomes out(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    auto m = message(i == 9 ? 1000 : i + 1, "", i == 5 ? "bad\xff\xfe" : "u-index");
    f.insert(m, out.slot(i));
  }
  lock.release();
  ASSERT_TRUE(blocked.get_future().get().ok());
  for (std::size_t i = 0; i < kN; ++i) {
    auto st = out.get(i);
    EXPECT_EQ(st.ok(), i != 5 && i != 9) << i;
    if (i == 9 && !st.ok()) {
      EXPECT_EQ(st.error().code, Errc::kDuplicate);
    }
  }
  for (std::size_t i = 0; i < kN; ++i)
    if (i != 9) {
      EXPECT_EQ(f.store.db->messages().message(i + 1).value().has_value(), i != 5) << i;
    }
  EXPECT_EQ(f.store.db->messages().message(1000).value().value().user_index, "u-index");
}

// Upserts of the same key in one batch: one statement may not update a row twice, so
// only the last is sent, and it wins as it would row by row.
TEST(PostgresBulkInsert, UpsertsOfOneKeyInABatchLeaveTheLast) {
  TempStore t("postgres");
  TableLock lock(t.opts.postgres.url, "meta");
  std::promise<Status> blocked;
  t.db->put_meta("k", "v", [&](Status st) { blocked.set_value(std::move(st)); });
  std::this_thread::sleep_for(200ms);
  constexpr std::size_t kN = 10;
  Outcomes out(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    OtpVerificationRecord v{"ver_" + std::to_string(i % 3), "app_1", "sealed-" + std::to_string(i), 1'000'000};
    std::vector<OtpCounterRecord> counters{{"app-minute", 60'000, i + 1, 2'000'000}};
    t.db->otp().put_otp_verification(v, counters, out.slot(i));
  }
  lock.release();
  ASSERT_TRUE(blocked.get_future().get().ok());
  for (std::size_t i = 0; i < kN; ++i) EXPECT_TRUE(out.get(i).ok()) << i;
  auto counters = t.db->otp().load_otp_counters(0).value();
  ASSERT_EQ(counters.size(), 1u);
  EXPECT_EQ(counters[0].count, kN);
  auto vs = t.db->otp().load_otp_verifications(0).value();
  ASSERT_EQ(vs.size(), 3u);
  for (const auto& v : vs) {
    int last = v.id == "ver_0" ? 9 : (v.id == "ver_1" ? 7 : 8);
    EXPECT_EQ(v.sealed, "sealed-" + std::to_string(last)) << v.id;
  }
}

}  // namespace
}  // namespace herald::store
