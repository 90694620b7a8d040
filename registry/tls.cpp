#include "registry/tls.h"

#include <algorithm>
#include <cstdlib>

#include "common/fs.h"
#include "common/strings.h"

namespace imgbuild::registry {

namespace fs = std::filesystem;

std::vector<fs::path> certs_dirs() {
    std::vector<fs::path> out;
    const char* env = std::getenv("IMGBUILD_CERTS_DIRS");
    std::string list = env ? env : "/etc/containers/certs.d:/etc/docker/certs.d";
    for (std::string_view part : split(list, ':'))
        if (!part.empty()) out.emplace_back(part);
    return out;
}

namespace {

const char* const kSystemBundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"};

std::vector<fs::path> sorted_entries(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TlsSettings tls_settings_for(const std::string& authority, bool verify) {
    TlsSettings t;
    t.verify = verify;
    std::string extra;
    for (const auto& base : certs_dirs()) {
        // certs.d names a dir by host:port; a bare host name also matches its default port.
        for (const auto& f : sorted_entries(base / authority)) {
            std::string ext = f.extension().string();
            if (ext == ".crt") {
                extra += read_file(f) + "\n";
                t.sources.push_back(f.string());
            } else if (ext == ".cert" && t.client_cert.empty()) {
                fs::path key = f;
                key.replace_extension(".key");
                if (fs::exists(key)) {
                    t.client_cert = f.string();
                    t.client_key = key.string();
                    t.sources.push_back(f.string());
                }
            }
        }
    }
    if (!extra.empty()) {
        for (const char* bundle : kSystemBundles) {
            std::error_code ec;
            if (fs::exists(bundle, ec)) {
                t.ca_pem = read_file(bundle) + "\n";
                break;
            }
        }
        t.ca_pem += extra;
    }
    return t;
}

}  // namespace imgbuild::registry
