// Fuzzes the audit checkpoint files an operator or a witness keeps (docs/audit.md): any text
// gives checkpoints or "invalid_checkpoint", and every parsed checkpoint survives its own
// printed form (saved_checkpoint_json) unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audit/verifier.h"
#include "fuzz_target.h"

namespace {

void check_round_trip(const herald::audit::SavedCheckpoint& cp) {
  auto again = herald::audit::parse_saved_checkpoint(herald::audit::saved_checkpoint_json(cp));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->size == cp.size && again->root == cp.root && again->ts_ms == cp.ts_ms &&
             again->signature == cp.signature && again->public_key_pem == cp.public_key_pem);
}

}  // namespace

HERALD_FUZZ_TARGET(checkpoint) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto cp = herald::audit::parse_saved_checkpoint(text)) {
    check_round_trip(*cp);
  } else {
    FUZZ_CHECK(cp.error().code == herald::Errc::kInvalidCheckpoint);
  }
  if (auto list = herald::audit::parse_witness(text)) {
    for (const auto& cp : *list) check_round_trip(cp);
  } else {
    FUZZ_CHECK(list.error().code == herald::Errc::kInvalidCheckpoint);
  }
  return 0;
}
