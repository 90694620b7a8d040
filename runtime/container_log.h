#pragma once
// The log of a detached container, in the CRI / conmon "k8s-file" format: one line per
// line of output, "<RFC 3339 nanos> <stdout|stderr> <F|P> <text>". F ends a line of the
// container's output; P is a partial line (no newline yet: what followed arrives in the
// next record). Every byte the container wrote comes back out (a 1 MiB line too).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

class LogWriter {
public:
    // Appends to `path` (created 0640 when missing).
    explicit LogWriter(const std::string& path);
    // One chunk of output of `stream` (1 stdout, 2 stderr): one record per line in it.
    void write(int stream, std::string_view data);

private:
    unique_fd fd_;
    std::string path_;
};

// Formats the records for one chunk (pure; unit-tested). `timestamp` is RFC 3339.
[[nodiscard]] std::string format_log_records(const std::string& timestamp, int stream, std::string_view data);

struct LogRecord {
    std::string timestamp;
    int stream = 1;
    bool partial = false;
    std::string_view text;  // without the record's newline
};

// Parses one record line (without its '\n'); nullopt for a malformed line.
[[nodiscard]] std::optional<LogRecord> parse_log_record(std::string_view line);

// "2026-12-01T17:00:00.123456789Z" for now.
[[nodiscard]] std::string log_timestamp_now();

}  // namespace imgbuild::runtime
