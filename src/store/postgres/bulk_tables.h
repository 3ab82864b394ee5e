// The tables whose rows the PostgreSQL writer sends many at a time (pg_bulk.h): the
// durable hot paths of message publishes and verification codes.
#pragma once

#include "store/postgres/pg_bulk.h"

namespace herald::store::pg {

// messages, all columns: (seq, id, app_id, user_index, idem_index or NULL, template,
// created_ms, expires_ms, state, step, due_ms, sealed). A row whose seq or idempotency
// key is taken already fails its write. Rows with an idempotency key go through
// kKeyedMessageRows (ON CONFLICT DO NOTHING: another node may have taken the key);
// rows without one through a plain INSERT, a fifth cheaper on the server, whose
// statement fails as a whole on a taken seq (the batch then goes row by row).
extern const BulkTable kMessageRows;
extern const BulkTable kKeyedMessageRows;
// message_events: (seq, at_ms, event, channel, detail, connections).
extern const BulkTable kMessageEventRows;
// otp_verifications, upserted by id: (id, app_id, sealed, purge_ms).
extern const BulkTable kOtpVerificationRows;
// otp_counters, upserted by key: (key, window_start_ms, count, expires_ms).
extern const BulkTable kOtpCounterRows;

}  // namespace herald::store::pg
