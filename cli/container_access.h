#pragma once
// Small helpers shared by the container verbs.
#include <iostream>
#include <string>

#include "cli/store_access.h"
#include "layerstore/containers.h"

namespace imgbuild::cli {

// Runs `f(store, containers, id)` for each ref; an error is printed and the others go on
// (docker's stop/rm/kill of several containers). Returns 0, or 1 when any failed.
template <typename F>
int for_each_container(const GlobalOptions& g, const std::vector<std::string>& refs, F f) {
    auto store = open_store(g);
    layerstore::Containers containers(*store);
    int rc = 0;
    for (const auto& ref : refs) {
        try {
            std::string id = containers.resolve(ref);
            f(*store, containers, id);
            std::cout << ref << "\n";
        } catch (const std::exception& e) {
            std::cerr << "imgbuild: " << e.what() << "\n";
            rc = 1;
        }
    }
    return rc;
}

}  // namespace imgbuild::cli
