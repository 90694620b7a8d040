// The stamp walk of layer_stamp.h: one lstat per entry, bounded memory (fts keeps one
// directory level open at a time).
#include "layerstore/layer_stamp.h"

#include <fts.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "common/error.h"

namespace imgbuild::layerstore {

void add_to_stamp(DirStamp& s, const struct stat& st) {
    ++s.entries;
    if (S_ISREG(st.st_mode)) s.bytes += static_cast<uint64_t>(st.st_size);
    int64_t ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    if (ctime_ns > s.newest_ctime_ns) s.newest_ctime_ns = ctime_ns;
}

DirStamp stamp_dir(const std::filesystem::path& dir) {
    std::string root = dir.string();
    char* paths[] = {root.data(), nullptr};
    FTS* fts = ::fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, nullptr);
    if (!fts) throw_errno("walk", root);
    DirStamp s;
    int failed_errno = 0;
    std::string failed_path;
    for (;;) {
        errno = 0;
        FTSENT* e = ::fts_read(fts);
        if (!e) {
            if (errno != 0) failed_errno = errno, failed_path = root;
            break;
        }
        if (e->fts_info == FTS_DP) continue;  // a directory again, on the way out
        if (e->fts_info == FTS_ERR || e->fts_info == FTS_DNR || e->fts_info == FTS_NS) {
            failed_errno = e->fts_errno;
            failed_path = e->fts_path;
            break;
        }
        add_to_stamp(s, *e->fts_statp);
    }
    ::fts_close(fts);
    if (failed_errno) throw_errno(failed_errno, "walk", failed_path);
    return s;
}

nlohmann::json stamp_to_json(const DirStamp& s) {
    return {{"entries", s.entries}, {"bytes", s.bytes}, {"newest_ctime_ns", s.newest_ctime_ns}};
}

DirStamp stamp_from_json(const nlohmann::json& j) {
    DirStamp s;
    s.entries = j.at("entries").get<uint64_t>();
    s.bytes = j.at("bytes").get<uint64_t>();
    s.newest_ctime_ns = j.at("newest_ctime_ns").get<int64_t>();
    return s;
}

}  // namespace imgbuild::layerstore
