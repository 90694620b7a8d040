#pragma once
// .dockerignore: which paths of a build context a COPY/ADD may see. Same rules as Docker
// (moby/patternmatcher + moby/buildkit/frontend/dockerfile/dockerignore):
//   - one pattern a line; a line starting with '#' is a comment; blank lines are skipped;
//     surrounding whitespace is trimmed; a leading '!' makes an exception (re-include);
//   - patterns are cleaned (filepath.Clean: "a//b/" -> "a/b", "./a" -> "a") and a leading
//     "/" is dropped: patterns are always relative to the context root;
//   - '*' matches any run of non-'/' characters, '?' one non-'/' character, '[...]' a
//     class ('^' negates, ranges a-z), '\' escapes the next character, "**" any number of
//     directories (also none): "**/*.go" matches "a.go" and "x/y/a.go";
//   - a pattern that matches a parent directory matches everything below it;
//   - the LAST pattern that matches a path decides (exclusion or exception).
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::builder {

class IgnoreMatcher {
public:
    // Matches nothing: every path is included.
    IgnoreMatcher() = default;
    // Parses .dockerignore text. Throws UsageError naming the line for a malformed
    // pattern ("[a-" or a lone "!").
    static IgnoreMatcher from_text(std::string_view text);
    // Reads context_dir/.dockerignore; a context without one ignores nothing.
    static IgnoreMatcher from_context(const std::filesystem::path& context_dir);
    // Patterns given one by one, as moby/patternmatcher.New takes them (COPY --exclude,
    // --parents): no comments; blank ones skipped. `what` prefixes errors ("COPY --exclude").
    static IgnoreMatcher from_patterns(const std::vector<std::string>& patterns, const std::string& what);

    // Whether `relative_path` (relative to the context root, '/'-separated; a leading "/"
    // or "./" is tolerated) is excluded. The root itself is never excluded.
    [[nodiscard]] bool excluded(std::string_view relative_path) const;

    // False only when the directory is excluded and no exception pattern could re-include
    // anything below it: a walk may then skip the whole directory without reading it.
    [[nodiscard]] bool may_include_below(std::string_view relative_dir) const;

    // Whether a pattern (not an exception) could match a path strictly below `relative_dir`
    // (a pattern matching the dir itself matches what is below it too: ask excluded() first).
    [[nodiscard]] bool may_match_below(std::string_view relative_dir) const;

    [[nodiscard]] bool empty() const { return patterns_.empty(); }
    [[nodiscard]] bool has_exceptions() const { return has_exceptions_; }
    // The cleaned patterns, exceptions with their '!' (for cache keys and messages).
    [[nodiscard]] std::vector<std::string> patterns() const;

    struct Token;
    struct Pattern {
        std::string text;  // cleaned, without '!'
        bool exception = false;
        std::vector<Token> tokens;
        bool literal = false;  // no wildcard at all: plain string compare
    };

private:
    void add(Pattern p);
    std::vector<Pattern> patterns_;
    bool has_exceptions_ = false;
};

struct IgnoreMatcher::Token {
    enum Kind : unsigned char { literal, star, question, class_, any_dirs, any_tail };
    Kind kind = literal;
    char ch = 0;
    bool negated = false;
    std::vector<std::pair<unsigned char, unsigned char>> ranges;  // for class_
};

// Go's path.Clean on a '/'-separated path: "" -> ".", "a//b/./c/.." -> "a/b".
[[nodiscard]] std::string clean_slash_path(std::string_view path);

// Go's filepath.Match for one path: '*' and '?' never match '/', '[...]' classes, '\'
// escapes. nullopt when the pattern is malformed (ErrBadPattern).
[[nodiscard]] std::optional<bool> go_path_match(std::string_view pattern, std::string_view name);

// Whether `pattern` contains an unescaped '*', '?' or '[' (Docker's containsWildcards).
[[nodiscard]] bool contains_wildcards(std::string_view pattern);

}  // namespace imgbuild::builder
