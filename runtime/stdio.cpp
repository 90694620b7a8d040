#include "runtime/stdio.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "common/error.h"

namespace imgbuild::runtime {

void dup_onto_stdio(int in, int out, int err) {
    int src[3] = {in, out, err};
    int high[3];
    // First everything above 2, so that no dup2 below overwrites a source still needed.
    for (int i = 0; i < 3; ++i) {
        if (src[i] < 0) {
            src[i] = ::open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src[i] < 0) throw_errno("open", "/dev/null");
        }
        high[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
        if (high[i] < 0) throw_errno("fcntl(F_DUPFD)", "stdio fd " + std::to_string(src[i]));
    }
    for (int i = 0; i < 3; ++i)
        if (::dup2(high[i], i) < 0) throw_errno("dup2", "stdio fd " + std::to_string(i));
}

}  // namespace imgbuild::runtime
