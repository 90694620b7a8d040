#include "common/error.h"

#include <cerrno>
#include <cstring>

namespace imgbuild {

std::string describe_errno(int err) {
    const char* name = strerrorname_np(err);
    std::string text = name ? name : ("errno " + std::to_string(err));
    text += " (";
    text += std::strerror(err);
    text += ")";
    return text;
}

void throw_errno(int err, const std::string& op, const std::string& object) {
    std::string what = op;
    if (!object.empty()) what += " " + object;
    throw SystemError(err, what + ": " + describe_errno(err));
}

void throw_errno(const std::string& op, const std::string& object) { throw_errno(errno, op, object); }

}  // namespace imgbuild
