// The blocklist's writes complete once durable; only then does the in-memory map change,
// so a send is never refused for an entry that a crash would forget.
#include "otp/blocklist.h"

#include <boost/json.hpp>

#include <algorithm>

#include "delivery/recipient.h"
#include "kms/key_service.h"
#include "otp/recipient.h"
#include "store/store.h"

namespace herald::otp {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxReasonBytes = 256;

std::string block_ad(const std::string& app, const std::string& index) {
  return "otp_blocklist/" + app + "/" + index;
}

}  // namespace

void Blocklist::block(const std::string& app_id, const std::string& to, const std::string& reason, std::int64_t now_ms,
                      Done<BlockEntry> done) {
  if (!delivery::valid_e164(to) && !delivery::valid_email(to))
    return done(make_error(Errc::kInvalidArgument, "to must be an E.164 phone number or an e-mail address"));
  if (reason.size() > kMaxReasonBytes) return done(make_error(Errc::kInvalidArgument, "reason is at most 256 bytes"));
  for (unsigned char c : reason)
    if (c < 0x20 || c == 0x7f)
      return done(make_error(Errc::kInvalidArgument, "reason may not contain control characters"));
  auto index = keys_.blind_index(app_id, "otp-recipient", normalize_recipient(to));
  if (!index) return done(index.error());
  BlockEntry entry{to, reason, now_ms};
  auto sealed =
      keys_.seal(app_id, json::serialize(json::object{{"to", to}, {"reason", reason}}), block_ad(app_id, *index));
  if (!sealed) return done(sealed.error());
  store::OtpBlockRecord rec{app_id, *index, std::move(*sealed), entry.created_ms};
  store_.otp().put_otp_block(rec, [this, rec, entry, done = std::move(done)](Status st) mutable {
    if (!st) return done(make_error(Errc::kStoreUnavailable, "the blocklist could not be written"));
    {
      std::lock_guard lock(mu_);
      entries_[{rec.app_id, rec.recipient_index}] = rec;
      ++generation_;
    }
    done(std::move(entry));
  });
}

void Blocklist::unblock(const std::string& app_id, const std::string& to, Done<bool> done) {
  if (!delivery::valid_e164(to) && !delivery::valid_email(to))
    return done(make_error(Errc::kInvalidArgument, "to must be an E.164 phone number or an e-mail address"));
  auto index = keys_.blind_index(app_id, "otp-recipient", normalize_recipient(to));
  if (!index) return done(index.error());
  if (!contains(app_id, *index)) return done(Result<bool>(false));
  store_.otp().delete_otp_block(app_id, *index, [this, app_id, index = *index, done = std::move(done)](Status st) {
    if (!st) return done(make_error(Errc::kStoreUnavailable, "the blocklist could not be written"));
    {
      std::lock_guard lock(mu_);
      entries_.erase({app_id, index});
      ++generation_;
    }
    done(Result<bool>(true));
  });
}

Result<std::vector<BlockEntry>> Blocklist::list(const std::string& app_id) const {
  if (keys_.sealed()) return make_error(Errc::kSealed, "the key service is sealed");
  std::vector<store::OtpBlockRecord> recs;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.lower_bound({app_id, ""}); it != entries_.end() && it->first.first == app_id; ++it)
      recs.push_back(it->second);
  }
  std::vector<BlockEntry> out;
  for (const auto& r : recs) {
    auto pt = keys_.open(app_id, r.sealed, block_ad(app_id, r.recipient_index));
    if (!pt) return pt.error();
    json::error_code ec;
    json::value v = json::parse(pt->view(), ec);
    if (ec || !v.is_object()) return make_error(Errc::kInternal, "a blocklist entry is unreadable");
    const auto& o = v.get_object();
    auto* to = o.if_contains("to");
    auto* reason = o.if_contains("reason");
    out.push_back(BlockEntry{to && to->is_string() ? std::string(to->get_string()) : std::string(),
                             reason && reason->is_string() ? std::string(reason->get_string()) : std::string(),
                             r.created_ms});
  }
  std::sort(out.begin(), out.end(),
            [](const BlockEntry& a, const BlockEntry& b) { return a.created_ms < b.created_ms; });
  return out;
}

bool Blocklist::contains(const std::string& app_id, const std::string& recipient_index) const {
  std::lock_guard lock(mu_);
  return entries_.count({app_id, recipient_index}) > 0;
}

void Blocklist::restore(std::vector<store::OtpBlockRecord> records) {
  std::lock_guard lock(mu_);
  for (auto& b : records) entries_[{b.app_id, b.recipient_index}] = std::move(b);
}

bool Blocklist::replace(std::vector<store::OtpBlockRecord> records, std::uint64_t read_at) {
  std::lock_guard lock(mu_);
  if (generation_ != read_at) return false;
  entries_.clear();
  for (auto& b : records) entries_[{b.app_id, b.recipient_index}] = std::move(b);
  return true;
}

std::uint64_t Blocklist::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void Blocklist::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

}  // namespace herald::otp
