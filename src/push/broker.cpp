// Chooses the Broker and PresenceManager that broker.driver names.
#include "push/broker.h"

#include "push/memory_broker.h"
#include "push/memory_presence.h"

namespace herald::push {
namespace {

Status check_driver(const Config& cfg) {
  if (cfg.broker.driver == "memory") return ok_status();
  return make_error(Errc::kInvalidConfig,
                    "broker.driver '" + cfg.broker.driver + "' is not supported; the only driver is 'memory'");
}

}  // namespace

std::string channel_key(std::string_view app_id, std::string_view channel) {
  std::string k;
  k.reserve(app_id.size() + 1 + channel.size());
  k.append(app_id);
  k.push_back('\x1f');
  k.append(channel);
  return k;
}

Result<std::unique_ptr<Broker>> make_broker(const Config& cfg, metrics::Registry& registry) {
  if (auto ok = check_driver(cfg); !ok) return ok.error();
  return std::unique_ptr<Broker>(std::make_unique<MemoryBroker>(cfg, registry));
}

Result<std::unique_ptr<PresenceManager>> make_presence_manager(const Config& cfg) {
  if (auto ok = check_driver(cfg); !ok) return ok.error();
  return std::unique_ptr<PresenceManager>(std::make_unique<MemoryPresenceManager>());
}

}  // namespace herald::push
