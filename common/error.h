#pragma once
// Errors name the operation and the object: "open /x: ENOENT (No such file or directory)".
#include <stdexcept>
#include <string>

namespace imgbuild {

// Any failure that should reach the user as one clear line.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bad input from the user (command line, Dockerfile, archive): exit code 1 or 2 upstream.
class UsageError : public Error {
public:
    using Error::Error;
};

// Something asked for is not there (an image, a blob, a layer): exit 1, never a usage error.
class NotFoundError : public Error {
public:
    using Error::Error;
};

// Stored data that does not parse or verify (a damaged meta.json, blob or index): exit 1
// with the path; `imgbuild fsck` names it, `fsck --repair` removes it. Never a usage error,
// even when the damaged bytes fail a check that user input also goes through.
class CorruptError : public Error {
public:
    using Error::Error;
};

// A failed system call: keeps errno so callers can react to ENOENT, EEXIST, ...
class SystemError : public Error {
public:
    SystemError(int err, const std::string& what) : Error(what), errno_(err) {}
    [[nodiscard]] int error_number() const { return errno_; }

private:
    int errno_;
};

// "op path: ENAME (description)" for errno `err`.
[[nodiscard]] std::string describe_errno(int err);

// Throws SystemError for the current errno: `throw_errno("open", "/x")`.
[[noreturn]] void throw_errno(const std::string& op, const std::string& object);
[[noreturn]] void throw_errno(int err, const std::string& op, const std::string& object);

}  // namespace imgbuild
