// What `herald serve` does between opening the Node and starting it: the key service's
// first load, the admin token made at first start, and in development mode the dev
// unseal, the demo app, the self-signed certificate and the banner.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/result.h"
#include "crypto/secret.h"

namespace herald::apps {
struct App;
}
namespace herald::server {
class Node;
}

namespace herald::cli {

// Development mode's demo app: every scope, no rate cap; its credentials are written to
// <data_dir>/dev-app.json (0600) for tools, and printed on every start.
struct DemoApp {
  std::shared_ptr<const apps::App> app;
  crypto::SecretBytes app_secret;
  crypto::SecretBytes client_secret;
};

struct Bootstrap {
  std::string admin_token_sha256;   // raw digest, what the admin routes check
  crypto::SecretBytes admin_token;  // read back from admin.token; empty once the file is removed
  std::optional<DemoApp> demo;      // development mode only
};

// The first warning of a development start, before anything is opened.
void warn_dev_mode(const Config& cfg);

// Runs after node.open() and before node.start(). Production loads the key service
// (sealed); development initialises it with one share kept in the data dir and unseals
// it. Then the admin token, and in development the demo app and the certificate (set in
// node.config()). A failure is logged under its event name and returned.
Result<Bootstrap> bootstrap(server::Node& node, bool dev);

// The development banner on stdout: URLs, the demo app's credentials, a sample client
// token and the admin token. Call once the node has started.
void print_dev_banner(server::Node& node, const Bootstrap& boot);

}  // namespace herald::cli
