// The multi-row forms of the hot inserts: each table's one-row statement (sent when a
// batch goes row by row) and its unnest() statement over one array per column.
#include "store/postgres/bulk_tables.h"

namespace herald::store::pg {
namespace {

constexpr Col kMessageCols[] = {Col::i64, Col::text, Col::text, Col::text, Col::text, Col::text,
                                Col::i64, Col::i64,  Col::i64,  Col::i64,  Col::i64,  Col::bytea};
constexpr Col kEventCols[] = {Col::i64, Col::i64, Col::text, Col::text, Col::text, Col::i64};
constexpr Col kOtpVerificationCols[] = {Col::text, Col::text, Col::bytea, Col::i64};
constexpr Col kOtpCounterCols[] = {Col::text, Col::i64, Col::i64, Col::i64};

}  // namespace

#define HERALD_MESSAGE_INSERT                                                                               \
  "INSERT INTO messages(seq, id, app_id, user_index, idem_index, template, created_ms, expires_ms, state, " \
  "step, due_ms, sealed) "
#define HERALD_MESSAGE_ROW "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);"
#define HERALD_MESSAGE_ARRAYS                                                                                     \
  "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], " \
  "$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bytea[])"

const BulkTable kMessageRows{HERALD_MESSAGE_INSERT HERALD_MESSAGE_ROW, HERALD_MESSAGE_INSERT HERALD_MESSAGE_ARRAYS ";",
                             kMessageCols, -1, -1};

// DO NOTHING without a target: a taken seq or idempotency key skips the row, and
// RETURNING names the rows that went in.
const BulkTable kKeyedMessageRows{HERALD_MESSAGE_INSERT HERALD_MESSAGE_ROW,
                                  HERALD_MESSAGE_INSERT HERALD_MESSAGE_ARRAYS " ON CONFLICT DO NOTHING RETURNING seq;",
                                  kMessageCols, 0, -1};

const BulkTable kMessageEventRows{
    "INSERT INTO message_events(seq, at_ms, event, channel, detail, connections) VALUES ($1, $2, $3, $4, $5, $6);",
    // unnest() yields the rows in array order, so the events' ids keep the writes' order.
    "INSERT INTO message_events(seq, at_ms, event, channel, detail, connections) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]);",
    kEventCols, -1, -1};

const BulkTable kOtpVerificationRows{
    "INSERT INTO otp_verifications(id, app_id, sealed, purge_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, purge_ms = excluded.purge_ms;",
    "INSERT INTO otp_verifications(id, app_id, sealed, purge_ms) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[]) "
    "ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, purge_ms = excluded.purge_ms;",
    kOtpVerificationCols, -1, 0};

const BulkTable kOtpCounterRows{
    "INSERT INTO otp_counters(key, window_start_ms, count, expires_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (key) DO UPDATE SET window_start_ms = excluded.window_start_ms, "
    "count = excluded.count, expires_ms = excluded.expires_ms;",
    "INSERT INTO otp_counters(key, window_start_ms, count, expires_ms) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) "
    "ON CONFLICT (key) DO UPDATE SET window_start_ms = excluded.window_start_ms, "
    "count = excluded.count, expires_ms = excluded.expires_ms;",
    kOtpCounterCols, -1, 0};

}  // namespace herald::store::pg
