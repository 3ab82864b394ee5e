// The precompiled header of herald_cli: CLI11 and Boost.JSON, the two header-only
// libraries most of the command TUs include, parsed once for the whole target.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
