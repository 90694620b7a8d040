#pragma once
// TLS settings per registry host: the system CAs, plus the CAs and client certificates of
// certs.d (/etc/containers/certs.d/<host:port>/ and /etc/docker/certs.d/<host:port>/, as
// podman and Docker read them): *.crt are CAs, a *.cert with the *.key of the same stem is a
// client certificate.
#include <filesystem>
#include <string>
#include <vector>

namespace imgbuild::registry {

struct TlsSettings {
    bool verify = true;
    std::string ca_pem;          // system bundle + certs.d CAs; empty: curl's defaults
    std::string client_cert;     // path, empty for none
    std::string client_key;
    std::vector<std::string> sources;  // the certs.d files used (for error messages)
};

// The certs.d base directories: $IMGBUILD_CERTS_DIRS (colon-separated) or the two defaults.
[[nodiscard]] std::vector<std::filesystem::path> certs_dirs();

// Settings for `authority` ("host:port" or "host"); `verify` false turns verification off.
[[nodiscard]] TlsSettings tls_settings_for(const std::string& authority, bool verify);

}  // namespace imgbuild::registry
