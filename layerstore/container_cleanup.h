#pragma once
// Removes containers/<id> of `run --rm` containers whose owner died (killed) and nothing of
// which still runs, half-created records, and the empty cgroup dirs of dead containers.
// Called by Store's constructor when it holds the store alone. Returns how many records went.
#include <cstddef>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

size_t clean_abandoned_containers(const Store& store);

}  // namespace imgbuild::layerstore
