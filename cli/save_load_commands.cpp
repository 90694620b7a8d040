// `imgbuild save [-o F] [--format oci|docker] IMAGE...` and `imgbuild load [-i F]`.
#include <unistd.h>

#include <iostream>

#include "cli/store_access.h"
#include "common/error.h"
#include "layerstore/archives.h"

namespace imgbuild::cli {
namespace {

struct SaveArgs {
    std::vector<std::string> images;
    std::string output, format = "oci", compression = "gzip";
};

VerbRegistration save_verb{"save", "Write images to an archive (OCI layout or docker-archive)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<SaveArgs>();
    cmd.add_option("images", a->images, "images")->required();
    cmd.add_option("-o,--output", a->output, "archive file (default stdout)");
    cmd.add_option("--format", a->format, "oci or docker");
    cmd.add_option("--compression", a->compression, "layer compression for oci: gzip, zstd or none");
    return [a, &g] {
        layerstore::SaveOptions opts{layerstore::parse_archive_format(a->format), oci::parse_compression(a->compression)};
        if ((a->output.empty() || a->output == "-") && ::isatty(1))
            throw UsageError("save: refusing to write an archive to a terminal: use -o FILE or redirect stdout");
        auto store = open_store(g);
        for (const auto& ref : a->images) (void)store->resolve_image(ref);  // fail before creating the file
        // Write next to the target and rename at the end: a failed save leaves no half archive.
        if (a->output.empty() || a->output == "-") {
            layerstore::save_images(*store, a->images, 1, opts);
            return 0;
        }
        // Appears at -o only when complete: a killed save leaves no half archive behind.
        OutputFile out(a->output);
        layerstore::save_images(*store, a->images, out.fd(), opts);
        out.commit();
        return 0;
    };
}};

VerbRegistration load_verb{"load", "Load images from an archive", [](CLI::App& cmd, const GlobalOptions& g) {
    auto input = std::make_shared<std::string>();
    cmd.add_option("-i,--input", *input, "archive file (default stdin)");
    return [input, &g] {
        auto store = open_store(g);
        unique_fd holder;
        int fd = open_input(*input, holder);
        auto loaded = layerstore::load_images(*store, fd, input->empty() || *input == "-" ? "stdin" : *input);
        for (const auto& img : loaded) {
            if (img.names.empty()) std::cout << "Loaded image ID: " << img.config_digest.str() << "\n";
            for (const auto& n : img.names) std::cout << "Loaded image: " << n << "\n";
        }
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
