#pragma once
// The cheap check of a layer's stored blob before a new manifest references it (a base
// layer's blob passes through untouched): its size and a stamp of the file (inode and ctime)
// taken when its digest was last verified, kept per layer in layers/<id>/blob_stamps.json.
// Any write, chmod or utimes moves a file's ctime to "now", and ctime cannot be set back
// (`touch -r` restores the mtime only), so a blob changed in place never matches its stamp:
// then it is hashed, and referenced only when its digest still matches (the stamp is
// renewed). A blob without a stamp (recorded before stamps existed) is hashed once.
#include "layerstore/store.h"

namespace imgbuild::layerstore {

// Whether `blob`, listed by `layer`, is present with its recorded size and digest. A damaged
// one is reported (log::warn, naming it) and false.
[[nodiscard]] bool stored_blob_intact(const Store& store, const LayerInfo& layer, const oci::Descriptor& blob);

}  // namespace imgbuild::layerstore
