#include "otp/verification.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace herald::otp {
namespace {

// Not copyable (it holds its mutex), so each test gets its own.
std::unique_ptr<Verification> sample() {
  auto p = std::make_unique<Verification>();
  Verification& v = *p;
  v.id = "otp_0123456789abcdef0123456789abcdef";
  v.app_id = "app1";
  v.to = "+4915123456789";
  v.channel = "sms";
  v.device_id = "dev-1";
  v.purpose = "login";
  v.recipient_index = "ri";
  v.code_hash = "ch";
  v.created_ms = 1'795'428'000'000;
  v.expires_ms = 1'795'428'300'000;
  v.token_expires_ms = 1'795'428'600'000;
  v.attempts = 2;
  v.state = State::Verified;
  return p;
}

TEST(VerificationCodec, RoundTripKeepsEveryField) {
  auto out = Verification::from_json(sample()->to_json());
  ASSERT_NE(out, nullptr);
  auto expected = sample();
  const Verification& in = *expected;
  EXPECT_EQ(out->id, in.id);
  EXPECT_EQ(out->app_id, in.app_id);
  EXPECT_EQ(out->to, in.to);
  EXPECT_EQ(out->channel, in.channel);
  EXPECT_EQ(out->device_id, in.device_id);
  EXPECT_EQ(out->purpose, in.purpose);
  EXPECT_EQ(out->recipient_index, in.recipient_index);
  EXPECT_EQ(out->code_hash, in.code_hash);
  EXPECT_EQ(out->created_ms, in.created_ms);
  EXPECT_EQ(out->expires_ms, in.expires_ms);
  EXPECT_EQ(out->token_expires_ms, in.token_expires_ms);
  EXPECT_EQ(out->attempts, in.attempts);
  EXPECT_EQ(out->state, State::Verified);
  EXPECT_EQ(out->purge_ms(), in.token_expires_ms);
}

TEST(VerificationCodec, EveryStateRoundTrips) {
  for (State s : {State::Pending, State::Verified, State::Redeemed, State::Dead}) {
    auto v = sample();
    v->state = s;
    auto out = Verification::from_json(v->to_json());
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->state, s);
  }
}

// Records sealed by earlier versions must still open: the field names are the format.
TEST(VerificationCodec, StoredFieldNamesAreStable) {
  std::string text = sample()->to_json();
  for (const char* field : {"\"id\":", "\"app\":\"app1\"", "\"to\":", "\"channel\":\"sms\"", "\"device_id\":",
                            "\"purpose\":", "\"recipient_index\":", "\"code_hash\":", "\"created_ms\":",
                            "\"expires_ms\":", "\"token_expires_ms\":", "\"attempts\":2", "\"state\":\"verified\""})
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
}

TEST(VerificationCodec, RefusesWhatIsNotAWholeRecord) {
  std::string good = sample()->to_json();
  EXPECT_EQ(Verification::from_json(""), nullptr);
  EXPECT_EQ(Verification::from_json("[]"), nullptr);
  EXPECT_EQ(Verification::from_json("{\"id\":\"x\"}"), nullptr);  // fields missing
  std::string unknown_state = good;
  unknown_state.replace(unknown_state.find("\"verified\""), 10, "\"frozen\"");
  EXPECT_EQ(Verification::from_json(unknown_state), nullptr);
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"app\":\"app1\""), 12, "\"app\":7");
  EXPECT_EQ(Verification::from_json(wrong_type), nullptr);
}

}  // namespace
}  // namespace herald::otp
