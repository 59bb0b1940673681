#!/usr/bin/env bash
# Build and run the TorchSharp peer (see README.md).
#
#   peer/run.sh [--no-build] [peer arguments: --threads N --epochs N --data DIR ...]
#
# On a system whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12 ships libstdc++ 12), it applies the
# workaround to the build output only (never to the system or the NuGet cache):
#   1. compiles shim/ios_base_library_init.cpp into <output>/libiosinit_shim.so,
#   2. marks the GLIBCXX_3.4.32 requirement of <output>/.../libLibTorchSharp.so weak,
# and the program dlopens the shim (RTLD_NOW | RTLD_GLOBAL) before its first TorchSharp call.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$here/TorchSharpPeer/TorchSharpPeer.csproj"
out="$here/TorchSharpPeer/bin/Release/net10.0"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi

if [ "$build" = 1 ]; then
  dotnet build "$project" -c Release -v quiet -nologo >&2

  libstdcxx="$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }')"
  if [ -n "$libstdcxx" ] && grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
    echo "run.sh: $libstdcxx has GLIBCXX_3.4.32; no workaround needed" >&2
    rm -f "$out/libiosinit_shim.so"
  else
    echo "run.sh: ${libstdcxx:-libstdc++.so.6} lacks GLIBCXX_3.4.32; applying the workaround" >&2
    g++ -shared -fPIC -O2 -o "$out/libiosinit_shim.so" "$here/shim/ios_base_library_init.cpp"
    find "$out" -name libLibTorchSharp.so -print0 |
      while IFS= read -r -d '' so; do python3 "$here/patch_verneed_weak.py" "$so" GLIBCXX_3.4.32 >&2; done
  fi
fi

[ -f "$out/TorchSharpPeer.dll" ] || { echo "run.sh: not built yet; run without --no-build" >&2; exit 1; }
exec dotnet "$out/TorchSharpPeer.dll" "$@"
