// `imgbuild commit [-m MSG] [-a AUTHOR] [-c INSTR]... [--pause=true] C [IMAGE[:TAG]]` and
// `imgbuild diff C` (builder/container_commit.h, container_fs.h).
#include <iostream>

#include "builder/container_commit.h"
#include "builder/container_fs.h"
#include "cli/store_access.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {

struct CommitArgs {
    std::string container, image;
    builder::CommitOptions options;
    std::string pause = "true";
};

VerbRegistration commit_verb{"commit", "Make an image from a container's changes", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<CommitArgs>();
    cmd.add_option("container", a->container, "container")->required();
    cmd.add_option("image", a->image, "NAME[:TAG] for the new image");
    cmd.add_option("-m,--message", a->options.message, "commit message");
    cmd.add_option("-a,--author", a->options.author, "author");
    cmd.add_option("-c,--change", a->options.changes, "Dockerfile instruction to apply (CMD, ENV, LABEL, ...)")
        ->allow_extra_args(false);
    cmd.add_option("-p,--pause", a->pause, "freeze the container while committing (default true)");
    return [a, &g] {
        if (a->pause != "true" && a->pause != "false") throw UsageError("--pause must be true or false");
        a->options.pause = a->pause == "true";
        auto store = open_store(g);
        std::string id = layerstore::Containers(*store).resolve(a->container);
        std::string name = a->image.empty() ? "" : layerstore::normalize_new_tag(a->image);  // before the commit
        auto image = builder::commit_container(*store, id, a->options);
        if (!name.empty()) store->tag(name, image.manifest_digest);
        else store->keep_untagged(image.manifest_digest);
        std::cout << image.config_digest.str() << "\n";
        return 0;
    };
}};

VerbRegistration diff_verb{"diff", "List the files a container changed (A added, C changed, D deleted)",
                           [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<CommitArgs>();
    cmd.add_option("container", a->container, "container")->required();
    return [a, &g] {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        auto c = containers.config(containers.resolve(a->container));
        for (const auto& line : builder::container_changes(*store, c)) std::cout << line << "\n";
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
