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
#include <filesystem>

namespace imgbuild::layerstore {

class Store;

void remove_tree_in_background(const Store& store, const std::filesystem::path& doomed);

}  // namespace imgbuild::layerstore
