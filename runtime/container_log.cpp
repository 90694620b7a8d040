#include "runtime/container_log.h"

#include <fcntl.h>
#include <time.h>

#include <cstdio>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::runtime {

namespace {
constexpr std::string_view kStreamNames[] = {"", "stdout", "stderr"};
}

std::string log_timestamp_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[48];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

std::string format_log_records(const std::string& timestamp, int stream, std::string_view data) {
    std::string out;
    std::string_view name = kStreamNames[stream == 2 ? 2 : 1];
    while (!data.empty()) {
        size_t nl = data.find('\n');
        bool full = nl != std::string_view::npos;
        std::string_view line = data.substr(0, full ? nl : data.size());
        out.append(timestamp).append(" ").append(name).append(full ? " F " : " P ").append(line).append("\n");
        data.remove_prefix(full ? nl + 1 : data.size());
    }
    return out;
}

std::optional<LogRecord> parse_log_record(std::string_view line) {
    LogRecord r;
    size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 + 2 > line.size()) return std::nullopt;
    r.timestamp = std::string(line.substr(0, sp1));
    std::string_view stream = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (stream == "stdout") r.stream = 1;
    else if (stream == "stderr") r.stream = 2;
    else return std::nullopt;
    char tag = line[sp2 + 1];
    if (tag != 'F' && tag != 'P') return std::nullopt;
    r.partial = tag == 'P';
    r.text = sp2 + 3 <= line.size() ? line.substr(sp2 + 3) : std::string_view();
    return r;
}

LogWriter::LogWriter(const std::string& path) : path_(path) {
    fd_ = open_or_throw(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

void LogWriter::write(int stream, std::string_view data) {
    write_all(fd_.get(), format_log_records(log_timestamp_now(), stream, data), path_);
}

}  // namespace imgbuild::runtime
