#include "parser/errors.h"

#include <algorithm>
#include <cctype>

namespace imgbuild::parser {

namespace {

// "Dockerfile:7:3: msg" then the line and a caret. Tabs before the column are kept as tabs
// under the caret so that it lines up whatever the terminal's tab width.
std::string format(const std::string& file, SourcePos pos, const std::string& message, std::string_view line) {
    std::string out = file;
    if (pos.line > 0) {
        out += ":" + std::to_string(pos.line);
        if (pos.column > 0) out += ":" + std::to_string(pos.column);
    }
    out += ": " + message;
    if (pos.line > 0 && !line.empty()) {
        std::string num = std::to_string(pos.line);
        std::string gutter = std::string(num.size() < 5 ? 5 - num.size() : 0, ' ') + num + " | ";
        out += "\n" + gutter + std::string(line);
        if (pos.column > 0) {
            std::string pad;
            for (size_t i = 0; i + 1 < static_cast<size_t>(pos.column) && i < line.size(); ++i) {
                pad += line[i] == '\t' ? '\t' : ' ';
            }
            out += "\n" + std::string(gutter.size() - 2, ' ') + "| " + pad + "^";
        }
    }
    return out;
}

}  // namespace

ParseError::ParseError(std::string file, SourcePos pos, std::string message, std::string quoted)
    : Error(format(file, pos, message, quoted)), file_(std::move(file)), pos_(pos), message_(std::move(message)) {}

SourceText::SourceText(std::string_view source, std::string filename) : text_(source), filename_(std::move(filename)) {
    std::string_view text = text_;
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) {
            if (start < text.size()) lines_.push_back(text.substr(start));
            break;
        }
        lines_.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
}

std::string_view SourceText::line(int n) const {
    if (n < 1 || static_cast<size_t>(n) > lines_.size()) return {};
    std::string_view l = lines_[static_cast<size_t>(n - 1)];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
}

ParseError SourceText::error(SourcePos pos, const std::string& message) const {
    return ParseError(filename_, pos, message, std::string(line(pos.line)));
}

std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& candidates) {
    auto lower = [](std::string_view s) {
        std::string r(s);
        for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return r;
    };
    std::string w = lower(word);
    if (w.empty() || w.size() > 64) return std::nullopt;
    size_t best = std::string::npos;
    std::optional<std::string> best_word;
    for (const auto& cand : candidates) {
        std::string c = lower(cand);
        // Levenshtein distance, one row at a time.
        std::vector<size_t> row(c.size() + 1);
        for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
        for (size_t i = 1; i <= w.size(); ++i) {
            size_t diag = row[0];
            row[0] = i;
            for (size_t j = 1; j <= c.size(); ++j) {
                size_t up = row[j];
                row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (w[i - 1] == c[j - 1] ? 0 : 1)});
                diag = up;
            }
        }
        size_t d = row[c.size()];
        if (d < best) {
            best = d;
            best_word = cand;
        }
    }
    // Two edits are a typo in a word of four letters or more; one edit in shorter words.
    size_t limit = w.size() >= 4 ? 2 : 1;
    if (best <= limit) return best_word;
    return std::nullopt;
}

}  // namespace imgbuild::parser
