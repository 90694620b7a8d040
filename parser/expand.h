#pragma once
// Word expansion as Docker does it for Dockerfile arguments: $V, ${V}, the ${V:-w} family,
// ${V#p} ${V%p} ${V/p/r}, quotes and the escape token. This is the expansion *engine*; which
// instructions use it (and in which mode) is decided in resolve.cpp, as in Docker.
//
// Contract: pure functions of (text, env). Errors (unterminated quote, bad substitution,
// ${V:?msg}) are ExpandError with the byte offset in the input where the problem starts.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace imgbuild::parser {

class ExpandError : public Error {
public:
    ExpandError(const std::string& message, size_t offset) : Error(message), offset_(offset) {}
    // Byte offset into the expanded text where the offending construct starts.
    [[nodiscard]] size_t offset() const { return offset_; }

private:
    size_t offset_;
};

// Variables visible to an expansion. Insertion order is kept (an image config's Env is
// ordered); setting an existing name replaces its value in place.
class Env {
public:
    Env() = default;
    // From "K=V" strings (an image config's Env); an entry without '=' sets K to "".
    static Env from_list(const std::vector<std::string>& entries);

    void set(std::string_view name, std::string_view value);
    void erase(std::string_view name);
    // nullptr when unset; a set-but-empty variable returns a pointer to "".
    [[nodiscard]] const std::string* find(std::string_view name) const;
    [[nodiscard]] bool contains(std::string_view name) const { return find(name) != nullptr; }
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& entries() const { return vars_; }
    [[nodiscard]] std::vector<std::string> to_list() const;  // "K=V" strings
    [[nodiscard]] bool empty() const { return vars_.empty(); }
    bool operator==(const Env&) const = default;

private:
    std::vector<std::pair<std::string, std::string>> vars_;
};

// Docker's shell-word lexer. The escape token is '\\' or '`' (the `# escape=` directive).
class Expander {
public:
    explicit Expander(char escape_token = '\\') : escape_(escape_token) {}

    // One word, quotes removed, no field splitting (Docker's ProcessWord). Used for ENV,
    // LABEL, ARG values, COPY/ADD paths, WORKDIR, USER, VOLUME, STOPSIGNAL, FROM.
    [[nodiscard]] std::string expand_word(std::string_view word, const Env& env) const;

    // Splits into fields like a shell (Docker's ProcessWords): unquoted whitespace separates
    // words, and unquoted variable values are split on whitespace too. Used for EXPOSE.
    [[nodiscard]] std::vector<std::string> expand_words(std::string_view text, const Env& env) const;

    // Heredoc bodies: variables and escapes are processed, quotes are ordinary characters.
    [[nodiscard]] std::string expand_raw(std::string_view text, const Env& env) const;

    // Syntax only (unterminated quotes, bad substitutions); every variable counts as set.
    // Lets the parser reject a bad word at parse time, before any value is known.
    void check_syntax(std::string_view word) const;

    // Field splitting without expansion, keeping quotes and escapes in the words: how BuildKit
    // finds heredoc markers (`<<EOF`, `<<"EOF"`) among the words of a line.
    [[nodiscard]] std::vector<std::string> split_raw(std::string_view text) const;

    [[nodiscard]] char escape_token() const { return escape_; }

private:
    char escape_;
};

// Shell pattern matching as used by ${V#p} and friends: * ? [a-z] [!x] and escaped characters.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text, char escape_token = '\\');

}  // namespace imgbuild::parser
