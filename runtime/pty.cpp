#include "runtime/pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/error.h"

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

void send_fd(int socket, int fd) {
    char byte = 'F';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (::sendmsg(socket, &msg, MSG_NOSIGNAL) != 1) throw_errno("sendmsg", "pty master");
}

unique_fd receive_fd(int socket) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC) != 1) throw_errno("recvmsg", "pty master");
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) throw Error("recvmsg pty master: no file descriptor received");
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return unique_fd(fd);
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
