#include "runtime/pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/fd_passing.h"

namespace imgbuild::runtime {

unique_fd open_container_pty() {
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) throw_errno("open", "/dev/ptmx");
    unique_fd m(master);
    if (::unlockpt(master) != 0) throw_errno("unlockpt", "/dev/ptmx");
    char name[128];
    if (::ptsname_r(master, name, sizeof name) != 0) throw_errno("ptsname", "/dev/ptmx");
    int slave = ::open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) throw_errno("open", name);
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) throw_errno("ioctl(TIOCSCTTY)", name);
    for (int target = 0; target < 3; ++target)
        if (::dup2(slave, target) < 0) throw_errno("dup2", name);
    if (slave > 2) ::close(slave);
    return m;
}

void send_pty_master(int socket, int master) {
    if (!send_fd(socket, master)) throw_errno("sendmsg", "pty master");
}

unique_fd receive_pty_master(int socket) {
    unique_fd master = receive_fd(socket, "pty master");
    if (!master) throw Error("recvmsg pty master: no file descriptor received");
    return master;
}

void copy_window_size(int from, int to) {
    winsize ws{};
    if (::ioctl(from, TIOCGWINSZ, &ws) != 0) return;
    (void)::ioctl(to, TIOCSWINSZ, &ws);
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
    termios t{};
    if (::tcgetattr(fd, &t) != 0) return;
    saved_ = t;
    ::cfmakeraw(&t);
    if (::tcsetattr(fd, TCSANOW, &t) != 0) saved_.reset();
}

RawTerminal::~RawTerminal() {
    if (saved_) (void)::tcsetattr(fd_, TCSANOW, &*saved_);
}

}  // namespace imgbuild::runtime
