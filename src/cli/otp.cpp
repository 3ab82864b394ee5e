// `herald otp ...`: the verification-code service of a running server. `block` manages
// an app's recipient blocklist (admin API); `send`, `verify` and `redeem` call the
// signed API with an app's credentials, for trying the service out and for scripts.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "cli/client_flags.h"
#include "cli/commands.h"

namespace herald::cli {
namespace {

namespace json = boost::json;

struct OtpFlags {
  AdminFlags admin;
  AppCredentialFlags creds;
  std::string app;
  std::string to;
  std::string reason;
  sdk::OtpSendOptions send;
  std::string verification_id;
  std::string code;
  std::string token_file;
  std::string purpose;
};

int run_block(OtpFlags& f, CLI::App* add, CLI::App* remove, CLI::App* list) {
  auto opts = admin_options(f.admin);
  if (!opts) return usage_error(opts.error().message);
  const bool as_json = f.admin.conn.json;
  sdk::AdminClient admin(std::move(*opts));
  if (add->parsed()) {
    auto r = admin.otp_block(f.app, f.to, f.reason);
    if (!r) return call_failed(r.error(), as_json);
    if (as_json)
      std::printf(
          "%s\n",
          json::serialize(json::object{{"to", r->to}, {"reason", r->reason}, {"created_ms", r->created_ms}}).c_str());
    else
      std::printf("blocked %s\n", r->to.c_str());
    return kExitOk;
  }
  if (remove->parsed()) {
    auto r = admin.otp_unblock(f.app, f.to);
    if (!r) return call_failed(r.error(), as_json);
    std::printf("%s\n", as_json ? "{}" : ("unblocked " + f.to).c_str());
    return kExitOk;
  }
  (void)list;
  auto r = admin.otp_blocklist(f.app);
  if (!r) return call_failed(r.error(), as_json);
  if (as_json) {
    json::array a;
    for (const auto& e : *r)
      a.push_back(json::object{{"to", e.to}, {"reason", e.reason}, {"created_ms", e.created_ms}});
    std::printf("%s\n", json::serialize(json::object{{"entries", std::move(a)}}).c_str());
    return kExitOk;
  }
  if (r->empty()) {
    std::printf("no blocked recipients\n");
    return kExitOk;
  }
  std::printf("%-32s  %-20s  %s\n", "RECIPIENT", "SINCE (UTC)", "REASON");
  for (const auto& e : *r)
    std::printf("%-32s  %-20s  %s\n", e.to.c_str(), utc_time(e.created_ms).c_str(), e.reason.c_str());
  return kExitOk;
}

int run_client(OtpFlags& f, CLI::App* send, CLI::App* verify) {
  auto opts = server_options(f.creds);
  if (!opts) return usage_error(opts.error().message);
  const bool as_json = f.creds.conn.json;
  sdk::ServerClient client(std::move(*opts));
  if (send->parsed()) {
    auto r = client.otp_send(f.send);
    if (!r) return call_failed(r.error(), as_json);
    std::printf("%s\n", json::serialize(json::object{{"verification_id", r->verification_id},
                                                     {"expires_in", r->expires_in_s},
                                                     {"resend_after", r->resend_after_s}})
                            .c_str());
    return kExitOk;
  }
  if (verify->parsed()) {
    auto r = client.otp_verify(f.verification_id, f.code);
    if (!r) {
      if (r.error().attempts_left >= 0 && !as_json)
        std::fprintf(stderr, "herald: %d attempts left\n", r.error().attempts_left);
      return call_failed(r.error(), as_json);
    }
    std::printf("%s\n", json::serialize(
                            json::object{{"success_token", r->success_token.view()}, {"expires_in", r->expires_in_s}})
                            .c_str());
    return kExitOk;
  }
  auto token = read_secret_file(f.token_file);
  if (!token) return usage_error(token.error().message);
  auto r = client.otp_redeem(*token, f.purpose);
  if (!r) return call_failed(r.error(), as_json);
  std::printf(
      "%s\n",
      json::serialize(json::object{{"to", r->to}, {"device_id", r->device_id}, {"purpose", r->purpose}}).c_str());
  return kExitOk;
}

}  // namespace

std::function<int()> add_otp(CLI::App& app) {
  auto f = std::make_shared<OtpFlags>();
  auto* cmd = app.add_subcommand("otp", "Verification codes: the recipient blocklist, and send/verify/redeem");
  cmd->require_subcommand(1);

  auto* block = cmd->add_subcommand("block", "An app's blocklist of recipients no code is sent to (admin API)");
  block->require_subcommand(1);
  auto app_arg = [f](CLI::App* sub) {
    sub->add_option("app", f->app, "The app's name, AppKey (hk_...) or id (app_...)")->required()->type_name("APP");
    add_admin_flags(sub, f->admin);
  };
  auto* add = block->add_subcommand("add", "Block a phone number (E.164) or e-mail address");
  app_arg(add);
  add->add_option("to", f->to, "The recipient")->required()->type_name("RECIPIENT");
  add->add_option("--reason", f->reason, "Why (kept encrypted; shown by list)")->type_name("TEXT");
  auto* remove = block->add_subcommand("remove", "Unblock a recipient");
  app_arg(remove);
  remove->add_option("to", f->to, "The recipient")->required()->type_name("RECIPIENT");
  auto* list = block->add_subcommand("list", "List the blocked recipients with their reasons");
  app_arg(list);

  auto* send = cmd->add_subcommand("send", "Send a verification code (signed API, scope otp)");
  send->add_option("--to", f->send.to, "E.164 phone number or e-mail address")->required();
  send->add_option("--channel", f->send.channel, "sms or email")->required()->check(CLI::IsMember({"sms", "email"}));
  send->add_option("--device-id", f->send.device_id, "The end user's device")->required();
  send->add_option("--purpose", f->send.purpose, "login, password_change, payment, ...")->required();
  send->add_option("--template", f->send.template_name, "A template of otp.templates_file");
  send->add_option("--locale", f->send.locale, "en, pt-BR, ...");
  send->add_option("--client-ip", f->send.client_ip, "The end user's address (the per-IP limit)");
  add_app_credential_flags(send, f->creds);
  auto* verify = cmd->add_subcommand("verify", "Check a code; prints the success token");
  verify->add_option("--id", f->verification_id, "The verification id send printed")->required();
  verify->add_option("--code", f->code, "The code the user typed")->required();
  add_app_credential_flags(verify, f->creds);
  auto* redeem = cmd->add_subcommand("redeem", "Redeem a success token once, for its purpose");
  redeem->add_option("--token-file", f->token_file, "File whose first line is the success token")
      ->required()
      ->type_name("FILE");
  redeem->add_option("--purpose", f->purpose, "The purpose the token was issued for")->required();
  add_app_credential_flags(redeem, f->creds);
  cmd->footer("Exit codes: 0 done, 1 the server refused or the network failed, 2 usage error.");

  return [f, block, add, remove, list, send, verify]() -> int {
    if (block->parsed()) return run_block(*f, add, remove, list);
    return run_client(*f, send, verify);
  };
}

}  // namespace herald::cli
