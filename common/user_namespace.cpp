#include "common/user_namespace.h"

#include <fstream>

namespace imgbuild {

bool in_user_namespace() {
    static const bool inside = [] {
        std::ifstream in("/proc/self/uid_map");
        unsigned long long inner = 0, outer = 0, count = 0;
        if (!(in >> inner >> outer >> count)) return false;  // no /proc: assume the host's
        return !(inner == 0 && outer == 0 && count == 4294967295ULL);
    }();
    return inside;
}

}  // namespace imgbuild
