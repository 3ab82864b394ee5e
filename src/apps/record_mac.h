// The integrity of an app's stored record: a MAC, under a key of the app's own, over every
// column that decides what the app may do. A row edited in the database file (a scope
// added, the allowlist cleared, a client key appended) no longer verifies.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "kms/sealer.h"
#include "store/app_records.h"

namespace herald::apps {

// The record's fields in the canonical form the MAC covers. To protect a new column, add
// one line to record_mac.cpp: `field(...)` for a column every row has had since record
// MACs exist; `added_field(name, value, migration_default)` for a column added later, which
// is left out while it holds its migration default, so rows MACed before it existed still
// verify and any change away from (or back to) the default is caught.
std::string mac_input(const store::AppRecord& r);

// "v1:<hex>" for the record as it is.
Result<std::string> record_mac(kms::Sealer& sealer, const store::AppRecord& r);

// Whether the record carries the MAC it should; if not, the error's message is the reason:
// "mac_missing" or "mac_mismatch".
Status verify_record_mac(kms::Sealer& sealer, const store::AppRecord& r);

}  // namespace herald::apps
