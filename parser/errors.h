#pragma once
// Parse errors that point into the Dockerfile: "Dockerfile:7:1: unknown instruction "RUNN"
// (did you mean RUN?)", followed by the offending line and a caret under the column.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace imgbuild::parser {

// 1-based line and column (in bytes); 0 means unknown.
struct SourcePos {
    int line = 0;
    int column = 0;
    bool operator==(const SourcePos&) const = default;
};

// Any Dockerfile the parser rejects. Derives from imgbuild::Error (not UsageError): the CLI
// exits 1 on it, like any failed build.
class ParseError : public Error {
public:
    ParseError(std::string file, SourcePos pos, std::string message, std::string quoted);
    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] SourcePos pos() const { return pos_; }
    // The message alone, without location and quoted line.
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    std::string file_;
    SourcePos pos_;
    std::string message_;
};

// The physical lines of one Dockerfile, kept so that errors can quote them.
class SourceText {
public:
    SourceText(std::string_view text, std::string filename);
    SourceText(const SourceText&) = delete;  // lines_ point into text_
    SourceText& operator=(const SourceText&) = delete;
    [[nodiscard]] const std::string& text() const { return text_; }
    [[nodiscard]] const std::string& filename() const { return filename_; }
    [[nodiscard]] size_t line_count() const { return lines_.size(); }
    // Line `n` (1-based) without its newline; "" when out of range.
    [[nodiscard]] std::string_view line(int n) const;
    [[nodiscard]] ParseError error(SourcePos pos, const std::string& message) const;
    [[noreturn]] void fail(SourcePos pos, const std::string& message) const { throw error(pos, message); }

private:
    std::string text_;
    std::string filename_;
    std::vector<std::string_view> lines_;
};

// The candidate closest to `word` (case-insensitive edit distance), if it is close enough to
// be a plausible typo: "RUNN" -> "RUN", "COPPY" -> "COPY", "FORM" -> "FROM".
[[nodiscard]] std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace imgbuild::parser
