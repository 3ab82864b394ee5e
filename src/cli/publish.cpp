// `herald publish`: publish to a channel, to several (a broadcast) or to a user,
// through the signed server API with the SDK's ServerClient.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "cli/client_flags.h"
#include "cli/commands.h"

namespace herald::cli {
namespace {

namespace json = boost::json;

struct PublishFlags {
  AppCredentialFlags creds;
  std::vector<std::string> channels;
  std::string user;
  std::string data;
  std::string idempotency_key;
};

json::object publish_json(const sdk::PublishResult& p) {
  return json::object{{"channel", p.channel}, {"offset", p.offset},     {"epoch", p.epoch},
                      {"id", p.id},           {"replayed", p.replayed}, {"request_id", p.request_id}};
}

void print_published(const sdk::PublishResult& p) {
  std::printf("published to %s: offset %llu, epoch %s, id %s\n", p.channel.c_str(),
              static_cast<unsigned long long>(p.offset), p.epoch.c_str(), p.id.c_str());
}

int run_publish(const PublishFlags& f) {
  if (f.channels.empty() == f.user.empty()) return usage_error("give --channel (one or more) or --user, not both");
  auto opts = server_options(f.creds);
  if (!opts) return usage_error(opts.error().message);
  const bool as_json = f.creds.conn.json;
  sdk::ServerClient client(std::move(*opts));

  if (f.channels.size() > 1) {
    auto r = client.broadcast(f.channels, f.data, f.idempotency_key);
    if (!r) return call_failed(r.error(), as_json);
    bool all_ok = true;
    json::array results;
    for (const auto& o : r->results) {
      if (o.published) {
        results.push_back(publish_json(*o.published));
        if (!as_json) print_published(*o.published);
      } else {
        all_ok = false;
        results.push_back(
            json::object{{"channel", o.channel}, {"error", {{"code", o.error->code}, {"message", o.error->message}}}});
        if (!as_json)
          std::fprintf(stderr, "herald: %s: %s: %s (request id %s)\n", o.channel.c_str(), o.error->code.c_str(),
                       o.error->message.c_str(), r->request_id.c_str());
      }
    }
    if (as_json) {
      std::printf("%s\n", json::serialize(json::object{{"results", std::move(results)},
                                                       {"replayed", r->replayed},
                                                       {"request_id", r->request_id}})
                              .c_str());
    } else if (r->replayed) {
      std::printf("(replayed: the answer to an earlier request with this idempotency key)\n");
    }
    return all_ok ? kExitOk : kExitFailed;
  }

  auto r = f.user.empty() ? client.publish(f.channels.front(), f.data, f.idempotency_key)
                          : client.publish_to_user(f.user, f.data, f.idempotency_key);
  if (!r) return call_failed(r.error(), as_json);
  if (as_json) {
    std::printf("%s\n", json::serialize(publish_json(*r)).c_str());
  } else {
    print_published(*r);
    if (r->replayed) std::printf("(replayed: the answer to an earlier request with this idempotency key)\n");
  }
  return kExitOk;
}

}  // namespace

std::function<int()> add_publish(CLI::App& app) {
  auto f = std::make_shared<PublishFlags>();
  auto* cmd = app.add_subcommand("publish", "Publish a message through the server API (signed with an AppSecret)");
  cmd->add_option("--channel", f->channels, "Channel to publish to; repeat it to broadcast to several")
      ->type_name("CHANNEL");
  cmd->add_option("--user", f->user, "Publish to this user's personal channel (user#<id>) instead")->type_name("USER");
  cmd->add_option("--data", f->data, "The message: any JSON value, e.g. '{\"title\":\"Hello\"}'")
      ->required()
      ->type_name("JSON");
  cmd->add_option("--idempotency-key", f->idempotency_key,
                  "Publish at most once for this key (1-128 characters; remembered for api.idempotency_ttl)")
      ->type_name("KEY");
  add_app_credential_flags(cmd, f->creds);
  cmd->footer(
      "Credentials: --app-key or $HERALD_APP_KEY, and --app-secret-file or $HERALD_APP_SECRET.\n"
      "Exit codes: 0 published, 1 the server refused or the network failed, 2 usage error.");
  return [f] { return run_publish(*f); };
}

}  // namespace herald::cli
