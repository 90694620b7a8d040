#include "common/process.h"

#include <cstdlib>
#include <string>

#include "common/fs.h"

namespace imgbuild {

uint64_t process_start_time(pid_t pid) {
    if (pid <= 0) return 0;
    std::string text;
    try {
        text = read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const std::exception&) {
        return 0;
    }
    // "pid (comm) state ...": comm may hold spaces and parentheses, so count from the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    size_t pos = close + 2;
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'X')) return 0;
    for (int field = 3; field < 22 && pos < text.size(); ++field) {
        pos = text.find(' ', pos);
        if (pos == std::string::npos) return 0;
        ++pos;
    }
    return std::strtoull(text.c_str() + pos, nullptr, 10);
}

bool process_is(pid_t pid, uint64_t start_time) {
    uint64_t now = process_start_time(pid);
    return now != 0 && now == start_time;
}

}  // namespace imgbuild
