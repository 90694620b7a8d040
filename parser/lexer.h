#pragma once
// Layer 1: physical lines -> logical lines. Handles the parser directives at the top
// (`# escape=`, `# syntax=`, `# check=`), comments, blank lines, line continuations (with
// comment and blank lines inside them) and heredoc bodies. Every character of a logical line
// remembers where it came from, so later layers can report exact columns.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/errors.h"

namespace imgbuild::parser {

struct Directives {
    char escape = '\\';
    std::optional<std::string> syntax;  // kept and reported, otherwise ignored
    std::optional<std::string> check;
};

struct LogicalLine {
    std::string text;            // continuation characters and skipped lines removed
    std::vector<SourcePos> pos;  // pos[i] is the origin of text[i]; pos[text.size()] the end
    int start_line = 0;
    int end_line = 0;
    [[nodiscard]] SourcePos at(size_t offset) const;
};

class Lexer {
public:
    // `source` must outlive the lexer; it is the same text, split for error quoting.
    explicit Lexer(const SourceText& source, std::string_view text);

    // The next instruction's line, or nullopt at the end of the file. Directives are read
    // while scanning the top of the file, so directives() is final after the first call.
    std::optional<LogicalLine> next_line();

    // Reads a heredoc body right after the current position, up to a line equal to `name`
    // (with leading tabs ignored when `chomp`). The body keeps its newlines. Throws ParseError
    // at `marker` when the file ends first.
    std::string read_heredoc(const std::string& name, bool chomp, SourcePos marker);

    [[nodiscard]] const Directives& directives() const { return directives_; }
    // Number of the last physical line consumed.
    [[nodiscard]] int current_line() const { return static_cast<int>(next_); }

private:
    void directive(std::string_view line, int line_no, int column);
    void validate_bytes() const;

    const SourceText& source_;
    std::vector<std::string_view> raw_;  // physical lines, each with its '\n' if it had one
    size_t next_ = 0;                    // index of the next physical line to read
    Directives directives_;
    bool directives_done_ = false;
    bool seen_escape_ = false;
};

}  // namespace imgbuild::parser
