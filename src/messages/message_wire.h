// The JSON a client of the push protocol receives for messages: the `{"msg":...}` push
// and the inbox page. The HTTP inbox route answers the same page object.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "messages/message_types.h"

namespace herald::messages {

// `{"msg":{"id":..,"ts":..,"priority":..,"template":..,"data":..}}` ("template" only when set).
std::string push_frame(const InboxItem& m);
// `{"messages":[{..., "cursor":"<seq>"}], "next":"<seq>"|null}`.
boost::json::object inbox_page_json(const InboxPage& page);

}  // namespace herald::messages
