// libFuzzer target: extract arbitrary bytes as a layer into a fresh temp dir. Any
// imgbuild::Error is a fine answer; a crash, a sanitizer report, or a file appearing next
// to the target dir (outside it) is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "common/error.h"
#include "common/fs.h"
#include "oci/layer_tar.h"

namespace {
namespace stdfs = std::filesystem;

// <sandbox>/target is extracted into; <sandbox> must hold nothing else afterwards. The
// sandbox goes away when the fuzzer exits.
const stdfs::path& sandbox() {
    static const imgbuild::TempDir dir(stdfs::temp_directory_path(), "layer-fuzz");
    return dir.path();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const stdfs::path target = sandbox() / "target";
    std::error_code ec;
    stdfs::remove_all(target, ec);
    stdfs::create_directories(target);
    imgbuild::unique_fd fd(::memfd_create("fuzz-layer", MFD_CLOEXEC));
    if (!fd) return 0;
    imgbuild::write_all(fd.get(), std::string_view(reinterpret_cast<const char*>(data), size), "memfd");
    ::lseek(fd.get(), 0, SEEK_SET);
    // The last byte picks the options: a layer, or ADD's (no whiteouts, symlinks in the
    // target followed inside it, owner and mode overrides). Both must stay inside target.
    imgbuild::oci::ExtractOptions opts;
    if (size > 0 && (data[size - 1] & 1)) {
        opts.whiteouts = false;
        opts.follow_symlinks_in_target = true;
        opts.apply_root_entry = false;
        opts.uid = 1000;
        opts.gid = 1000;
        opts.perm = 0644;
    }
    opts.limits.ratio_from = 64u << 20;  // keep bombs cheap for the fuzzer
    try {
        (void)imgbuild::oci::extract_layer_tar(fd.get(), target, opts);
    } catch (const imgbuild::Error&) {
    }
    for (const auto& e : stdfs::directory_iterator(sandbox()))
        if (e.path() != target) std::abort();  // something escaped the target dir
    return 0;
}
