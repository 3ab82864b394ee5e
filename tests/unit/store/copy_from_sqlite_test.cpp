// The SQLite-to-PostgreSQL copy (`herald store migrate`'s engine): bytes land as they
// were, sequences move past the copied ids, a data dir in use and a non-empty target are
// refused, and the URL's secrets never reach an error.
#include "store/copy_from_sqlite.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store_fixture.h"

namespace herald::store {
namespace {

using testing::TempStore;

std::string schema_of(const std::string& url) {
  return url.substr(url.rfind("%3D") + 3);
}

void sqlite_exec(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &db), SQLITE_OK);
  char* msg = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
  std::string err = msg ? msg : "";
  sqlite3_free(msg);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << err;
}

TEST(CopyFromSqlite, BytesArriveExactlyAndSequencesMovePastTheCopiedIds) {
  auto& pg = herald::testing::PgServer::shared();
  std::string url = pg.fresh_schema_url(), schema = schema_of(url);
  TempStore src;
  std::string binary("\x00\xff\x80 sealed\x01", 11);
  ASSERT_TRUE(wait_for([&](Completion done) { src.db->put_meta("k", binary, std::move(done)); }).ok());
  src.db.reset();
  sqlite_exec(src.dir,
              "INSERT INTO audit_nodes VALUES (0, 7, x'00ff10ab');"
              "INSERT INTO message_events VALUES (1, 10, 'queued', 'push', '', 0), (1, 11, 'sent', 'push', '', 1);");

  std::vector<std::string> seen;
  auto r =
      copy_from_sqlite({src.dir, url, [&](const std::string& t, std::int64_t, std::int64_t) { seen.push_back(t); }});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tables.size(), 18u);  // with message_seq_slots
  for (auto& t : r->tables) EXPECT_EQ(t.source_rows, t.target_rows) << t.table;
  EXPECT_FALSE(seen.empty()) << "no progress reported";
  EXPECT_EQ(pg.sql("SELECT encode(value, 'hex') FROM " + schema + ".meta WHERE key = 'k';"),
            "00ff80207365616c656401\n");
  EXPECT_EQ(pg.sql("SELECT encode(hash, 'hex') FROM " + schema + ".audit_nodes WHERE idx = 7;"), "00ff10ab\n");
  // The events kept SQLite's order; the next one is numbered after them.
  EXPECT_EQ(pg.sql("SELECT string_agg(event, ',' ORDER BY id) FROM " + schema + ".message_events;"), "queued,sent\n");
  pg.sql("INSERT INTO " + schema +
         ".message_events (seq, at_ms, event, channel, detail, connections) "
         "VALUES (2, 12, 'queued', 'push', '', 0);");
  EXPECT_EQ(pg.sql("SELECT max(id) FROM " + schema + ".message_events;"), "3\n");

  // The copied database opens as a store, and reads the same bytes.
  StoreOptions po{"", 64, nullptr};
  po.postgres.url = url;
  po.postgres.pool_size = 1;
  auto opened = open_store("postgres", po);
  ASSERT_TRUE(opened) << opened.error().message;
  auto got = (*opened)->get_meta("k");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, binary);

  // Copying again into what now holds data is refused, and changes nothing.
  auto again = copy_from_sqlite({src.dir, url, nullptr});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kConflict);
  EXPECT_NE(again.error().message.find("already holds Herald data"), std::string::npos) << again.error().message;
  EXPECT_EQ(pg.sql("SELECT count(*) FROM " + schema + ".audit_nodes;"), "1\n");
}

TEST(CopyFromSqlite, ADataDirOpenByAStoreIsRefused) {
  std::string url = herald::testing::PgServer::shared().fresh_schema_url();
  TempStore src;  // open: holds the data dir's lock shared, as a running node does
  auto r = copy_from_sqlite({src.dir, url, nullptr});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kConflict);
  EXPECT_NE(r.error().message.find("in use by a running herald"), std::string::npos) << r.error().message;
}

TEST(CopyFromSqlite, TheUrlsSecretsAreRedactedFromMessages) {
  std::string url = "postgresql://herald:hunter2pw@db.example:5432/herald?sslmode=require";
  EXPECT_EQ(redact_url("bad value in " + url, url), "bad value in <redacted>");
  EXPECT_EQ(redact_url("user \"herald:hunter2pw\" refused", url), "user \"<redacted>\" refused");
  EXPECT_EQ(redact_url("password \"hunter2pw\" is wrong", url), "password \"<redacted>\" is wrong");
  std::string kw = "postgresql://db.example/herald?user=x&password=s3kr1tkw&sslmode=require";
  EXPECT_EQ(redact_url("option password=s3kr1tkw bad", kw).find("s3kr1tkw"), std::string::npos);
  EXPECT_EQ(redact_url("connection refused", url), "connection refused");
}

}  // namespace
}  // namespace herald::store
