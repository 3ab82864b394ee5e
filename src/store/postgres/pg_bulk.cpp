// Binary arrays for the writer's multi-row inserts (PostgreSQL's array_recv format) and
// the conflict losers read back from a bulk insert's RETURNING rows.
#include "store/postgres/pg_bulk.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace herald::store::pg {
namespace {

// pg_type OIDs of the element types (fixed in PostgreSQL's catalogue).
constexpr std::uint32_t kInt8Oid = 20;
constexpr std::uint32_t kTextOid = 25;
constexpr std::uint32_t kByteaOid = 17;

void put32(std::string& out, std::uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}

std::uint32_t element_oid(Col c) {
  switch (c) {
    case Col::i64:
      return kInt8Oid;
    case Col::text:
      return kTextOid;
    case Col::bytea:
      return kByteaOid;
  }
  return kByteaOid;
}

// A one-dimensional array of column `col` over `rows`: header (ndim, has-null flag,
// element type, length, lower bound), then each element as its length and its bytes
// (length -1: NULL).
std::string encode_column(const std::vector<const Cells*>& rows, std::size_t col, Col type) {
  bool has_null = false;
  std::size_t size = 20;
  for (const auto* r : rows) {
    const auto& c = r->cells()[col];
    has_null |= c.null;
    size += 4 + (type == Col::i64 ? 8 : c.s.size());
  }
  std::string out;
  out.reserve(size);
  put32(out, 1);
  put32(out, has_null ? 1 : 0);
  put32(out, element_oid(type));
  put32(out, static_cast<std::uint32_t>(rows.size()));
  put32(out, 1);
  for (const auto* r : rows) {
    const auto& c = r->cells()[col];
    if (c.null) {
      put32(out, 0xffffffffu);
    } else if (type == Col::i64) {
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(c.i));
    } else {
      put32(out, static_cast<std::uint32_t>(c.s.size()));
      out += c.s;
    }
  }
  return out;
}

}  // namespace

Params Cells::params(std::span<const Col> cols) const {
  Params p;
  for (std::size_t i = 0; i < cells_.size(); ++i) {
    const auto& c = cells_[i];
    if (c.null)
      p.null();
    else if (i < cols.size() && cols[i] == Col::i64)
      p.add(c.i);
    else
      p.add(c.s);
  }
  return p;
}

void BulkInsert::add(const Cells& row, std::size_t entry) {
  rows_.push_back(&row);
  entries_.push_back(entry);
  bytes_ += row.bytes();
}

Params BulkInsert::params() const {
  const auto& t = *table_;
  const std::vector<const Cells*>* rows = &rows_;
  std::vector<const Cells*> last;
  if (t.upsert_col >= 0) {
    // Keep each key's last row, in the order of those last rows.
    std::unordered_set<std::string_view> seen;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it)
      if (seen.insert((*it)->cells()[static_cast<std::size_t>(t.upsert_col)].s).second) last.push_back(*it);
    std::reverse(last.begin(), last.end());
    rows = &last;
  }
  Params p;
  for (std::size_t col = 0; col < t.cols.size(); ++col) p.add(encode_column(*rows, col, t.cols[col]));
  return p;
}

std::vector<std::size_t> BulkInsert::losers(const ResultSet& r) const {
  std::vector<std::size_t> out;
  if (table_->key_col < 0) return out;
  // A key comes back once per row inserted; rows that share a key (only the first of
  // them can be inserted) take the returned ones in order.
  std::unordered_map<std::int64_t, int> returned;
  for (int i = 0; i < r.rows(); ++i) ++returned[r.row(i).i64(0)];
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    auto& n = returned[rows_[i]->cells()[static_cast<std::size_t>(table_->key_col)].i];
    if (n > 0)
      --n;
    else
      out.push_back(entries_[i]);
  }
  return out;
}

}  // namespace herald::store::pg
