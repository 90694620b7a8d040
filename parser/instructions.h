#pragma once
// Layer 3: typed instructions. One struct per instruction kind, held in a std::variant.
// Arguments are kept *unexpanded* (as written, quotes included) so that the builder can expand
// them at the point of execution, when the ENV/ARG values and the base image's env are known;
// resolve_stage() (dockerfile.h) does that expansion with Docker's scoping rules.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parser/errors.h"

namespace imgbuild::parser {

// Where an instruction came from: its lines (heredoc bodies included) and its text.
struct SourceRange {
    int start_line = 0;
    int end_line = 0;
    int column = 0;  // of the instruction keyword
};

struct Heredoc {
    std::string name;    // the delimiter ("EOF"); for COPY/ADD also the source file's name
    std::string body;    // the lines between marker and delimiter, newlines kept (tabs stripped for <<-)
    bool expand = true;  // false when the delimiter was quoted: the body is taken literally
    bool chomp = false;  // written as <<-
    int fd = -1;         // 3<<EOF; -1 when not given
};

// RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD: exec form (argv, no shell) or shell form.
struct Command {
    bool is_json = false;
    std::vector<std::string> argv;  // exec form
    std::string shell;              // shell form: the command line given to SHELL (default sh -c)
};

struct KeyValue {
    std::string key;
    std::string value;
    bool operator==(const KeyValue&) const = default;
};

// One --mount of RUN. Values are unexpanded in the parse result, expanded after resolve.
struct Mount {
    std::string type = "bind";  // bind, cache, tmpfs, secret, ssh
    std::string target;
    std::string source;
    std::string from;           // a stage (name or index) or an image
    bool readonly = false;      // bind mounts default to read-only, as in Docker
    std::string id;
    std::string sharing;        // cache: shared, private, locked
    std::string mode;           // octal, for cache/secret/ssh
    std::string uid;
    std::string gid;
    bool required = false;      // secret/ssh
    std::string size;           // tmpfs
    std::string env;            // secret exposed as an environment variable
    std::string spec;           // the --mount value as written
};

struct From {
    std::string image;       // image reference or stage name, unexpanded
    std::string stage_name;  // AS name, lowercased; "" when not named
    std::string platform;    // --platform, unexpanded
};

struct Run {
    Command command;
    std::vector<Mount> mounts;
    std::string network;   // "", default, none, host
    std::string security;  // "", sandbox, insecure
    std::vector<Heredoc> heredocs;
    // `RUN <<EOF ... EOF`: the command is exactly one heredoc, whose body is the script
    // (run with the shell, or as a file when it starts with #!).
    bool heredoc_script = false;
    // The command with its heredocs written out after it, for a shell that reads them:
    // "cat <<EOF >x\nhello\nEOF\n". Same as command.shell when there are none.
    [[nodiscard]] std::string shell_with_heredocs() const;
};

struct Cmd {
    Command command;
};

struct Entrypoint {
    Command command;
};

struct EnvInstr {
    std::vector<KeyValue> pairs;
};

struct ArgDecl {
    std::string key;
    std::optional<std::string> value;  // the default, unexpanded
};

struct ArgInstr {
    std::vector<ArgDecl> args;
};

struct Label {
    std::vector<KeyValue> pairs;
};

struct Expose {
    std::vector<std::string> ports;  // as written: "80", "8080/tcp", "7000-7010/udp", "$PORT"
};

struct Workdir {
    std::string path;
};

// COPY and ADD share a shape; `is_add` tells them apart.
struct Copy {
    bool is_add = false;
    std::vector<std::string> sources;  // paths, globs or (ADD) URLs; heredoc sources are in heredocs
    std::string dest;
    std::string chown;
    std::string chmod;
    std::string from;      // COPY --from: stage name, stage index or image
    bool link = false;
    std::string checksum;  // ADD --checksum
    bool keep_git_dir = false;
    bool parents = false;  // COPY --parents
    std::vector<std::string> excludes;
    std::vector<Heredoc> heredocs;  // COPY <<EOF /dest: file contents, named by the delimiter
    bool is_json = false;
};

struct User {
    std::string user;  // "name", "uid", "name:group"
};

struct Volume {
    std::vector<std::string> paths;
    bool is_json = false;
};

struct Shell {
    std::vector<std::string> argv;
};

struct StopSignal {
    std::string signal;
};

struct Healthcheck {
    // Docker's Test field: {"NONE"}, {"CMD", argv...} or {"CMD-SHELL", command}.
    std::vector<std::string> test;
    int64_t interval_ns = 0;  // 0: Docker's default
    int64_t timeout_ns = 0;
    int64_t start_period_ns = 0;
    int64_t start_interval_ns = 0;
    int retries = 0;
};

struct Onbuild {
    std::string trigger;  // the instruction to run in a child build, as written ("RUN make")
};

struct Maintainer {
    std::string name;
};

using InstructionBody = std::variant<From, Run, Cmd, Entrypoint, EnvInstr, ArgInstr, Label, Expose, Workdir, Copy,
                                     User, Volume, Shell, StopSignal, Healthcheck, Onbuild, Maintainer>;

struct Instruction {
    std::string keyword;    // "RUN" (uppercase)
    SourceRange location;
    std::string original;   // the logical line as written, continuations joined
    std::vector<std::string> flags;  // as written ("--from=build")
    InstructionBody body;

    template <typename T>
    [[nodiscard]] const T* as() const {
        return std::get_if<T>(&body);
    }
    template <typename T>
    [[nodiscard]] T* as() {
        return std::get_if<T>(&body);
    }
};

// The instruction names Docker knows, uppercase.
[[nodiscard]] const std::vector<std::string>& instruction_names();

// Go duration syntax ("1m30s", "500ms", "0"). Throws Error with a plain message on bad input.
[[nodiscard]] int64_t parse_duration_ns(std::string_view text);

// A --mount value ("type=cache,target=/root/.cache"). Throws Error with a plain message.
[[nodiscard]] Mount parse_mount(std::string_view spec);

}  // namespace imgbuild::parser

namespace imgbuild::parser {
// EXPOSE's port forms: "80", "80/tcp", "8000-8010/udp" (tcp, udp or sctp).
[[nodiscard]] bool is_valid_port_spec(std::string_view spec);
}  // namespace imgbuild::parser
