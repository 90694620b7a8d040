#include "parser/lexer.h"

#include <cctype>

namespace imgbuild::parser {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string_view trim_newline(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

size_t leading_ws(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && is_ws(s[i])) ++i;
    return i;
}

bool is_comment(std::string_view content) {
    size_t i = leading_ws(content);
    return i < content.size() && content[i] == '#';
}

// Appends one physical line's text (from column `first_col`) to the logical line and strips a
// trailing continuation character. Returns true when the line continues.
//
// The escape token at the end of a line (trailing blanks allowed) continues the line unless it
// is itself escaped: an odd run of escape tokens continues, an even run is literal text
// (`C:\\` ends the line; `foo \\\` continues it).
bool append_segment(LogicalLine& l, std::string_view seg, int line_no, int first_col, char esc) {
    size_t end = seg.size();
    while (end > 0 && (seg[end - 1] == ' ' || seg[end - 1] == '\t')) --end;
    size_t run = 0;
    while (run < end && seg[end - 1 - run] == esc) ++run;
    bool continues = run % 2 == 1;
    size_t keep = continues ? end - 1 : seg.size();
    for (size_t i = 0; i < keep; ++i) {
        l.text += seg[i];
        l.pos.push_back({line_no, first_col + static_cast<int>(i)});
    }
    return continues;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t utf8_sequence_length(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
    unsigned c = byte(i);
    auto cont = [&](size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned c1 = byte(i + 1);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
        return cont(i + 1) && cont(i + 2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned c1 = byte(i + 1);
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
        return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

}  // namespace

// A NUL byte would cut the command that runs short of what the history records, and text
// that is not UTF-8 cannot be written into the image config (JSON): both are refused here,
// at their line and column, before any step runs. Comment lines never reach the image and
// may hold any bytes but NUL.
void Lexer::validate_bytes() const {
    for (size_t n = 0; n < raw_.size(); ++n) {
        std::string_view line = trim_newline(raw_[n]);
        int line_no = static_cast<int>(n) + 1;
        bool comment = is_comment(line);
        for (size_t i = 0; i < line.size();) {
            SourcePos pos{line_no, static_cast<int>(i) + 1};
            if (line[i] == '\0') source_.fail(pos, "NUL byte in the Dockerfile");
            size_t len = utf8_sequence_length(line, i);
            if (len == 0 && !comment) source_.fail(pos, "invalid UTF-8 byte in the Dockerfile");
            i += len == 0 ? 1 : len;
        }
    }
}

SourcePos LogicalLine::at(size_t offset) const {
    if (pos.empty()) return {start_line, 1};
    return offset < pos.size() ? pos[offset] : pos.back();
}

Lexer::Lexer(const SourceText& source, std::string_view text) : source_(source) {
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        raw_.push_back(text.substr(start, end - start));
        start = end;
    }
    validate_bytes();
}

// `# name=value` lines before anything else. The first line that is not a known directive
// ends the directive section, whatever it is (a comment, a blank line, an instruction).
void Lexer::directive(std::string_view line, int line_no, int column) {
    if (directives_done_) return;
    auto done = [&] { directives_done_ = true; };
    if (line.empty() || line[0] != '#') return done();
    size_t i = 1;
    auto skip_ws = [&] {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f')) ++i;
    };
    skip_ws();
    size_t name_start = i;
    if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) return done();
    while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
    std::string name(line.substr(name_start, i - name_start));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    skip_ws();
    if (i >= line.size() || line[i] != '=') return done();
    ++i;
    skip_ws();
    std::string_view value = line.substr(i);
    while (!value.empty() && is_ws(value.back())) value.remove_suffix(1);
    if (value.empty()) return done();
    if (name != "escape" && name != "syntax" && name != "check") return done();

    SourcePos pos{line_no, column};
    bool seen = (name == "escape" && seen_escape_) || (name == "syntax" && directives_.syntax) ||
                (name == "check" && directives_.check);
    if (seen) source_.fail(pos, "only one " + name + " parser directive can be used");
    if (name == "escape") {
        if (value != "\\" && value != "`") {
            source_.fail(pos, "invalid escape token '" + std::string(value) + "' does not match ` or \\");
        }
        directives_.escape = value[0];
        seen_escape_ = true;
    } else if (name == "syntax") {
        directives_.syntax = std::string(value);
    } else {
        directives_.check = std::string(value);
    }
}

std::optional<LogicalLine> Lexer::next_line() {
    while (next_ < raw_.size()) {
        int line_no = static_cast<int>(next_) + 1;
        std::string_view content = trim_newline(raw_[next_++]);
        int col = 1;
        if (line_no == 1 && content.substr(0, 3) == "\xEF\xBB\xBF") {  // byte-order mark
            content.remove_prefix(3);
            col += 3;
        }
        size_t lead = leading_ws(content);
        std::string_view token = content.substr(lead);
        directive(token, line_no, col + static_cast<int>(lead));
        if (!token.empty() && token[0] == '#') token = {};  // a comment: never continued

        LogicalLine l;
        l.start_line = line_no;
        bool continues = append_segment(l, token, line_no, col + static_cast<int>(lead), directives_.escape);
        if (!continues && l.text.empty()) continue;  // blank line

        while (continues && next_ < raw_.size()) {
            int n = static_cast<int>(next_) + 1;
            std::string_view c = trim_newline(raw_[next_++]);
            directive(c, n, 1);
            // Comment lines and blank lines inside a continuation are skipped, and the
            // continuation goes on (Docker warns about the blank ones; we accept them).
            if (is_comment(c) || leading_ws(c) == c.size()) continue;
            continues = append_segment(l, c, n, 1, directives_.escape);
        }
        l.end_line = static_cast<int>(next_);
        l.pos.push_back(l.pos.empty() ? SourcePos{line_no, col} : SourcePos{l.pos.back().line, l.pos.back().column + 1});
        return l;
    }
    return std::nullopt;
}

std::string Lexer::read_heredoc(const std::string& name, bool chomp, SourcePos marker) {
    std::string body;
    while (next_ < raw_.size()) {
        std::string_view raw = raw_[next_++];
        std::string_view candidate = trim_newline(raw);
        if (chomp) {
            while (!candidate.empty() && candidate[0] == '\t') candidate.remove_prefix(1);
        }
        if (candidate == name) return body;
        body += raw;
    }
    source_.fail(marker, "unterminated heredoc: no line \"" + name + "\" before the end of the file");
}

}  // namespace imgbuild::parser
