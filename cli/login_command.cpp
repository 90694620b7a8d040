// `imgbuild login [-u USER] [-p PASS | --password-stdin] [--tls-verify=false] [REGISTRY]` and
// `imgbuild logout [REGISTRY]`: Docker's config.json ($DOCKER_CONFIG), or its credential helper.
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "cli/registry_args.h"
#include "cli/verb.h"
#include "common/error.h"
#include "registry/login.h"

namespace imgbuild::cli {
namespace {

struct LoginArgs {
    RegistryArgs reg;
    std::string server, username, password;
    bool password_stdin = false;
};

std::string prompt(const std::string& text, bool secret) {
    std::cerr << text << std::flush;
    termios old{};
    bool tty = ::tcgetattr(0, &old) == 0;
    if (secret && tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(0, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (secret && tty) {
        ::tcsetattr(0, TCSANOW, &old);
        std::cerr << "\n";
    }
    return line;
}

VerbRegistration login_verb{"login", "Log in to a registry (stores the credentials as docker login does)", [](CLI::App& cmd, const GlobalOptions&) {
    auto a = std::make_shared<LoginArgs>();
    add_registry_args(cmd, a->reg, kTls);
    cmd.add_option("-u,--username", a->username, "user name");
    cmd.add_option("-p,--password", a->password, "password (prefer --password-stdin)");
    cmd.add_flag("--password-stdin", a->password_stdin, "read the password from stdin");
    cmd.add_option("server", a->server, "registry (default docker.io)");
    return [a] {
        std::string registry = registry::registry_of(a->server);
        if (a->password_stdin && !a->password.empty()) throw UsageError("login: --password and --password-stdin exclude each other");
        bool interactive = ::isatty(0);
        if (!a->password.empty()) std::cerr << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
        if (a->password_stdin) {
            if (a->username.empty()) throw UsageError("login --password-stdin: give the user name with -u");
            std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
            while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
            a->password = all;
        }
        if (a->username.empty()) {
            if (!interactive) throw UsageError("login " + registry + ": no user name: use -u USER (stdin is not a terminal)");
            a->username = prompt("Username: ", false);
        }
        if (a->password.empty()) {
            if (!interactive) throw UsageError("login " + registry + ": no password: use --password-stdin");
            a->password = prompt("Password: ", true);
        }
        if (a->username.empty() || a->password.empty()) throw UsageError("login " + registry + ": empty user name or password");
        auto opts = to_registry_options(a->reg);
        registry::Credentials creds{a->username, a->password};
        try {
            registry::check_credentials(registry, opts, creds);
        } catch (const Error& e) {
            throw Error("login " + registry + ": " + e.what());
        }
        std::string where = registry::store_credentials(opts.auth, registry, creds);
        std::cerr << "Credentials saved in " << where << "\n";
        std::cout << "Login Succeeded\n";
        return 0;
    };
}};

VerbRegistration logout_verb{"logout", "Log out from a registry (removes the stored credentials)", [](CLI::App& cmd, const GlobalOptions&) {
    auto server = std::make_shared<std::string>();
    cmd.add_option("server", *server, "registry (default docker.io)");
    return [server] {
        std::string registry = registry::registry_of(*server);
        auto where = registry::auth_locations_from_env();
        if (!registry::erase_credentials(where, registry)) {
            std::cerr << "Not logged in to " << registry << "\n";
            return 0;
        }
        std::cout << "Removing login credentials for " << registry << "\n";
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
