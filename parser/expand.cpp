// The shell-word lexer behind Expander. It follows the behaviour of BuildKit's shell lexer
// (frontend/dockerfile/shell), checked against its envVarTest/wordsTest tables in
// conformance_test.cpp; the code is our own.
//
// Text is processed byte-wise: every special character is ASCII and UTF-8 continuation bytes
// are >= 0x80, so multi-byte characters pass through unchanged. Patterns are matched per code
// point so that `?` matches one character, not one byte.
#include "parser/expand.h"

#include <cstdint>

namespace imgbuild::parser {

// ---- Env ------------------------------------------------------------------------------------

Env Env::from_list(const std::vector<std::string>& entries) {
    Env env;
    for (const auto& e : entries) {
        auto eq = e.find('=');
        if (eq == std::string::npos) {
            env.set(e, "");
        } else {
            env.set(std::string_view(e).substr(0, eq), std::string_view(e).substr(eq + 1));
        }
    }
    return env;
}

void Env::set(std::string_view name, std::string_view value) {
    for (auto& [k, v] : vars_) {
        if (k == name) {
            v = value;
            return;
        }
    }
    vars_.emplace_back(std::string(name), std::string(value));
}

void Env::erase(std::string_view name) {
    std::erase_if(vars_, [&](const auto& kv) { return kv.first == name; });
}

const std::string* Env::find(std::string_view name) const {
    for (const auto& [k, v] : vars_) {
        if (k == name) return &v;
    }
    return nullptr;
}

std::vector<std::string> Env::to_list() const {
    std::vector<std::string> out;
    out.reserve(vars_.size());
    for (const auto& [k, v] : vars_) out.push_back(k + "=" + v);
    return out;
}

// ---- pattern matching -----------------------------------------------------------------------

namespace {

bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Length of the UTF-8 sequence starting at s[i]; invalid bytes count as one character.
size_t cp_len(std::string_view s, size_t i) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) return 1;
    for (size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
    }
    return n;
}

uint32_t decode(std::string_view s, size_t i, size_t* len) {
    size_t n = cp_len(s, i);
    *len = n;
    auto b = static_cast<unsigned char>(s[i]);
    if (n == 1) return b;
    uint32_t cp = b & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    return cp;
}

bool is_boundary(std::string_view s, size_t i) {
    return i == 0 || i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

// Matches one pattern element at pattern[p] against the character `ch`; sets *plen to the
// element's length in the pattern.
bool match_element(std::string_view pat, size_t p, uint32_t ch, size_t* plen, char esc) {
    char c = pat[p];
    size_t n = 0;
    if (c == esc && p + 1 < pat.size()) {
        uint32_t lit = decode(pat, p + 1, &n);
        *plen = 1 + n;
        return lit == ch;
    }
    if (c == '?') {
        *plen = 1;
        return true;
    }
    if (c == '[') {
        size_t q = p + 1;
        bool negate = q < pat.size() && (pat[q] == '!' || pat[q] == '^');
        if (negate) ++q;
        bool matched = false;
        bool first = true;
        while (q < pat.size() && (first || pat[q] != ']')) {
            first = false;
            if (pat[q] == esc && q + 1 < pat.size()) ++q;
            uint32_t lo = decode(pat, q, &n);
            q += n;
            uint32_t hi = lo;
            if (q + 1 < pat.size() && pat[q] == '-' && pat[q + 1] != ']') {
                ++q;
                if (pat[q] == esc && q + 1 < pat.size()) ++q;
                hi = decode(pat, q, &n);
                q += n;
            }
            if (lo <= ch && ch <= hi) matched = true;
        }
        if (q < pat.size()) {  // found the closing ']'
            *plen = q + 1 - p;
            return matched != negate;
        }
        // No closing bracket: '[' is an ordinary character, as in the shell.
    }
    uint32_t lit = decode(pat, p, &n);
    *plen = n;
    return lit == ch;
}

}  // namespace

// Greedy matching with one backtrack point for the last '*': linear in practice and never
// exponential, which matters for the fuzzer.
bool glob_match(std::string_view pattern, std::string_view text, char esc) {
    size_t p = 0;
    size_t t = 0;
    size_t star_p = std::string_view::npos;
    size_t star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size()) {
            if (pattern[p] == '*') {
                star_p = ++p;
                star_t = t;
                continue;
            }
            size_t tl = 0;
            uint32_t ch = decode(text, t, &tl);
            size_t pl = 0;
            if (match_element(pattern, p, ch, &pl, esc)) {
                p += pl;
                t += tl;
                continue;
            }
        }
        if (star_p != std::string_view::npos) {
            star_t += cp_len(text, star_t);
            t = star_t;
            p = star_p;
            continue;
        }
        return false;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

// ---- the lexer ------------------------------------------------------------------------------

namespace {

constexpr int kEof = -1;
// ${a:-${b:-${c:-...}}} recurses; a bound keeps hostile input from exhausting the stack.
constexpr int kMaxNesting = 64;

struct Options {
    bool raw_quotes = false;   // keep quote characters in the output
    bool raw_escapes = false;  // keep escape tokens in the output
    bool skip_quotes = false;  // quotes are ordinary characters (heredoc bodies)
    bool assume_set = false;   // every variable is set to a non-empty value (syntax check)
};

// Docker's field splitting: whitespace that comes from unquoted text or unquoted variable
// values separates words; quoted text never does.
class Words {
public:
    void add_char(char c) {
        if (is_space(static_cast<unsigned char>(c))) {
            if (in_word_ && !word_.empty()) {
                words_.push_back(std::move(word_));
                word_.clear();
                in_word_ = false;
            }
        } else {
            add_raw_char(c);
        }
    }
    void add_raw_char(char c) {
        word_ += c;
        in_word_ = true;
    }
    void add_string(std::string_view s) {
        for (char c : s) add_char(c);
    }
    void add_raw_string(std::string_view s) {
        word_ += s;
        in_word_ = true;
    }
    std::vector<std::string> finish() {
        if (!word_.empty()) words_.push_back(std::move(word_));
        word_.clear();
        in_word_ = false;
        return std::move(words_);
    }

private:
    std::string word_;
    std::vector<std::string> words_;
    bool in_word_ = false;
};

struct Piece {
    std::string text;
    std::vector<std::string> words;
    int stopped_on = kEof;
};

class Lexer {
public:
    Lexer(std::string_view src, const Env* env, Options opt, char esc) : src_(src), env_(env), opt_(opt), esc_(esc) {}

    // Processes up to one of `stops` (consumed) or the end of input when `stops` is empty.
    Piece process(std::string_view stops, bool raw_escapes) {
        bool saved = raw_escapes_;
        raw_escapes_ = raw_escapes || opt_.raw_escapes;
        size_t start = pos_;
        Piece out;
        Words words;
        while (pos_ < src_.size()) {
            char ch = src_[pos_];
            if (!stops.empty() && stops.find(ch) != std::string_view::npos) {
                ++pos_;
                out.stopped_on = static_cast<unsigned char>(ch);
                out.words = words.finish();
                raw_escapes_ = saved;
                return out;
            }
            if (ch == '$') {
                std::string v = dollar();
                out.text += v;
                words.add_string(v);
                continue;
            }
            if (!opt_.skip_quotes && (ch == '\'' || ch == '"')) {
                std::string v = ch == '\'' ? single_quote() : double_quote();
                out.text += v;
                words.add_raw_string(v);
                continue;
            }
            ++pos_;
            if (ch == esc_) {
                if (raw_escapes_) {
                    words.add_raw_char(ch);
                    out.text += ch;
                }
                if (pos_ >= src_.size()) break;  // an escape at the very end is dropped
                ch = src_[pos_++];
                words.add_raw_char(ch);
            } else {
                words.add_char(ch);
            }
            out.text += ch;
        }
        raw_escapes_ = saved;
        if (!stops.empty()) {
            throw ExpandError("unexpected end of statement while looking for matching " + std::string(1, stops.back()),
                              start);
        }
        out.words = words.finish();
        return out;
    }

private:
    int peek() const { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : kEof; }
    int next() { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_++]) : kEof; }

    std::string single_quote() {
        size_t start = pos_++;
        std::string out;
        if (opt_.raw_quotes) out += '\'';
        for (;;) {
            int ch = next();
            if (ch == kEof) throw ExpandError("unexpected end of statement while looking for matching single-quote", start);
            if (ch == '\'') break;
            out += static_cast<char>(ch);
        }
        if (opt_.raw_quotes) out += '\'';
        return out;
    }

    std::string double_quote() {
        size_t start = pos_++;
        std::string out;
        if (opt_.raw_quotes) out += '"';
        for (;;) {
            int ch = peek();
            if (ch == kEof) throw ExpandError("unexpected end of statement while looking for matching double-quote", start);
            if (ch == '"') {
                ++pos_;
                break;
            }
            if (ch == '$') {
                out += dollar();
                continue;
            }
            ++pos_;
            if (ch == esc_) {
                int n = peek();
                if (n == kEof) continue;  // reported as the missing quote on the next turn
                // Inside double quotes only ", $ and the escape token itself can be escaped;
                // any other escape stays as written ("a\tb" keeps its backslash).
                if (n == '"' || n == '$' || n == esc_) {
                    if (raw_escapes_) out += static_cast<char>(ch);
                    ch = next();
                }
            }
            out += static_cast<char>(ch);
        }
        if (opt_.raw_quotes) out += '"';
        return out;
    }

    static bool is_special_param(int c) {
        return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
    }
    static bool is_name_char(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
    }

    // A variable name, a run of digits (positional parameter) or one special parameter.
    std::string name() {
        std::string out;
        while (pos_ < src_.size()) {
            int ch = peek();
            if (out.empty() && ch >= '0' && ch <= '9') {
                while (peek() >= '0' && peek() <= '9') out += static_cast<char>(next());
                return out;
            }
            if (out.empty() && is_special_param(ch)) {
                out += static_cast<char>(next());
                return out;
            }
            if (!is_name_char(ch)) break;
            out += static_cast<char>(next());
        }
        return out;
    }

    const std::string* lookup(const std::string& name) const {
        static const std::string assumed = "x";
        if (opt_.assume_set) return &assumed;
        return env_ ? env_->find(name) : nullptr;
    }

    // The word after a modifier, up to the closing brace; a missing brace is reported at `start`.
    Piece modifier_word(std::string_view stops, bool raw_escapes, size_t start) {
        try {
            return process(stops, raw_escapes);
        } catch (const ExpandError&) {
            if (pos_ >= src_.size()) throw ExpandError("syntax error: missing '}'", start);
            throw;
        }
    }

    std::string dollar() {
        size_t start = pos_++;
        if (peek() != '{') {
            std::string n = name();
            if (n.empty()) return "$";
            const std::string* v = lookup(n);
            return v ? *v : std::string();
        }
        ++pos_;
        if (++depth_ > kMaxNesting) throw ExpandError("substitution nested too deeply", start);
        struct DepthGuard {
            int& d;
            ~DepthGuard() { --d; }
        } guard{depth_};

        int first = peek();
        if (first == kEof) throw ExpandError("syntax error: missing '}'", start);
        if (first == '{' || first == '}' || first == ':') throw ExpandError("syntax error: bad substitution", start);
        std::string n = name();
        int ch = next();
        const std::string* value = nullptr;
        switch (ch) {
            case '}':
                value = lookup(n);
                return value ? *value : std::string();
            case '?': {
                std::string word = modifier_word("}", false, start).text;
                value = lookup(n);
                if (!value) throw ExpandError(n + ": " + (word.empty() ? "is not allowed to be unset" : word), start);
                return *value;
            }
            case ':': {
                int modifier = next();
                if (modifier == kEof) throw ExpandError("syntax error: missing '}'", start);
                std::string word = modifier_word("}", false, start).text;
                value = lookup(n);
                switch (modifier) {
                    case '+':
                        return value && !value->empty() ? word : std::string();
                    case '-':
                        return value && !value->empty() ? *value : word;
                    case '?':
                        if (!value) throw ExpandError(n + ": " + (word.empty() ? "is not allowed to be unset" : word), start);
                        if (value->empty()) throw ExpandError(n + ": " + (word.empty() ? "is not allowed to be empty" : word), start);
                        return *value;
                    default:
                        throw ExpandError(std::string("unsupported modifier (") + static_cast<char>(modifier) + ") in substitution", start);
                }
            }
            case '-': {
                std::string word = modifier_word("}", false, start).text;
                value = lookup(n);
                return value ? *value : word;
            }
            case '+': {
                std::string word = modifier_word("}", false, start).text;
                value = lookup(n);
                return value ? word : std::string();
            }
            case '#':
            case '%': {
                bool greedy = peek() == ch;
                if (greedy) ++pos_;
                // Escapes stay in the pattern so that `\*` means a literal star when matching.
                std::string pattern = modifier_word("}", true, start).text;
                value = lookup(n);
                std::string v = value ? *value : std::string();
                return ch == '#' ? trim_prefix(pattern, v, greedy) : trim_suffix(pattern, v, greedy);
            }
            case '/': {
                bool all = peek() == '/';
                if (all) ++pos_;
                Piece pattern = modifier_word("/}", true, start);
                std::string replacement;
                if (pattern.stopped_on == '/') replacement = modifier_word("}", false, start).text;
                value = lookup(n);
                return replace(pattern.text, replacement, value ? *value : std::string(), all);
            }
            case kEof:
                throw ExpandError("syntax error: missing '}'", start);
            default:
                throw ExpandError(std::string("unsupported modifier (") + static_cast<char>(ch) + ") in substitution", start);
        }
    }

    std::string trim_prefix(const std::string& pattern, const std::string& v, bool longest) const {
        for (size_t i = 0; i <= v.size(); ++i) {
            size_t k = longest ? v.size() - i : i;
            if (is_boundary(v, k) && glob_match(pattern, std::string_view(v).substr(0, k), esc_)) return v.substr(k);
        }
        return v;
    }

    std::string trim_suffix(const std::string& pattern, const std::string& v, bool longest) const {
        for (size_t i = 0; i <= v.size(); ++i) {
            size_t k = longest ? i : v.size() - i;
            if (is_boundary(v, k) && glob_match(pattern, std::string_view(v).substr(k), esc_)) return v.substr(0, k);
        }
        return v;
    }

    // Leftmost, then longest match, like the shell.
    std::string replace(const std::string& pattern, const std::string& repl, const std::string& v, bool all) const {
        if (pattern.empty()) return v;
        std::string out;
        size_t i = 0;
        bool done = false;
        while (i <= v.size()) {
            bool found = false;
            if (!done && is_boundary(v, i)) {
                // Empty matches never count: `${V//x*/r}` must not insert r between characters.
                for (size_t j = v.size(); j > i; --j) {
                    if (is_boundary(v, j) && glob_match(pattern, std::string_view(v).substr(i, j - i), esc_)) {
                        out += repl;
                        found = true;
                        done = !all;
                        i = j;
                        break;
                    }
                }
            }
            if (!found) {
                if (i < v.size()) out += v[i];
                ++i;
            }
        }
        return out;
    }

    std::string_view src_;
    size_t pos_ = 0;
    const Env* env_;
    Options opt_;
    char esc_;
    bool raw_escapes_ = false;
    int depth_ = 0;
};

}  // namespace

std::string Expander::expand_word(std::string_view word, const Env& env) const {
    return Lexer(word, &env, Options{}, escape_).process("", false).text;
}

std::vector<std::string> Expander::expand_words(std::string_view text, const Env& env) const {
    return Lexer(text, &env, Options{}, escape_).process("", false).words;
}

std::string Expander::expand_raw(std::string_view text, const Env& env) const {
    Options opt;
    opt.skip_quotes = true;
    return Lexer(text, &env, opt, escape_).process("", false).text;
}

void Expander::check_syntax(std::string_view word) const {
    Options opt;
    opt.assume_set = true;
    (void)Lexer(word, nullptr, opt, escape_).process("", false);
}

std::vector<std::string> Expander::split_raw(std::string_view text) const {
    Options opt;
    opt.raw_quotes = true;
    opt.raw_escapes = true;
    // Like BuildKit, a line the lexer cannot split (an unbalanced quote) has no heredocs.
    try {
        return Lexer(text, nullptr, opt, escape_).process("", false).words;
    } catch (const ExpandError&) {
        return {};
    }
}

}  // namespace imgbuild::parser
