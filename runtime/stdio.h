#pragma once
// The container side's standard streams, shared by a container's start (child.cpp) and by
// exec (exec_join.cpp).

namespace imgbuild::runtime {

// dup2 of three arbitrary fds onto 0, 1, 2 without one clobbering another; a negative fd
// becomes /dev/null. Throws SystemError naming the call.
void dup_onto_stdio(int in, int out, int err);

}  // namespace imgbuild::runtime
