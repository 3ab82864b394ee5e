// Writers of the generator's commands and payloads; they append to a reused buffer.
#include "fanout/wire.h"

#include <charconv>

namespace fanout {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::size_t digits(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

}  // namespace

static std::size_t payload_fixed(std::uint64_t t_ns, std::uint64_t seq) {
  // {"t":T,"s":S,"p":"..."} = 5 + digits + 5 + digits + 6 + pad + 2
  return 18 + digits(t_ns) + digits(seq);
}

void append_payload(std::string& out, std::uint64_t t_ns, std::uint64_t seq, std::size_t size) {
  std::size_t fixed = payload_fixed(t_ns, seq);
  out.append("{\"t\":");
  append_uint(out, t_ns);
  out.append(",\"s\":");
  append_uint(out, seq);
  out.append(",\"p\":\"");
  if (size > fixed) out.append(size - fixed, 'x');
  out.append("\"}");
}

void append_herald_connect(std::string& out, std::uint32_t id, std::string_view app_key, std::string_view token) {
  out.append("{\"id\":");
  append_uint(out, id);
  out.append(",\"connect\":{\"app\":\"");
  out.append(app_key);
  out.append("\",\"token\":\"");
  out.append(token);
  out.append("\"}}");
}

void append_herald_subscribe(std::string& out, std::uint32_t id, std::string_view channel) {
  out.append("{\"id\":");
  append_uint(out, id);
  out.append(",\"subscribe\":{\"channel\":\"");
  out.append(channel);
  out.append("\"}}");
}

void append_herald_publish(std::string& out, std::uint32_t id, std::string_view channel, std::uint64_t t_ns,
                           std::uint64_t seq, std::size_t size) {
  out.append("{\"id\":");
  append_uint(out, id);
  out.append(",\"publish\":{\"channel\":\"");
  out.append(channel);
  out.append("\",\"data\":");
  append_payload(out, t_ns, seq, size);
  out.append("}}");
}

void append_nats_publish(std::string& out, std::string_view subject, std::uint64_t t_ns, std::uint64_t seq,
                         std::size_t size) {
  std::size_t fixed = payload_fixed(t_ns, seq);
  std::size_t len = size > fixed ? size : fixed;
  out.append("PUB ");
  out.append(subject);
  out.push_back(' ');
  append_uint(out, len);
  out.append("\r\n");
  append_payload(out, t_ns, seq, size);
  out.append("\r\n");
}

}  // namespace fanout
