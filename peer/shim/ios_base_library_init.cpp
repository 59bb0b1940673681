// One-function shim for TorchSharp 0.107.0 on systems with libstdc++ < 13 (e.g. Debian 12).
//
// libLibTorchSharp.so was linked against GCC 13's libstdc++, whose <iostream> no longer puts a
// static std::ios_base::Init in every translation unit but calls std::ios_base_library_init()
// (symbol _ZSt21ios_base_library_initv, version GLIBCXX_3.4.32). That is the only symbol the
// library needs from GLIBCXX_3.4.32. This shim defines it (unversioned, which the dynamic linker
// accepts for a versioned reference) the way libstdc++ 13 does: by constructing a static
// std::ios_base::Init, which initialises the standard streams once.
//
// Loaded by the peer with dlopen(path, RTLD_NOW | RTLD_GLOBAL) before the first TorchSharp call,
// so the definition is in the global scope when libLibTorchSharp.so is bound.
#include <ios>

namespace std
{
    __attribute__((visibility("default"))) void ios_base_library_init()
    {
        static ios_base::Init init;
    }
}
