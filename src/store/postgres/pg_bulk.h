// Multi-row inserts for the PostgreSQL writer: the rows that the writes of one batch add
// to the same table go to the server as one INSERT over unnest() of binary arrays (one
// array per column), so that the server plans and executes one statement, not one per row.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "store/postgres/pg_conn.h"

namespace herald::store::pg {

// A column's type in the bulk statement's arrays: bigint[] (integer columns take it by
// assignment cast), text[] or bytea[].
enum class Col : std::uint8_t { i64, text, bytea };

// A table that writes may add rows to in bulk. Its two statements take the same columns
// in the same order: `row_sql` one row ($1..$n), the form used when a batch must be sent
// row by row; `bulk_sql` one array per column ($1::bigint[], $2::text[], ...).
struct BulkTable {
  const char* row_sql;
  const char* bulk_sql;
  std::span<const Col> cols;
  // >= 0: bulk_sql is `ON CONFLICT DO NOTHING RETURNING <this column>` (an i64): a row
  // whose key does not come back lost a unique conflict, and its write fails alone.
  int key_col = -1;
  // >= 0: bulk_sql is an upsert on this column; of the rows that share a value only the
  // last is sent (one statement may not update a row twice; the last upsert wins anyway).
  int upsert_col = -1;
};

// One row's values, typed for the arrays.
class Cells {
 public:
  struct Cell {
    std::int64_t i = 0;
    std::string s;
    bool null = false;
  };
  Cells& add(std::string_view s) { return push(Cell{0, std::string(s), false}); }
  Cells& add(const std::string& s) { return push(Cell{0, s, false}); }
  Cells& add(const char* s) { return push(Cell{0, s, false}); }
  Cells& add(NullIfEmpty v) { return v.text.empty() ? null() : add(v.text); }
  template <class T>
  requires(std::integral<T> || std::is_enum_v<T>) Cells& add(T v) {
    return push(Cell{static_cast<std::int64_t>(v), {}, false});
  }
  Cells& null() { return push(Cell{0, {}, true}); }

  const std::vector<Cell>& cells() const { return cells_; }
  std::size_t bytes() const { return bytes_; }
  // The same row as one statement's parameters (the row-by-row form).
  Params params(std::span<const Col> cols) const;

 private:
  Cells& push(Cell c) {
    bytes_ += c.s.size() + 12;
    cells_.push_back(std::move(c));
    return *this;
  }
  std::vector<Cell> cells_;
  std::size_t bytes_ = 0;
};

template <class... Fields>
Cells cells(const Fields&... fields) {
  Cells c;
  (c.add(fields), ...);
  return c;
}

// The rows of one bulk statement, with the write-queue entry each came from.
class BulkInsert {
 public:
  explicit BulkInsert(const BulkTable& t) : table_(&t) {}
  void add(const Cells& row, std::size_t entry);
  std::size_t rows() const { return rows_.size(); }
  std::size_t bytes() const { return bytes_; }
  const BulkTable& table() const { return *table_; }
  // One binary array per column.
  Params params() const;
  // The entries whose row the statement's result (the RETURNING keys of key_col) does
  // not name: each lost a conflict. Empty for tables without key_col.
  std::vector<std::size_t> losers(const ResultSet& r) const;

 private:
  const BulkTable* table_;
  std::vector<const Cells*> rows_;
  std::vector<std::size_t> entries_;
  std::size_t bytes_ = 0;
};

}  // namespace herald::store::pg
