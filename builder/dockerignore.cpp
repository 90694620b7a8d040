#include "builder/dockerignore.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::builder {

namespace {

using Token = IgnoreMatcher::Token;

std::string_view trim(std::string_view s) {
    constexpr std::string_view ws = " \t\r\n\v\f";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

// Parses a "[...]" class starting at pattern[i] == '['; on success i is past the ']'.
// Shared by the .dockerignore tokenizer and go_path_match: both follow Go's syntax.
bool parse_class(std::string_view p, size_t& i, Token& tok) {
    tok = Token{};
    tok.kind = Token::class_;
    ++i;  // '['
    if (i < p.size() && p[i] == '^') {
        tok.negated = true;
        ++i;
    }
    bool first = true;
    for (;;) {
        if (i >= p.size()) return false;
        if (p[i] == ']' && !first) {
            ++i;
            return true;
        }
        auto read_char = [&](unsigned char& out) {
            if (i >= p.size()) return false;
            if (p[i] == '\\') {
                ++i;
                if (i >= p.size()) return false;
            } else if (p[i] == '-' || (p[i] == ']' && !first)) {
                return false;
            }
            out = static_cast<unsigned char>(p[i++]);
            return true;
        };
        unsigned char lo = 0;
        if (p[i] == ']') return false;  // "[]" is malformed in Go
        if (!read_char(lo)) return false;
        unsigned char hi = lo;
        if (i < p.size() && p[i] == '-') {
            ++i;
            if (!read_char(hi)) return false;
            if (hi < lo) return false;
        }
        tok.ranges.emplace_back(lo, hi);
        first = false;
    }
}

bool class_matches(const Token& t, unsigned char c) {
    bool in = false;
    for (auto [lo, hi] : t.ranges)
        if (c >= lo && c <= hi) in = true;
    return in != t.negated;
}

// The pattern compiler of moby/patternmatcher (Pattern.compile), as tokens instead of a
// regexp: '*' -> [^/]*, '?' -> [^/], "**/" and inner "**" -> (.*/)?, trailing "**" -> .*
std::vector<Token> tokenize(std::string_view p, bool& literal, bool& ok) {
    std::vector<Token> out;
    literal = true;
    ok = true;
    for (size_t i = 0; i < p.size();) {
        char ch = p[i];
        Token t;
        if (ch == '*') {
            literal = false;
            if (i + 1 < p.size() && p[i + 1] == '*') {
                i += 2;
                if (i < p.size() && p[i] == '/') ++i;
                t.kind = i >= p.size() ? Token::any_tail : Token::any_dirs;
            } else {
                ++i;
                t.kind = Token::star;
            }
        } else if (ch == '?') {
            literal = false;
            t.kind = Token::question;
            ++i;
        } else if (ch == '[') {
            literal = false;
            if (!parse_class(p, i, t)) {
                ok = false;
                return out;
            }
        } else if (ch == '\\') {
            literal = false;  // compare through the tokens, the text still has the '\'
            ++i;
            if (i >= p.size()) {
                ok = false;  // Go: a trailing '\' is ErrBadPattern
                return out;
            }
            t.ch = p[i++];
        } else {
            t.ch = ch;
            ++i;
        }
        out.push_back(std::move(t));
    }
    return out;
}

// NFA over the tokens. State t (0..n) = "tokens before t matched"; state n+1+t = "inside
// the (.*/)? of any_dirs token t, waiting for a '/'".
class Nfa {
public:
    // The state sets are reused per thread: matching runs for every path of a walk.
    explicit Nfa(const std::vector<Token>& toks) : toks_(toks), n_(toks.size()), cur_(buf_a()), next_(buf_b()) {
        cur_.assign(2 * n_ + 2, 0);
        next_.assign(2 * n_ + 2, 0);
        cur_[0] = 1;
        closure(cur_);
    }
    void feed(std::string_view s) {
        for (char c : s) {
            step(static_cast<unsigned char>(c));
            if (dead()) return;
        }
    }
    [[nodiscard]] bool accepted() const { return cur_[n_] != 0; }
    [[nodiscard]] bool dead() const {
        for (char v : cur_)
            if (v) return false;
        return true;
    }
    // Some state other than "everything matched" is live: more input could still match.
    [[nodiscard]] bool can_continue() const {
        for (size_t i = 0; i < cur_.size(); ++i)
            if (cur_[i] && i != n_) return true;
        return false;
    }

private:
    void closure(std::vector<char>& s) const {
        for (size_t t = 0; t < n_; ++t) {
            if (!s[t]) continue;
            auto k = toks_[t].kind;
            if (k == Token::star || k == Token::any_dirs || k == Token::any_tail) s[t + 1] = 1;
        }
    }
    void step(unsigned char c) {
        std::fill(next_.begin(), next_.end(), 0);
        for (size_t t = 0; t < n_; ++t) {
            if (cur_[t]) {
                const Token& tok = toks_[t];
                switch (tok.kind) {
                    case Token::literal:
                        if (static_cast<unsigned char>(tok.ch) == c) next_[t + 1] = 1;
                        break;
                    case Token::question:
                        if (c != '/') next_[t + 1] = 1;
                        break;
                    case Token::class_:
                        if (class_matches(tok, c)) next_[t + 1] = 1;
                        break;
                    case Token::star:
                        if (c != '/') next_[t] = 1;
                        break;
                    case Token::any_dirs:
                        if (c == '/') next_[t + 1] = 1;
                        next_[n_ + 1 + t] = 1;
                        break;
                    case Token::any_tail:
                        next_[t] = 1;
                        break;
                }
            }
            if (cur_[n_ + 1 + t]) {
                if (c == '/') next_[t + 1] = 1;
                next_[n_ + 1 + t] = 1;
            }
        }
        closure(next_);
        cur_.swap(next_);
    }

    static std::vector<char>& buf_a() {
        thread_local std::vector<char> b;
        return b;
    }
    static std::vector<char>& buf_b() {
        thread_local std::vector<char> b;
        return b;
    }

    const std::vector<Token>& toks_;
    size_t n_;
    std::vector<char>& cur_;
    std::vector<char>& next_;
};

bool pattern_matches(const IgnoreMatcher::Pattern& p, std::string_view path) {
    if (p.literal) return path == p.text;
    Nfa nfa(p.tokens);
    nfa.feed(path);
    return nfa.accepted();
}

// moby's MatchesOrParentMatches for one pattern: the path itself or any parent dir.
bool matches_or_parent(const IgnoreMatcher::Pattern& p, std::string_view path) {
    if (pattern_matches(p, path)) return true;
    for (size_t pos = path.find('/'); pos != std::string_view::npos; pos = path.find('/', pos + 1))
        if (pattern_matches(p, path.substr(0, pos))) return true;
    return false;
}

std::string normalize_relative(std::string_view path) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return clean_slash_path(path);
}

}  // namespace

std::string clean_slash_path(std::string_view path) {
    if (path.empty()) return ".";
    const bool rooted = path.front() == '/';
    std::vector<std::string_view> out;
    size_t dotdot_floor = 0;  // leading ".." of a relative path cannot be removed
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view comp = path.substr(i, j - i);
        i = j + 1;
        if (comp.empty() || comp == ".") continue;
        if (comp == "..") {
            if (out.size() > dotdot_floor) {
                out.pop_back();
            } else if (!rooted) {
                out.push_back(comp);
                ++dotdot_floor;
            }
            continue;
        }
        out.push_back(comp);
    }
    std::string r = rooted ? "/" : "";
    for (size_t k = 0; k < out.size(); ++k) {
        if (k) r += '/';
        r += out[k];
    }
    if (r.empty()) r = ".";
    return r;
}

std::optional<bool> go_path_match(std::string_view pattern, std::string_view name) {
    // Validate the whole pattern first: Go reports ErrBadPattern whatever the name.
    {
        bool literal = false, ok = false;
        (void)tokenize(pattern, literal, ok);
        if (!ok) return std::nullopt;
    }
    // Backtracking over '*' (pattern and names are one path, short).
    struct M {
        static bool run(std::string_view p, std::string_view s) {
            while (!p.empty()) {
                char c = p.front();
                if (c == '*') {
                    while (!p.empty() && p.front() == '*') p.remove_prefix(1);
                    if (p.empty()) return s.find('/') == std::string_view::npos;
                    for (size_t k = 0; k <= s.size(); ++k) {
                        if (run(p, s.substr(k))) return true;
                        if (k < s.size() && s[k] == '/') return false;
                    }
                    return false;
                }
                if (s.empty()) return false;
                if (c == '?') {
                    if (s.front() == '/') return false;
                    p.remove_prefix(1);
                } else if (c == '[') {
                    size_t i = 0;
                    Token t;
                    if (!parse_class(p, i, t)) return false;
                    if (s.front() == '/' || !class_matches(t, static_cast<unsigned char>(s.front()))) return false;
                    p.remove_prefix(i);
                } else {
                    if (c == '\\') p.remove_prefix(1);
                    if (p.empty() || p.front() != s.front()) return false;
                    p.remove_prefix(1);
                }
                s.remove_prefix(1);
            }
            return s.empty();
        }
    };
    return M::run(pattern, name);
}

bool contains_wildcards(std::string_view pattern) {
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\') {
            ++i;
            continue;
        }
        if (c == '*' || c == '?' || c == '[') return true;
    }
    return false;
}

namespace {

// One pattern as moby/patternmatcher.New takes it: trimmed, '!' for an exception, cleaned,
// a leading '/' dropped. nullopt for a blank one. `where` names it in errors.
std::optional<IgnoreMatcher::Pattern> parse_pattern(std::string_view line, const std::string& where) {
    line = trim(line);
    if (line.empty()) return std::nullopt;
    IgnoreMatcher::Pattern p;
    if (line.front() == '!') {
        p.exception = true;
        line = trim(line.substr(1));
        if (line.empty()) throw UsageError(where + ": illegal exclusion pattern: \"!\"");
    }
    std::string cleaned = clean_slash_path(line);
    if (cleaned.size() > 1 && cleaned.front() == '/') cleaned.erase(0, 1);
    bool ok = false;
    p.tokens = tokenize(cleaned, p.literal, ok);
    if (!ok) throw UsageError(where + ": syntax error in pattern \"" + std::string(line) + "\"");
    p.text = std::move(cleaned);
    return p;
}

}  // namespace

void IgnoreMatcher::add(Pattern p) {
    has_exceptions_ = has_exceptions_ || p.exception;
    patterns_.push_back(std::move(p));
}

IgnoreMatcher IgnoreMatcher::from_text(std::string_view text) {
    IgnoreMatcher m;
    size_t line_no = 0;
    size_t i = 0;
    if (text.starts_with("\xEF\xBB\xBF")) i = 3;  // UTF-8 BOM
    while (i < text.size()) {
        size_t j = text.find('\n', i);
        if (j == std::string_view::npos) j = text.size();
        std::string_view line = text.substr(i, j - i);
        i = j + 1;
        ++line_no;
        if (line.starts_with('#')) continue;
        if (auto p = parse_pattern(line, ".dockerignore:" + std::to_string(line_no))) m.add(std::move(*p));
    }
    return m;
}

IgnoreMatcher IgnoreMatcher::from_patterns(const std::vector<std::string>& patterns, const std::string& what) {
    IgnoreMatcher m;
    for (const auto& text : patterns)
        if (auto p = parse_pattern(text, what)) m.add(std::move(*p));
    return m;
}

IgnoreMatcher IgnoreMatcher::from_context(const std::filesystem::path& context_dir) {
    const auto file = context_dir / ".dockerignore";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return {};
    return from_text(read_file(file));
}

bool IgnoreMatcher::excluded(std::string_view relative_path) const {
    if (patterns_.empty()) return false;
    const std::string path = normalize_relative(relative_path);
    if (path == ".") return false;
    bool matched = false;
    for (const auto& p : patterns_) {
        // An exclusion cannot change an already excluded path, nor an exception an included one.
        if (p.exception != matched) continue;
        if (matches_or_parent(p, path)) matched = !p.exception;
    }
    return matched;
}

bool IgnoreMatcher::may_include_below(std::string_view relative_dir) const {
    if (!excluded(relative_dir)) return true;
    if (!has_exceptions_) return false;
    const std::string prefix = normalize_relative(relative_dir) + "/";
    for (const auto& p : patterns_) {
        if (!p.exception) continue;
        Nfa nfa(p.tokens);
        nfa.feed(prefix);
        if (nfa.can_continue()) return true;
    }
    return false;
}

bool IgnoreMatcher::may_match_below(std::string_view relative_dir) const {
    const std::string prefix = normalize_relative(relative_dir) + "/";
    for (const auto& p : patterns_) {
        if (p.exception) continue;
        Nfa nfa(p.tokens);
        nfa.feed(prefix);
        if (nfa.can_continue()) return true;
    }
    return false;
}

std::vector<std::string> IgnoreMatcher::patterns() const {
    std::vector<std::string> out;
    for (const auto& p : patterns_) out.push_back((p.exception ? "!" : "") + p.text);
    return out;
}

}  // namespace imgbuild::builder
