// Verification codes as the store keeps them: each verification sealed whole under its
// app's at-rest key, the abuse-limit counters (keyed by blind indexes, never by a phone
// number or address), and each app's blocked recipients.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::store {

using Completion = std::function<void(Status)>;

struct OtpVerificationRecord {
  std::string id;
  std::string app_id;
  std::string sealed;         // the verification's state, sealed (AD "otp_verifications/<app>/<id>")
  std::int64_t purge_ms = 0;  // when nothing can use it any more
};

struct OtpCounterRecord {
  std::string key;  // "<limit>:<app>:<blind index>"
  std::int64_t window_start_ms = 0;
  std::uint64_t count = 0;
  std::int64_t expires_ms = 0;  // end of the window
};

struct OtpBlockRecord {
  std::string app_id;
  std::string recipient_index;  // blind index of the normalised recipient
  std::string sealed;           // {"to":..,"reason":..}, sealed (AD "otp_blocklist/<app>/<index>")
  std::int64_t created_ms = 0;
};

class OtpRecords {
 public:
  virtual ~OtpRecords() = default;
  virtual Result<std::vector<OtpVerificationRecord>> load_otp_verifications(std::int64_t now_ms) = 0;
  virtual Result<std::vector<OtpCounterRecord>> load_otp_counters(std::int64_t now_ms) = 0;
  virtual Result<std::vector<OtpBlockRecord>> load_otp_blocklist() = 0;
  // Writes (insert or replace) a verification and the counters it changed, in one write.
  virtual void put_otp_verification(OtpVerificationRecord v, std::vector<OtpCounterRecord> counters,
                                    Completion done) = 0;
  // Deletes verifications and counters that ended before `now_ms`.
  virtual void purge_otp(std::int64_t now_ms, Completion done) = 0;
  virtual void put_otp_block(OtpBlockRecord b, Completion done) = 0;
  virtual void delete_otp_block(std::string app_id, std::string recipient_index, Completion done) = 0;
};

}  // namespace herald::store
