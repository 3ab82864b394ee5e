// What the fan-out generator writes and reads on the wire, for both protocols, kept
// free of Asio so it can be tested alone. The receive side scans bytes: no JSON parse,
// no allocation per message (the NATS parser's carry buffer only grows to the longest
// op line that ever straddled two frames).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fanout {

// Appends `{"t":T,"s":S,"p":"xx..."}`: the send time (steady clock, ns), the message's
// sequence number, and padding with 'x' so that it is `size` bytes long (or as short as
// it can be, when `size` is smaller than the fixed part).
void append_payload(std::string& out, std::uint64_t t_ns, std::uint64_t seq, std::size_t size);

// Herald commands (docs/protocol.md); every one is a single JSON object, no newline.
void append_herald_connect(std::string& out, std::uint32_t id, std::string_view app_key, std::string_view token);
void append_herald_subscribe(std::string& out, std::uint32_t id, std::string_view channel);
void append_herald_publish(std::string& out, std::uint32_t id, std::string_view channel, std::uint64_t t_ns,
                           std::uint64_t seq, std::size_t size);

// NATS: `PUB <subject> <len>\r\n<payload>\r\n`.
void append_nats_publish(std::string& out, std::string_view subject, std::uint64_t t_ns, std::uint64_t seq,
                         std::size_t size);

// What a received payload says about itself: its send time (0 when there is none or
// it is not a number) and its sequence number (kNoSeq when absent).
struct Stamp {
  static constexpr std::uint64_t kNoSeq = ~std::uint64_t{0};
  std::uint64_t t = 0;
  std::uint64_t seq = kNoSeq;
};

// Reads the first `"t":` key in `text` and the `"s":` right after it. A quote inside a
// JSON string is always escaped, so `"t":` can only be a key. (memmem: std::string_view::
// find stops at every quote, and a pub line is full of them.)
inline Stamp read_stamp(std::string_view text) {
  Stamp st;
  const void* hit = ::memmem(text.data(), text.size(), "\"t\":", 4);
  if (hit == nullptr) return st;
  std::size_t i = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) + 4;
  auto number = [&](std::uint64_t& v) {
    std::size_t from = i;
    v = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      v = v * 10 + static_cast<std::uint64_t>(text[i] - '0');
    return i > from;
  };
  if (!number(st.t)) {
    st.t = 0;
    return st;
  }
  if (text.substr(i, 5) == ",\"s\":") {
    i += 5;
    std::uint64_t seq = 0;
    if (number(seq)) st.seq = seq;
  }
  return st;
}

// Splits one Herald text frame on '\n' and reports each object to `sink`:
//   sink.on_pub(stamp)                a `pub` push, with what its payload says (read_stamp)
//   sink.on_reply(id, is_error, line) a reply to a command
//   sink.on_other(line)               anything else (disconnect, unsubscribed, ...)
// Replies carry a numeric top-level "id"; a pub's inner "id" is a string, and only
// pushes have a "pub" key, so a few substring checks tell them apart.
template <class Sink>
void scan_herald_frame(std::string_view frame, Sink& sink) {
  while (!frame.empty()) {
    std::size_t nl = frame.find('\n');
    std::string_view line = frame.substr(0, nl);
    frame = nl == std::string_view::npos ? std::string_view{} : frame.substr(nl + 1);
    if (line.empty()) continue;
    if (line.starts_with("{\"pub\":") || line.find("\"pub\":") != std::string_view::npos) {
      sink.on_pub(read_stamp(line));
      continue;
    }
    // The command id is the "id" whose value is a number (a result's own "id" is a
    // string), wherever the server put it.
    bool replied = false;
    for (std::size_t at = line.find("\"id\":"); at != std::string_view::npos; at = line.find("\"id\":", at + 5)) {
      std::size_t i = at + 5;
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] >= '0' && line[i] <= '9') {
        std::uint64_t id = 0;
        for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
          id = id * 10 + static_cast<std::uint64_t>(line[i] - '0');
        bool is_error = line.find("\"error\":") != std::string_view::npos;
        sink.on_reply(id, is_error, line);
        replied = true;
        break;
      }
    }
    if (!replied) sink.on_other(line);
  }
}

// Server-to-client WebSocket frames (RFC 6455 section 5.2) in a byte buffer, for the
// batched receive path: one socket read brings many frames, walked here in place
// instead of one library read operation per message. For each complete frame:
//   sink.on_frame(opcode, fin, payload)   opcode 0 continuation, 1 text, 2 binary,
//                                         8 close, 9 ping, 10 pong
// Returns the bytes consumed (whole frames only); `need` is set to the size the
// buffer must have to hold the next frame when it is larger than what is there, and
// `bad` on a frame no server may send (reserved bits, an oversized control frame).
struct WsFrameScan {
  std::size_t used = 0;
  std::size_t need = 0;
  bool bad = false;
};

template <class Sink>
WsFrameScan scan_ws_frames(char* p, std::size_t n, Sink& sink) {
  WsFrameScan r;
  while (n - r.used >= 2) {
    auto* f = reinterpret_cast<unsigned char*>(p + r.used);
    std::size_t avail = n - r.used;
    bool fin = (f[0] & 0x80) != 0;
    int opcode = f[0] & 0x0f;
    bool masked = (f[1] & 0x80) != 0;
    if ((f[0] & 0x70) != 0) {
      r.bad = true;
      return r;
    }
    std::uint64_t len = f[1] & 0x7f;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) return r;
      len = static_cast<std::uint64_t>(f[2]) << 8 | f[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) return r;
      len = 0;
      for (int i = 2; i < 10; ++i) len = len << 8 | f[i];
      header = 10;
    }
    if (opcode >= 8 && (len > 125 || !fin)) {
      r.bad = true;
      return r;
    }
    std::size_t mask_at = header;
    if (masked) header += 4;
    if (len > (std::uint64_t{1} << 40)) {
      r.bad = true;
      return r;
    }
    std::size_t total = header + static_cast<std::size_t>(len);
    if (avail < total) {
      r.need = total;
      return r;
    }
    char* payload = p + r.used + header;
    if (masked) {  // servers do not mask, but a masked frame is still readable
      for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ f[mask_at + i % 4]);
    }
    sink.on_frame(opcode, fin, std::string_view(payload, static_cast<std::size_t>(len)));
    r.used += total;
  }
  return r;
}

// Incremental parser of what a NATS server sends (INFO, MSG, HMSG, PING, PONG, +OK,
// -ERR). WebSocket frames carry the byte stream in arbitrary pieces: an op line or a
// payload may be split across frames, and one frame may hold many ops. The sink gets
//   sink.on_msg(stamp)       a MSG/HMSG, with what its payload says (read_stamp)
//   sink.on_ping()           the server's PING, to be answered with PONG
//   sink.on_pong()           the answer to our PING
//   sink.on_error(line)      -ERR ...
class NatsParser {
 public:
  // The bytes of a payload kept to read its stamp: the payload starts with it.
  static constexpr std::size_t kHeadBytes = 48;
  static constexpr std::size_t kMaxLine = 64 * 1024;

  // False on a protocol error (an op line longer than kMaxLine, a bad MSG line).
  template <class Sink>
  bool feed(const char* p, std::size_t n, Sink& sink) {
    while (n > 0) {
      if (payload_left_ > 0) {
        std::size_t take = payload_left_ < n ? payload_left_ : n;
        // Only payload bytes (not the trailing CRLF) go to the head.
        std::size_t payload_bytes_left = payload_left_ > 2 ? payload_left_ - 2 : 0;
        std::size_t copy = take < payload_bytes_left ? take : payload_bytes_left;
        if (head_len_ < kHeadBytes && copy > 0) {
          std::size_t room = kHeadBytes - head_len_;
          std::size_t c = copy < room ? copy : room;
          std::memcpy(head_ + head_len_, p, c);
          head_len_ += c;
        }
        payload_left_ -= take;
        p += take;
        n -= take;
        if (payload_left_ == 0) sink.on_msg(read_stamp(std::string_view(head_, head_len_)));
        continue;
      }
      const void* nl = std::memchr(p, '\n', n);
      if (nl == nullptr) {
        if (line_.size() + n > kMaxLine) return false;
        line_.append(p, n);
        return true;
      }
      std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - p);
      std::string_view line;
      if (line_.empty()) {
        line = std::string_view(p, len);
      } else {
        if (line_.size() + len > kMaxLine) return false;
        line_.append(p, len);
        line = line_;
      }
      p += len + 1;
      n -= len + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      bool ok = on_line(line, sink);
      line_.clear();
      if (!ok) return false;
    }
    return true;
  }

 private:
  template <class Sink>
  bool on_line(std::string_view line, Sink& sink) {
    if (line.size() >= 4 && (line.starts_with("MSG ") || line.starts_with("HMSG"))) {
      // The total payload size is the last field (after the headers size in HMSG).
      std::size_t sp = line.find_last_of(' ');
      if (sp == std::string_view::npos || sp + 1 >= line.size()) return false;
      std::size_t size = 0;
      for (std::size_t i = sp + 1; i < line.size(); ++i) {
        char c = line[i];
        if (c < '0' || c > '9') return false;
        size = size * 10 + static_cast<std::size_t>(c - '0');
      }
      payload_left_ = size + 2;
      head_len_ = 0;
      return true;
    }
    if (line.starts_with("PING")) {
      sink.on_ping();
    } else if (line.starts_with("PONG")) {
      sink.on_pong();
    } else if (line.starts_with("-ERR")) {
      sink.on_error(line);
    }
    // INFO and +OK need nothing.
    return true;
  }

  std::string line_;
  std::size_t payload_left_ = 0;
  char head_[kHeadBytes];
  std::size_t head_len_ = 0;
};

}  // namespace fanout
