// Test doubles for the push module: an executor whose shards run when told, one with a
// real thread per shard, a transport that records what it is asked to send, and a
// subscriber that records pubs.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "push/hub.h"
#include "push/transport.h"

namespace herald::push::testing {

class ManualExecutor final : public ShardExecutor {
 public:
  explicit ManualExecutor(std::size_t n) : queues_(n) {}
  std::size_t shards() const override { return queues_.size(); }
  void post(std::size_t shard, std::function<void()> fn) override { queues_.at(shard).push_back(std::move(fn)); }
  void post_after(std::size_t shard, std::chrono::microseconds, std::function<void()> fn) override {
    post(shard, std::move(fn));
  }
  // Runs everything queued on every shard (and what that queues), in order per shard.
  void run_all() {
    bool any = true;
    while (any) {
      any = false;
      for (auto& q : queues_) {
        while (!q.empty()) {
          auto fn = std::move(q.front());
          q.pop_front();
          fn();
          any = true;
        }
      }
    }
  }
  std::size_t pending(std::size_t shard) const { return queues_.at(shard).size(); }

 private:
  std::vector<std::deque<std::function<void()>>> queues_;
};

// One real thread per shard, running posted work in order, as the gateway's I/O
// threads do. post_after ignores the delay (the tests here do not measure lingers).
class ThreadExecutor final : public ShardExecutor {
 public:
  explicit ThreadExecutor(std::size_t n) : shards_(n) {
    for (auto& s : shards_) s.thread = std::thread([&s] { run(s); });
  }
  ~ThreadExecutor() override { stop(); }
  std::size_t shards() const override { return shards_.size(); }
  void post(std::size_t shard, std::function<void()> fn) override {
    auto& s = shards_.at(shard);
    {
      std::lock_guard lock(s.mu);
      s.queue.push_back(std::move(fn));
    }
    s.cv.notify_one();
  }
  void post_after(std::size_t shard, std::chrono::microseconds, std::function<void()> fn) override {
    post(shard, std::move(fn));
  }
  // Runs `fn` on the shard and waits for its result.
  template <class Fn>
  auto call(std::size_t shard, Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    post(shard, [&task] { task(); });
    return result.get();
  }
  // Runs what is queued, then stops the threads (idempotent).
  void stop() {
    for (auto& s : shards_) {
      {
        std::lock_guard lock(s.mu);
        s.stopping = true;
      }
      s.cv.notify_one();
      if (s.thread.joinable()) s.thread.join();
    }
  }

 private:
  struct Shard {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    bool stopping = false;
    std::thread thread;
  };
  static void run(Shard& s) {
    std::unique_lock lock(s.mu);
    for (;;) {
      s.cv.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.queue.empty()) return;
      auto fn = std::move(s.queue.front());
      s.queue.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::deque<Shard> shards_;
};

struct RecordingSubscriber final : Subscriber {
  std::vector<std::string> frames;
  int flushes = 0;
  bool pending = false;
  int disconnect_code = 0;
  bool deliver(const Publication& pub) override {
    frames.push_back(pub.frame);
    if (pending) return false;
    pending = true;
    return true;
  }
  void flush() override {
    pending = false;
    ++flushes;
  }
  void disconnect(int code, std::string_view) override { disconnect_code = code; }
};

class FakeTransport final : public Transport {
 public:
  std::vector<std::string> sent;     // every line ever sent (discarded ones too)
  std::vector<std::string> written;  // lines that went out with a flush
  std::size_t queued = 0;
  std::vector<std::string> queue;
  int flushes = 0;
  int close_code = 0;
  std::string close_reason;
  TimePoint deadline = TimePoint::max();

  void send(std::string_view line) override {
    sent.emplace_back(line);
    queue.emplace_back(line);
    queued += line.size() + 1;
  }
  bool stuck = false;  // a peer that reads nothing: flush() writes nothing
  void flush() override {
    ++flushes;
    if (stuck) return;
    for (auto& l : queue) written.push_back(std::move(l));
    queue.clear();
    queued = 0;
  }
  std::size_t queued_bytes() const override { return queued; }
  void discard_queued() override {
    queue.clear();
    queued = 0;
  }
  void close(int code, std::string_view reason) override {
    if (close_code) return;
    close_code = code;
    close_reason = std::string(reason);
    flush();
  }
  void set_deadline(TimePoint when) override { deadline = when; }
  std::string_view remote_address() const override { return "127.0.0.1:1"; }

  // The written line that answers command `id`, or "".
  std::string reply(int id) const {
    std::string prefix = "{\"id\":" + std::to_string(id) + ",";
    for (const auto& l : written)
      if (l.rfind(prefix, 0) == 0) return l;
    return {};
  }
};

}  // namespace herald::push::testing
