# Warnings for jitsec's own code. Errors only in CI (CMAKE_COMPILE_WARNING_AS_ERROR=ON), so a
# local build with a newer compiler does not break on a new warning.
add_library(jitsec_warnings INTERFACE)
target_compile_options(jitsec_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough -Wcast-align -Wswitch-enum)
# GCC 12 at -O2 reports false maybe-uninitialized warnings inside libstdc++'s std::string when a
# string is moved out of tl::expected; it is not a signal about jitsec's code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # Likewise CLI11 2.1 inlined at -O2 gives a false -Wnull-dereference inside std::string, and
  # at -O3 libstdc++'s string concatenation a false -Wrestrict (GCC bug 105329).
  target_compile_options(jitsec_warnings INTERFACE -Wno-maybe-uninitialized
    $<$<NOT:$<CONFIG:Debug>>:-Wno-null-dereference> $<$<NOT:$<CONFIG:Debug>>:-Wno-restrict>)
endif()
# Candidates, not yet on: -Wconversion -Wold-style-cast
