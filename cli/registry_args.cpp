#include "cli/registry_args.h"

#include "common/error.h"
#include "registry/manifest_select.h"

namespace imgbuild::cli {

void add_registry_args(CLI::App& cmd, RegistryArgs& a, unsigned which) {
    if (which & kTls)
        cmd.add_flag("--tls-verify", a.tls_verify,
                     "verify TLS certificates and require https (--tls-verify=false: neither)");
    if (which & kMirror)
        cmd.add_option("--registry-mirror", a.mirrors, "a mirror URL for docker.io images (repeatable)")
            ->allow_extra_args(false);
    if (which & kPlatform) cmd.add_option("--platform", a.platform, "os/arch[/variant] to pull (default: the host's)");
    if (which & kProgress) cmd.add_option("--progress", a.progress, "auto, plain, tty, json or quiet");
}

registry::RegistryOptions to_registry_options(const RegistryArgs& a) {
    registry::RegistryOptions o;
    o.tls_verify = a.tls_verify;
    o.mirrors = a.mirrors;
    for (const auto& m : o.mirrors)
        if (m.rfind("http://", 0) != 0 && m.rfind("https://", 0) != 0)
            throw UsageError("--registry-mirror " + m + ": want an http:// or https:// URL");
    if (!a.platform.empty()) (void)registry::parse_platform(a.platform);  // a usage error now, not after a download
    o.platform = a.platform;
    o.progress = a.progress;
    registry::add_registry_config_file(o);
    return o;
}

}  // namespace imgbuild::cli
