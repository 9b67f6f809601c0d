// The command-line boundary: CLI11 wiring and the only place an Error becomes an exit status.
#pragma once

namespace jitsec::cli {
int Main(int argc, char** argv);
}  // namespace jitsec::cli
