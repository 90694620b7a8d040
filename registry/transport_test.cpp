#include <doctest/doctest.h>

#include "registry/login.h"
#include "registry/transport.h"

using namespace imgbuild::registry;

TEST_CASE("url authorities make the default port explicit (the host a credential belongs to)") {
    CHECK(url_authority("https://registry-1.docker.io/v2/") == "registry-1.docker.io:443");
    CHECK(url_authority("http://127.0.0.1:5000/v2/app/blobs/x?y=1") == "127.0.0.1:5000");
    CHECK(url_authority("http://Example.COM/path") == "example.com:80");
    CHECK(url_authority("https://user:pw@host:8443/x") == "host:8443");
    CHECK(url_authority("http://[::1]:5000/v2/") == "[::1]:5000");
    CHECK(url_authority("https://[::1]/v2/") == "[::1]:443");
    // A redirect to the same host on another port, or to another host, is another authority.
    CHECK(url_authority("http://127.0.0.1:5000/a") != url_authority("http://127.0.0.1:5001/a"));
    CHECK(url_authority("https://host/a") != url_authority("http://host/a"));
}

TEST_CASE("query escaping and status lines") {
    CHECK(url_escape("sha256:abc") == "sha256%3Aabc");
    CHECK(url_escape("repository:a/b:pull,push") == "repository%3Aa%2Fb%3Apull%2Cpush");
    CHECK(url_escape("A-z_0.~") == "A-z_0.~");
    CHECK(status_text(401) == "401 Unauthorized");
    CHECK(status_text(429) == "429 Too Many Requests");
    CHECK(status_text(599) == "HTTP 599");
}

TEST_CASE("login servers in their spellings") {
    CHECK(registry_of("") == "docker.io");
    CHECK(registry_of("https://index.docker.io/v1/") == "docker.io");
    CHECK(registry_of("127.0.0.1:5000") == "127.0.0.1:5000");
    CHECK(registry_of("https://quay.io/") == "quay.io");
}
