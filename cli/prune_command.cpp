// `imgbuild prune [-a] [-f] [--filter until=...]` (docker's `system prune`), `image prune
// [-a]`, `builder prune [-a]`, `system df` and `system prune`. imgbuild never asks for
// confirmation: -f is accepted for docker's scripts and changes nothing.
#include <ctime>
#include <iostream>

#include "cli/store_access.h"
#include "common/error.h"
#include "common/time.h"
#include "layerstore/cache_mounts.h"
#include "layerstore/gc.h"

namespace imgbuild::cli {
namespace {

struct PruneArgs {
    bool all = false, force = false;
    std::vector<std::string> filters;
};

// A Go duration as docker takes it ("24h", "1h30m", "90s", "500ms"); nullopt otherwise.
std::optional<double> parse_duration_seconds(const std::string& text) {
    struct Unit {
        const char* name;
        double seconds;
    };
    static const Unit units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
    double total = 0;
    size_t pos = 0;
    if (text.empty()) return std::nullopt;
    while (pos < text.size()) {
        size_t used = 0;
        double n = 0;
        try {
            n = std::stod(text.substr(pos), &used);
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (used == 0 || n < 0) return std::nullopt;
        pos += used;
        const Unit* found = nullptr;
        for (const auto& u : units) {
            size_t len = std::char_traits<char>::length(u.name);
            // Longest match first matters only for "ms" vs "m": try the two-letter names first.
            if (text.compare(pos, len, u.name) == 0 && (!found || len > std::char_traits<char>::length(found->name)))
                found = &u;
        }
        if (!found) return std::nullopt;
        pos += std::char_traits<char>::length(found->name);
        total += n * found->seconds;
    }
    return total;
}

// until=<duration ago> | <RFC 3339 time> | <unix seconds>, as docker's --filter until.
std::optional<int64_t> parse_until(const std::vector<std::string>& filters) {
    std::optional<int64_t> until;
    for (const auto& f : filters) {
        auto eq = f.find('=');
        std::string key = f.substr(0, eq), value = eq == std::string::npos ? "" : f.substr(eq + 1);
        if (key != "until") throw UsageError("--filter " + f + ": only until=DURATION|TIMESTAMP is supported");
        if (auto d = parse_duration_seconds(value)) until = static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(*d);
        else if (auto t = parse_rfc3339(value)) until = *t;
        else if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) until = std::stoll(value);
        else throw UsageError("--filter " + f + ": not a duration (24h) or a timestamp (2006-01-02T15:04:05Z, unix seconds)");
    }
    return until;
}

void add_prune_options(CLI::App& cmd, PruneArgs& a, const char* all_help) {
    cmd.add_flag("-a,--all", a.all, all_help);
    cmd.add_flag("-f,--force", a.force, "do not ask for confirmation (imgbuild never asks)");
    cmd.add_option("--filter", a.filters, "until=DURATION|TIMESTAMP: only what was created before")->allow_extra_args(false);
}

// `cache_mounts`: also remove RUN --mount=type=cache dirs no build is using (builder prune,
// prune -a; see docs/run-mounts.md for why plain prune keeps them).
int run_prune(const GlobalOptions& g, layerstore::PruneOptions opts, const PruneArgs& a, bool cache_mounts = false) {
    opts.until = parse_until(a.filters);
    auto store = open_store(g);
    auto r = layerstore::prune(*store, opts);
    if (cache_mounts) {
        auto c = layerstore::prune_cache_mounts(*store, opts.until);
        if (c.removed) std::cout << "Deleted cache mounts: " << c.removed << "\n";
        r.reclaimed += c.reclaimed;
    }
    if (!r.untagged.empty() || !r.deleted.empty()) {
        std::cout << "Deleted Images:\n";
        for (const auto& n : r.untagged) std::cout << "untagged: " << n << "\n";
        for (const auto& d : r.deleted) std::cout << "deleted: " << d << "\n";
        std::cout << "\n";
    }
    if (r.cache_entries) std::cout << "Deleted build cache entries: " << r.cache_entries << "\n";
    std::cout << "Deleted " << r.layers << " layers, " << r.blobs << " blobs";
    if (r.stale_leases) std::cout << ", " << r.stale_leases << " stale leases";
    std::cout << "\nTotal reclaimed space: " << human_size(r.reclaimed) << "\n";
    return 0;
}

std::string row(const char* type, const layerstore::UsageRow& r, bool with_active) {
    char buf[160];
    std::string reclaim = human_size(r.reclaimable);
    if (r.size) reclaim += " (" + std::to_string(r.reclaimable * 100 / r.size) + "%)";
    std::snprintf(buf, sizeof buf, "%-16s%-10zu%-10s%-10s%s\n", type, r.total,
                  with_active ? std::to_string(r.active).c_str() : "0", human_size(r.size).c_str(), reclaim.c_str());
    return buf;
}

int run_df(const GlobalOptions& g) {
    auto store = open_store(g);
    auto u = layerstore::disk_usage(*store);
    std::printf("%-16s%-10s%-10s%-10s%s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
    std::cout << row("Images", u.images, true) << row("Build Cache", u.build_cache, false)
              << row("Unreferenced", u.unreferenced, false);
    layerstore::UsageRow mounts;
    for (const auto& m : layerstore::list_cache_mounts(*store)) {
        ++mounts.total;
        mounts.active += m.in_use ? 1 : 0;
        mounts.size += m.size;
        if (!m.in_use) mounts.reclaimable += m.size;
    }
    std::cout << row("Cache Mounts", mounts, true);
    return 0;
}

layerstore::PruneOptions system_prune(bool all) {
    return {all ? layerstore::ImagePrune::unused : layerstore::ImagePrune::dangling, true, std::nullopt};
}

VerbRegistration prune_verb{"prune", "Remove dangling images, build cache and unreferenced data (-a: all unused images)",
                            [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PruneArgs>();
    add_prune_options(cmd, *a, "remove every image no container uses, not only untagged ones");
    return [a, &g] { return run_prune(g, system_prune(a->all), *a, a->all); };
}};

VerbRegistration system_verb{"system", "Store-wide commands (df, prune)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PruneArgs>();
    cmd.require_subcommand(1);
    auto* df = cmd.add_subcommand("df", "Show what takes space in the store and what prune would free");
    auto* prune = cmd.add_subcommand("prune", "As `imgbuild prune`");
    add_prune_options(*prune, *a, "remove every image no container uses, not only untagged ones");
    for (auto* sub : {df, prune}) sub->fallthrough();
    return [a, &g, df] { return df->parsed() ? run_df(g) : run_prune(g, system_prune(a->all), *a, a->all); };
}};

VerbRegistration image_verb{"image", "Image commands (prune)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PruneArgs>();
    cmd.require_subcommand(1);
    auto* prune = cmd.add_subcommand("prune", "Remove untagged images (-a: every image no container uses)");
    add_prune_options(*prune, *a, "remove every image no container uses, not only untagged ones");
    prune->fallthrough();
    return [a, &g] {
        return run_prune(g, {a->all ? layerstore::ImagePrune::unused : layerstore::ImagePrune::dangling, false, std::nullopt},
                         *a);
    };
}};

VerbRegistration builder_verb{"builder", "Build cache commands (prune)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PruneArgs>();
    cmd.require_subcommand(1);
    auto* prune = cmd.add_subcommand("prune", "Remove the build cache and the RUN --mount=type=cache dirs");
    add_prune_options(*prune, *a, "accepted for docker: the whole build cache is removed either way");
    prune->fallthrough();
    return [a, &g] { return run_prune(g, {layerstore::ImagePrune::none, true, std::nullopt}, *a, true); };
}};

}  // namespace
}  // namespace imgbuild::cli
