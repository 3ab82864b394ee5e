// Ids unique within a process run and across runs, cheap to make: request ids, push
// connection ids and publication ids.
#pragma once

#include <string>
#include <string_view>

namespace herald {

// "<12 hex chars of process-random prefix>-<hex counter>".
std::string next_request_id();
// A client-supplied X-Request-Id is kept only if it is 1..64 chars of [A-Za-z0-9._-].
bool acceptable_request_id(std::string_view id);

// A push connection: "<12 hex chars of process-random prefix>c<hex counter>".
std::string next_client_id();
// A publication: "<12 hex chars of process-random prefix>-<hex counter>".
std::string next_publication_id();

}  // namespace herald
