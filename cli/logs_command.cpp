// `imgbuild logs [-f] [--tail N] [-t] C` and `imgbuild attach C` (stdout/stderr only: output
// from now on, then the exit status). The container's output comes from its log (CRI format,
// runtime/container_log.h), stdout to stdout and stderr to stderr; -f follows until the
// container has exited and everything is printed.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <iostream>

#include "builder/container_ops.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "common/fs.h"
#include "runtime/container_log.h"

namespace imgbuild::cli {
namespace {

struct LogsArgs {
    std::string container;
    bool follow = false, timestamps = false;
    bool attach = false;  // `attach`: from the log's current end, exit with the container's status
    std::string tail = "all";
};

void emit(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("write", fd == 1 ? "stdout" : "stderr");
        data.remove_prefix(static_cast<size_t>(n));
    }
}

// Reads whole records from `fd` and prints them; keeps an unfinished record in `pending`.
class LogPrinter {
public:
    LogPrinter(bool timestamps, uint64_t skip_lines) : timestamps_(timestamps), skip_(skip_lines) {}
    void feed(std::string_view data) {
        pending_.append(data);
        size_t start = 0;
        for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
            record(std::string_view(pending_).substr(start, nl - start));
        pending_.erase(0, start);
    }

private:
    void record(std::string_view line) {
        auto r = runtime::parse_log_record(line);
        if (!r) return;
        bool line_start = !in_line_[r->stream];
        in_line_[r->stream] = r->partial;
        if (skip_ > 0) {
            if (!r->partial) --skip_;
            return;
        }
        std::string out;
        if (timestamps_ && line_start) out = r->timestamp + " ";
        out.append(r->text);
        if (!r->partial) out += '\n';
        emit(r->stream == 2 ? 2 : 1, out);
    }
    bool timestamps_;
    uint64_t skip_;
    bool in_line_[3] = {false, false, false};
    std::string pending_;
};

uint64_t count_lines(const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return 0;
    uint64_t lines = 0;
    char buf[65536];
    std::string carry;
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) {
        carry.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (size_t nl; (nl = carry.find('\n', start)) != std::string::npos; start = nl + 1) {
            auto r = runtime::parse_log_record(std::string_view(carry).substr(start, nl - start));
            if (r && !r->partial) ++lines;
        }
        carry.erase(0, start);
    }
    return lines;
}

int logs(const LogsArgs& a, const GlobalOptions& g) {
    auto store = open_store(g);
    layerstore::Containers containers(*store);
    std::string id = containers.resolve(a.container);
    fs::path path = containers.log_path(id);
    uint64_t skip = 0;
    if (a.tail != "all") {
        uint64_t n = 0;
        try {
            n = std::stoull(a.tail);
        } catch (const std::exception&) {
            throw UsageError("--tail: not a number: \"" + a.tail + "\"");
        }
        uint64_t total = count_lines(path);
        skip = total > n ? total - n : 0;
    }
    unique_fd notify;
    if (a.follow) {
        // Watch before the first read, so nothing written in between is missed.
        notify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
        if (!notify) throw_errno("inotify_init1", path.string());
        (void)::inotify_add_watch(notify.get(), containers.dir(id).c_str(), IN_MODIFY | IN_MOVED_TO | IN_CREATE);
    }
    if (a.attach) (void)builder::running_state(containers, id);
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && errno != ENOENT) throw_errno("open", path.string());
    if (fd && a.attach && ::lseek(fd.get(), 0, SEEK_END) < 0) throw_errno("lseek", path.string());
    LogPrinter printer(a.timestamps, skip);
    char buf[65536];
    for (;;) {
        if (!fd) fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        bool got = false;
        for (ssize_t n; fd && (n = ::read(fd.get(), buf, sizeof buf)) > 0;) {
            printer.feed(std::string_view(buf, static_cast<size_t>(n)));
            got = true;
        }
        if (!a.follow) return 0;
        if (got) continue;
        auto st = builder::current_state(containers, id);
        bool live = st.status == layerstore::ContainerStatus::running || st.status == layerstore::ContainerStatus::paused;
        if (!live && st.status != layerstore::ContainerStatus::created) {
            // One last read: the monitor writes the final output before the state.
            for (ssize_t n; fd && (n = ::read(fd.get(), buf, sizeof buf)) > 0;)
                printer.feed(std::string_view(buf, static_cast<size_t>(n)));
            return a.attach ? st.exit_code : 0;
        }
        pollfd p{notify.get(), POLLIN, 0};
        // The timeout only guards against a monitor killed without a last state write.
        (void)::poll(&p, 1, 1000);
        char events[4096];
        while (::read(notify.get(), events, sizeof events) > 0) {
        }
    }
}

VerbRegistration logs_verb{"logs", "Print a container's output", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<LogsArgs>();
    cmd.add_option("container", a->container, "container")->required();
    cmd.add_flag("-f,--follow", a->follow, "keep printing new output until the container exits");
    cmd.add_flag("-t,--timestamps", a->timestamps, "prefix each line with its time");
    cmd.add_option("-n,--tail", a->tail, "only the last N lines (default all)");
    return [a, &g] { return logs(*a, g); };
}};

VerbRegistration attach_verb{"attach", "Follow a running container's output until it exits (exit with its status)",
                             [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<LogsArgs>();
    a->follow = a->attach = true;
    cmd.add_option("container", a->container, "container")->required();
    return [a, &g] { return logs(*a, g); };
}};

}  // namespace
}  // namespace imgbuild::cli
