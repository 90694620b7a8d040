#pragma once
// Removing a tree that is already out of sight (renamed into the store's tmp/) off the
// critical path: `run --rm` reports the container's exit status without waiting for its
// upper dir and record to be deleted.
//
// Contract: `doomed` is an entry of store.tmp_dir() that nobody else uses, and the caller
// exits soon after (the remover is its child, a zombie if it ends first, until then: it is
// not waited for). A detached process (its own session, stdio on /dev/null, no fd of this
// process but the store lock) deletes it and exits. It holds the store lock (shared) until it is done, so no
// store open empties tmp/ under it (store.h: tmp/ is cleaned only by an opener that gets
// the lock exclusively). Killed halfway, it leaves part of `doomed` in tmp/, which the
// next such open removes. When no process can be made, the tree is removed here.
//
// `mount_ns`, when given, is the ended container's mount namespace (runtime's
// ContainerSpec::keep_mount_namespace), still holding its overlay of `doomed`'s upper dir and
// its other mounts: the remover's close of it is the last one, so their unmount is paid there,
// before the tree goes, not by the caller. (This process closes its copy first, then a pipe's
// write end that the remover waits for.)
#include <filesystem>

#include "common/unique_fd.h"

namespace imgbuild::layerstore {

class Store;

void remove_tree_in_background(const Store& store, const std::filesystem::path& doomed, unique_fd mount_ns = {});

}  // namespace imgbuild::layerstore
