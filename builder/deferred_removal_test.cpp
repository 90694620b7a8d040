// DeferredRemoval (deferred_removal.h): the path is gone once wait() returns, one after
// another, and a removal still pending when it is destroyed is done first.
#include "builder/deferred_removal.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include "common/fs.h"
#include "runtime/overlay.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace fs = std::filesystem;

namespace {

// A marker as a volatile overlay leaves it: work/work/incompat/volatile, with a file inside.
fs::path make_marker(const fs::path& work) {
    fs::path marker = runtime::volatile_marker(work);
    make_dirs(marker);
    unique_fd f = open_or_throw(marker / "f", O_WRONLY | O_CREAT, 0644);
    write_all(f.get(), "x", marker / "f");
    return marker;
}

}  // namespace

TEST_CASE("DeferredRemoval: gone once wait() returns, one after another, the rest of the dir untouched") {
    TempDir dir(fs::temp_directory_path(), "imgbuild-deferred-removal");
    DeferredRemoval removal;
    removal.wait();  // nothing given yet: returns at once
    for (int i = 0; i < 50; ++i) {
        fs::path marker = make_marker(dir.path() / "w");
        removal.remove_later(marker);
        removal.wait();
        CHECK_FALSE(fs::exists(marker));
        CHECK(fs::is_directory(dir.path() / "w" / "work" / "incompat"));
    }
    // A second one given before the first was waited for: remove_later waits for the first.
    fs::path a = make_marker(dir.path() / "a"), b = make_marker(dir.path() / "b");
    removal.remove_later(a);
    removal.remove_later(b);
    CHECK_FALSE(fs::exists(a));
    removal.wait();
    CHECK_FALSE(fs::exists(b));
    // A missing path is no error.
    removal.remove_later(dir.path() / "missing");
    removal.wait();
}

TEST_CASE("DeferredRemoval: a removal pending at destruction is done before it returns") {
    TempDir dir(fs::temp_directory_path(), "imgbuild-deferred-removal");
    fs::path marker = make_marker(dir.path() / "w");
    {
        DeferredRemoval removal;
        removal.remove_later(marker);
    }
    CHECK_FALSE(fs::exists(marker));
}
