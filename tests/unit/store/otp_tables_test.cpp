// The verification-code tables through store::OtpRecords: write, read, update, expire.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class OtpTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(OtpTables);

TEST_P(OtpTables, VerificationsAndCountersAreWrittenUpdatedAndExpire) {
  testing::TempStore t(GetParam());
  OtpRecords& otp = t.db->otp();
  ASSERT_TRUE(wait_for([&](Completion d) {
                otp.put_otp_verification(
                    OtpVerificationRecord{"v1", "app", "sealed-1", 5000},
                    {OtpCounterRecord{"recipient:app:idx", 0, 1, 3000}, OtpCounterRecord{"ip:app:idx", 0, 1, 8000}},
                    std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                otp.put_otp_verification(OtpVerificationRecord{"v2", "app", "sealed-2", 9000}, {}, std::move(d));
              }).ok());
  // An update of v1 (an attempt) and of one counter.
  ASSERT_TRUE(wait_for([&](Completion d) {
                otp.put_otp_verification(OtpVerificationRecord{"v1", "app", "sealed-1b", 6000},
                                         {OtpCounterRecord{"recipient:app:idx", 0, 2, 3000}}, std::move(d));
              }).ok());

  t.reopen();
  OtpRecords& again = t.db->otp();
  auto live = again.load_otp_verifications(5500);  // only those not yet purgeable
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 2u);
  for (const auto& v : *live) {
    if (v.id == "v1") {
      EXPECT_EQ(v.sealed, "sealed-1b");
      EXPECT_EQ(v.purge_ms, 6000);
    }
  }
  EXPECT_EQ(again.load_otp_verifications(7000)->size(), 1u);

  auto counters = again.load_otp_counters(0);
  ASSERT_TRUE(counters.ok());
  ASSERT_EQ(counters->size(), 2u);
  for (const auto& c : *counters)
    if (c.key == "recipient:app:idx") {
      EXPECT_EQ(c.count, 2u);
    }
  EXPECT_EQ(again.load_otp_counters(3000)->size(), 1u);  // a window ends at expires_ms

  ASSERT_TRUE(wait_for([&](Completion d) { again.purge_otp(7000, std::move(d)); }).ok());
  auto left = again.load_otp_verifications(0);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, "v2");
  auto left_counters = again.load_otp_counters(0);
  ASSERT_EQ(left_counters->size(), 1u);
  EXPECT_EQ(left_counters->front().key, "ip:app:idx");
}

TEST_P(OtpTables, BlocklistEntriesAreAddedReplacedAndRemoved) {
  testing::TempStore t(GetParam());
  OtpRecords& otp = t.db->otp();
  for (const char* idx : {"i1", "i2"})
    ASSERT_TRUE(wait_for([&](Completion d) {
                  otp.put_otp_block(OtpBlockRecord{"app", idx, "s", 1}, std::move(d));
                }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                otp.put_otp_block(OtpBlockRecord{"app", "i1", "s2", 2}, std::move(d));
              }).ok());
  auto all = otp.load_otp_blocklist();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  for (const auto& b : *all)
    if (b.recipient_index == "i1") {
      EXPECT_EQ(b.sealed, "s2");
      EXPECT_EQ(b.created_ms, 2);
    }
  ASSERT_TRUE(wait_for([&](Completion d) { otp.delete_otp_block("app", "i1", std::move(d)); }).ok());
  all = otp.load_otp_blocklist();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().recipient_index, "i2");
}

}  // namespace
}  // namespace herald::store
