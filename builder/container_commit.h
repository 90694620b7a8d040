#pragma once
// `commit`: the container's upper dir becomes a new layer on top of its image's layers
// (whiteouts kept, DESIGN §4), with a new image config. The init files (/etc/hosts,
// /etc/hostname, /etc/resolv.conf) are bind mounts from containers/<id>/init and volumes are
// bind mounts too, so neither is in the upper dir; the directories the runtime created as
// their mount points are (as docker commits them). A running container is frozen while its
// upper dir is read (--pause=true, the default).
#include <string>
#include <vector>

#include "layerstore/containers.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

struct CommitOptions {
    std::string message, author;
    std::vector<std::string> changes;   // Dockerfile instructions: CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, ...
    bool pause = true;
};

[[nodiscard]] layerstore::Image commit_container(layerstore::Store& store, const std::string& id, const CommitOptions& options);

}  // namespace imgbuild::builder
