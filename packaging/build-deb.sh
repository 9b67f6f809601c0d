#!/bin/sh
# Builds the jitsec .deb from a configured Release build directory.
# usage: packaging/build-deb.sh BUILD_DIR OUT_DIR
# BUILD_DIR must be configured from this source tree with CMAKE_BUILD_TYPE=Release (or
# RelWithDebInfo); tests may be off (-DJITSEC_BUILD_TESTS=OFF keeps the build small).
# Prints the path of the package on the last line of standard output.
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out_dir=$(cd "$2" && pwd)

cache="$build_dir/CMakeCache.txt"
if [ ! -f "$cache" ]; then
  echo "build-deb: $build_dir is not a configured CMake build directory" >&2
  exit 1
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")
case "$build_type" in
  Release|RelWithDebInfo|MinSizeRel) ;;
  *) echo "build-deb: $build_dir has CMAKE_BUILD_TYPE=\"$build_type\", want Release" >&2
     exit 1 ;;
esac
if [ ! -f "$build_dir/CPackConfig.cmake" ]; then
  echo "build-deb: no CPackConfig.cmake in $build_dir (configure it again: packaging/CMakeLists.txt is new)" >&2
  exit 1
fi

jobs=${JITSEC_BUILD_JOBS:-2}
cmake --build "$build_dir" --parallel "$jobs"
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$out_dir/_cpack"

deb=$(ls -t "$out_dir"/_cpack/*.deb | head -n 1)
mv -f "$deb" "$out_dir/"
rm -rf "$out_dir/_cpack"
deb="$out_dir/$(basename "$deb")"

# Refuse to hand out a package that would install anything setuid or setgid.
if dpkg-deb -c "$deb" | awk '{print $1}' | grep -q '^-..[sS]\|^-.....[sS]'; then
  echo "build-deb: $deb contains a setuid/setgid file" >&2
  exit 1
fi
echo "$deb"
