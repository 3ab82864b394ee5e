// The error table, built from the one list in errc.h.
#include "core/errc.h"

#include <ostream>

namespace herald {
namespace {
constexpr ErrcInfo kTable[] = {
#define HERALD_ERRC_ROW(name, code, status, close, surfaces, retry, attempts, message) \
  {Errc::name, code, status, close, static_cast<std::uint8_t>(surfaces), retry, attempts, message},
    HERALD_ERRORS(HERALD_ERRC_ROW)
#undef HERALD_ERRC_ROW
};

constexpr bool in_declaration_order() {
  for (std::size_t i = 0; i < std::size(kTable); ++i)
    if (static_cast<std::size_t>(kTable[i].errc) != i) return false;
  return true;
}
static_assert(in_declaration_order(), "kTable is indexed by Errc");
}  // namespace

std::span<const ErrcInfo> errc_table() {
  return kTable;
}

const ErrcInfo& errc_info(Errc e) {
  return kTable[static_cast<std::size_t>(e)];
}

std::optional<Errc> errc_from_code(std::string_view code) {
  for (const auto& row : kTable)
    if (row.code == code) return row.errc;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, Errc e) {
  return os << errc_code(e);
}

}  // namespace herald
